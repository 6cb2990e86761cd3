"""Fetch TLC files once, safely: cached, streamed to a .part file, checked, renamed atomically.

A file already under its final name is never fetched again nor replaced: if it is broken,
the error names it and says to delete it. Every failure raises DownloadError (exit code 2).
"""

from __future__ import annotations

import http.client
import os
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

from ..config import VERSION
from ..config import base_url as default_base_url
from ..errors import DataError, UnreadableFile
from ..files import file_lock, remove_stale_temps
from ..uris import check_base_url
from .manifest import MANIFEST_FILE, ZONES_FILE, record_download
from .months import check_taxi, file_name, missing_file_hint, month_path, parse_month
from .reading import check_month_of_file, validate_month_file
from .zones import validate_zones_file

__all__ = ["MANIFEST_FILE", "ZONES_FILE", "DownloadError", "ensure_month", "ensure_months"]

RETRIES = 3
TIMEOUT_SECONDS = 60
BACKOFF_ENV = "RIDE_DURATION_RETRY_BACKOFF"
CHUNK = 1 << 16
SPEED_LIMIT = 1024  # bytes per second, averaged over SPEED_TIME: below it a download stalls
SPEED_TIME = 60.0
SPEED_TIME_ENV = "RIDE_DURATION_SPEED_TIME"
DEADLINE_SECONDS = 3600.0  # for one file, all tries included
DEADLINE_ENV = "RIDE_DURATION_DOWNLOAD_DEADLINE"


class DownloadError(DataError):
    """A file could not be fetched or what arrived is unusable."""


class _Retryable(Exception):
    """A transient failure: connection dropped, short body, 5xx."""


def month_url(taxi: str, month: str, base: str | None = None) -> str:
    return f"{check_base_url(base or default_base_url())}/trip-data/{file_name(taxi, month)}"


def zones_url(base: str | None = None) -> str:
    return f"{check_base_url(base or default_base_url())}/misc/{ZONES_FILE}"


def _backoff(attempt: int) -> float:
    base = float(os.environ.get(BACKOFF_ENV, "1.0"))
    return base * 2**attempt


def _progress(total: int | None, name: str, quiet: bool):
    from tqdm import tqdm

    return tqdm(
        total=total,
        desc=name,
        unit="B",
        unit_scale=True,
        unit_divisor=1024,
        leave=False,
        disable=quiet or not sys.stderr.isatty(),
    )


class _Pace:
    """Abandons a transfer that stalls (under ``SPEED_LIMIT`` bytes/s over a window of
    ``speed_time`` seconds, as curl's --speed-limit/--speed-time) or outlives its deadline."""

    def __init__(self, url: str, deadline: float):
        self.url, self.deadline = url, deadline
        self.window = float(os.environ.get(SPEED_TIME_ENV, SPEED_TIME))
        self.start, self.received = time.monotonic(), 0

    def check(self, received: int) -> None:
        now = time.monotonic()
        self.received += received
        if now > self.deadline:
            raise DownloadError(f"{self.url}: the download took too long; abandoned")
        if now - self.start >= self.window:
            if self.received < SPEED_LIMIT * self.window:
                raise DownloadError(
                    f"{self.url}: the download stalled ({self.received:,} bytes in the last "
                    f"{self.window:g} s); abandoned"
                )
            self.start, self.received = now, 0


def _transfer(url: str, out, part: Path, quiet: bool, deadline: float) -> None:
    """One attempt: stream the body into ``out`` (the open .part file) and check its length."""
    request = urllib.request.Request(url, headers={"User-Agent": f"ride-duration/{VERSION}"})
    out.seek(0)
    out.truncate()
    pace = _Pace(url, deadline)
    connected = False
    try:
        with urllib.request.urlopen(request, timeout=min(TIMEOUT_SECONDS, pace.window)) as response:
            connected = True
            length = response.headers.get("Content-Length", "").strip()
            expected = int(length) if length.isdigit() else None
            with _progress(expected, part.stem, quiet) as bar:
                # read1 returns what has arrived, so a trickling server is timed, not waited on.
                while True:
                    try:
                        chunk = response.read1(CHUNK)
                    except TimeoutError:
                        chunk = None
                    pace.check(len(chunk) if chunk else 0)
                    if chunk == b"":
                        break
                    if chunk:
                        _write(out, chunk, part)
                        bar.update(len(chunk))
    except urllib.error.HTTPError as exc:
        if exc.code >= 500:
            raise _Retryable(f"the server answered {exc.code} {exc.reason}") from exc
        raise
    except (http.client.IncompleteRead, http.client.RemoteDisconnected, ConnectionError) as exc:
        raise _Retryable(f"the connection dropped ({type(exc).__name__})") from exc
    except http.client.HTTPException as exc:  # a bad status line, too many or too long headers
        detail = str(exc)[:80] or type(exc).__name__
        raise _Retryable(f"the server's answer is not valid HTTP ({detail})") from exc
    except (urllib.error.URLError, TimeoutError, OSError) as exc:
        if connected:
            raise _Retryable(f"the connection failed ({exc})") from exc
        reason = getattr(exc, "reason", exc)
        host = urllib.parse.urlsplit(url).netloc
        raise _Retryable(f"cannot reach {host} ({reason})") from exc
    _write(out, b"", part, sync=True)
    received = out.tell()
    if expected is not None and received != expected:
        raise _Retryable(f"the body was cut short ({received:,} of {expected:,} bytes)")


def _write(out, chunk: bytes, part: Path, sync: bool = False) -> None:
    """Write to the .part file; a full or failing disk is the user's to fix, not retried."""
    try:
        out.write(chunk)
        if sync:
            out.flush()
            os.fsync(out.fileno())
    except OSError as exc:
        raise DownloadError(f"{part}: cannot write the download ({exc.strerror})") from None


def _new_part(destination: Path):
    """A new, unique, empty .part file beside ``destination``, opened for writing: created
    exclusively, so nothing already there (a planted link included) is ever written through,
    and no other process shares it."""
    try:
        fd, name = tempfile.mkstemp(
            dir=destination.parent, prefix=f".{destination.name}.", suffix=".part"
        )
    except OSError as exc:
        raise DownloadError(f"{destination.parent}: cannot write there ({exc.strerror})") from None
    return os.fdopen(fd, "wb"), Path(name)


def fetch(url: str, destination: Path, validate, *, quiet: bool = False, what: str = "") -> Path:
    """Download ``url`` to ``destination`` through a .part file; ``validate(path)`` must accept
    the file (raise DataError otherwise) before it takes the final name. Call it holding
    ``file_lock(destination)``."""
    destination = Path(destination)
    what = what or destination.name
    deadline = time.monotonic() + float(os.environ.get(DEADLINE_ENV, DEADLINE_SECONDS))
    last = None
    try:
        out, part = _new_part(destination)
        with out:
            for attempt in range(RETRIES):
                if attempt:
                    time.sleep(_backoff(attempt - 1))
                try:
                    _transfer(url, out, part, quiet, deadline)
                    break
                except _Retryable as exc:
                    last = exc
                except urllib.error.HTTPError as exc:
                    if exc.code in (403, 404):
                        raise DownloadError(f"TLC has not published {what} ({url})") from None
                    raise DownloadError(
                        f"{url}: the server answered {exc.code} {exc.reason}"
                    ) from None
            else:
                hint = f"download {url} by hand and place it at {destination}"
                raise DownloadError(f"{url}: {last} after {RETRIES} tries; {hint}")
        try:
            validate(part)
        except DataError as exc:
            detail = str(exc).split(": ", 1)[-1]
            raise DownloadError(f"{url}: what arrived is unusable ({detail})") from None
        os.replace(part, destination)
    except BaseException:
        # Whatever stopped it, Ctrl-C even before this run held its .part file's name: under
        # the caller's lock, every .part of the destination is this run's.
        remove_stale_temps(destination.parent, destination.name, ".part")
        raise
    return destination


def _check_existing(path: Path, validate) -> bool:
    """True if ``path`` holds a valid file; raise if it holds a broken one."""
    if not path.exists():
        return False
    try:
        validate(path)
    except UnreadableFile:
        raise
    except DataError as exc:
        raise DownloadError(f"{exc}; delete {path} and run again to download it afresh") from None
    return True


def _ensure(path: Path, url_of, validate, *, offline: bool, hint: str, quiet: bool, what: str):
    """The path of a valid file, downloading it (``url_of()``) if it is not there yet.
    Concurrent runs wanting the same file queue on its lock; the later ones find it done."""
    if _check_existing(path, validate):
        return path
    if offline:
        raise DownloadError(f"{path}: file not found (--offline); {hint}")
    url = url_of()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DownloadError(f"{path.parent}: cannot create the folder ({exc.strerror})") from None
    with file_lock(path):
        if _check_existing(path, validate):
            return path
        remove_stale_temps(path.parent, path.name, ".part")  # left by a killed download
        fetch(url, path, lambda part: validate(part, downloaded=True), quiet=quiet, what=what)
        record_download(path, url)
    return path


def ensure_month(
    taxi: str,
    month: str,
    data_dir: Path,
    *,
    base_url: str | None = None,
    offline: bool = False,
    quiet: bool = False,
) -> Path:
    """The path of a valid month file, downloading it if it is not there yet. A download
    whose pickups mostly fall outside the month is refused as the wrong file."""
    taxi, month = check_taxi(taxi), parse_month(month)

    def validate(candidate: Path, downloaded: bool = False) -> None:
        validate_month_file(candidate, taxi)
        if downloaded:
            check_month_of_file(candidate, taxi, month)

    return _ensure(
        Path(data_dir) / file_name(taxi, month),
        lambda: month_url(taxi, month, base_url),
        validate,
        offline=offline,
        hint=missing_file_hint(taxi, month),
        quiet=quiet,
        what=f"{taxi} trip data for {month}",
    )


def ensure_zones(
    data_dir: Path, *, base_url: str | None = None, offline: bool = False, quiet: bool = False
) -> Path:
    return _ensure(
        Path(data_dir) / ZONES_FILE,
        lambda: zones_url(base_url),
        lambda candidate, downloaded=False: validate_zones_file(candidate),
        offline=offline,
        hint="get it with `ride-duration download --zones`",
        quiet=quiet,
        what="the taxi zone lookup",
    )


# An offline run names its missing months in one line, the first few by file name.
NAMED_MISSING = 6


def ensure_months(
    taxi: str,
    months: list[str],
    data_dir: Path,
    *,
    base_url: str | None = None,
    offline: bool = False,
    quiet: bool = False,
) -> list[Path]:
    """Every month on disk (each once, in order), downloading what is missing; offline, every
    missing month is named in one message before any is read."""
    months = list(dict.fromkeys(parse_month(m) for m in months))
    if offline:
        missing = [m for m in months if not month_path(taxi, m, data_dir).exists()]
        if len(missing) > 1:
            names = [month_path(taxi, m, data_dir).name for m in missing]
            more = len(names) - NAMED_MISSING
            files = ", ".join(names[:NAMED_MISSING]) + (f" and {more} more" if more > 0 else "")
            raise DownloadError(
                f"{len(missing)} month files are not in {data_dir} (--offline): {files}; get "
                f"them with `ride-duration download --taxi {taxi} --month "
                f"{' --month '.join(missing[:NAMED_MISSING])}`" + (" ..." if more > 0 else "")
            )
    return [
        ensure_month(taxi, month, data_dir, base_url=base_url, offline=offline, quiet=quiet)
        for month in months
    ]


PUBLISHED_TIMEOUT = 30.0


def is_published(taxi: str, month: str, base_url: str | None = None) -> bool:
    """Whether TLC (or the mirror) has published the month: a HEAD request for its file; 403
    and 404 (what the CDN answers for a month not yet out) mean not yet. A host that does not
    answer, or answers anything else, is an error (the caller may retry)."""
    url = month_url(check_taxi(taxi), parse_month(month), base_url)
    request = urllib.request.Request(
        url, method="HEAD", headers={"User-Agent": f"ride-duration/{VERSION}"}
    )
    try:
        with urllib.request.urlopen(request, timeout=PUBLISHED_TIMEOUT) as answer:
            return 200 <= answer.status < 300
    except urllib.error.HTTPError as exc:
        if exc.code in (403, 404):
            return False
        raise DownloadError(f"{url}: the server answered {exc.code} {exc.reason}") from None
    except (urllib.error.URLError, http.client.HTTPException, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise DownloadError(f"{url}: cannot ask whether it is published ({reason})") from None
