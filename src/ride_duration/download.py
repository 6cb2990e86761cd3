"""Fetch TLC files once, safely: cached, streamed to a .part file, checked, renamed atomically.

A file already under its final name is never fetched again nor replaced: if it is broken,
the error names it and says to delete it. Every failure raises DownloadError (exit code 2).
"""

from __future__ import annotations

import datetime as dt
import http.client
import json
import os
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

from . import __version__
from .config import base_url as default_base_url
from .dataset import (
    SCHEMAS,
    check_taxi,
    file_name,
    missing_file_hint,
    parse_month,
    validate_month_file,
    validate_zones_file,
)
from .errors import DataError
from .files import atomic_write, sha256_file

ZONES_FILE = "taxi_zone_lookup.csv"
MANIFEST_FILE = "MANIFEST.json"
RETRIES = 3
TIMEOUT_SECONDS = 60
BACKOFF_ENV = "RIDE_DURATION_RETRY_BACKOFF"
CHUNK = 1 << 16


class DownloadError(DataError):
    """A file could not be fetched or what arrived is unusable."""


class _Retryable(Exception):
    """A transient failure: connection dropped, short body, 5xx."""


def month_url(taxi: str, month: str, base: str | None = None) -> str:
    return f"{(base or default_base_url()).rstrip('/')}/trip-data/{file_name(taxi, month)}"


def zones_url(base: str | None = None) -> str:
    return f"{(base or default_base_url()).rstrip('/')}/misc/{ZONES_FILE}"


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


def _transfer(url: str, part: Path, quiet: bool) -> None:
    """One attempt: stream the body into ``part`` and check its length."""
    request = urllib.request.Request(url, headers={"User-Agent": f"ride-duration/{__version__}"})
    try:
        out = open(part, "wb")  # noqa: SIM115 - closed below; its errors are the disk's
    except OSError as exc:
        raise DownloadError(f"{part.parent}: cannot write there ({exc.strerror})") from None
    with out:
        try:
            with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as response:
                length = response.headers.get("Content-Length")
                expected = int(length) if length and length.isdigit() else None
                with _progress(expected, part.stem, quiet) as bar:
                    while chunk := response.read(CHUNK):
                        _write(out, chunk, part)
                        bar.update(len(chunk))
        except urllib.error.HTTPError as exc:
            if exc.code >= 500:
                raise _Retryable(f"the server answered {exc.code} {exc.reason}") from exc
            raise
        except (http.client.IncompleteRead, http.client.RemoteDisconnected, ConnectionError) as exc:
            raise _Retryable(f"the connection dropped ({type(exc).__name__})") from exc
        except (urllib.error.URLError, TimeoutError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            host = urllib.parse.urlsplit(url).netloc
            raise _Retryable(f"cannot reach {host} ({reason})") from exc
        _write(out, b"", part, sync=True)
    received = part.stat().st_size
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


def fetch(url: str, destination: Path, validate, *, quiet: bool = False, what: str = "") -> Path:
    """Download ``url`` to ``destination`` through ``<name>.part``; ``validate(path)`` must
    accept the file (raise DataError otherwise) before it takes the final name."""
    destination = Path(destination)
    part = destination.with_name(destination.name + ".part")
    what = what or destination.name
    try:
        destination.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DownloadError(
            f"{destination.parent}: cannot create the folder ({exc.strerror})"
        ) from None
    last = None
    try:
        for attempt in range(RETRIES):
            if attempt:
                time.sleep(_backoff(attempt - 1))
            try:
                _transfer(url, part, quiet)
                break
            except _Retryable as exc:
                last = exc
            except urllib.error.HTTPError as exc:
                if exc.code in (403, 404):
                    raise DownloadError(f"TLC has not published {what} ({url})") from None
                raise DownloadError(f"{url}: the server answered {exc.code} {exc.reason}") from None
        else:
            hint = f"download {url} by hand and place it at {destination}"
            raise DownloadError(f"{url}: {last} after {RETRIES} tries; {hint}")
        try:
            validate(part)
        except DataError as exc:
            detail = str(exc).split(": ", 1)[-1]
            raise DownloadError(f"{url}: what arrived is unusable ({detail})") from None
        os.replace(part, destination)
    finally:
        part.unlink(missing_ok=True)
    return destination


def _check_existing(path: Path, validate) -> bool:
    """True if ``path`` holds a valid file; raise if it holds a broken one."""
    if not path.exists():
        return False
    try:
        validate(path)
    except DataError as exc:
        raise DownloadError(f"{exc}; delete {path} and run again to download it afresh") from None
    return True


def ensure_month(
    taxi: str,
    month: str,
    data_dir: Path,
    *,
    base_url: str | None = None,
    offline: bool = False,
    quiet: bool = False,
) -> Path:
    """The path of a valid month file, downloading it if it is not there yet."""
    taxi, month = check_taxi(taxi), parse_month(month)
    path = Path(data_dir) / file_name(taxi, month)

    def validate(candidate: Path) -> None:
        validate_month_file(candidate, taxi)

    if _check_existing(path, validate):
        return path
    if offline:
        raise DownloadError(f"{path}: file not found (--offline); {missing_file_hint(taxi, month)}")
    url = month_url(taxi, month, base_url)
    fetch(url, path, validate, quiet=quiet, what=f"{taxi} trip data for {month}")
    record_download(path, url)
    return path


def ensure_zones(
    data_dir: Path, *, base_url: str | None = None, offline: bool = False, quiet: bool = False
) -> Path:
    path = Path(data_dir) / ZONES_FILE
    if _check_existing(path, validate_zones_file):
        return path
    if offline:
        raise DownloadError(
            f"{path}: file not found (--offline); get it with `ride-duration download --zones`"
        )
    url = zones_url(base_url)
    fetch(url, path, validate_zones_file, quiet=quiet, what="the taxi zone lookup")
    record_download(path, url)
    return path


def read_manifest(data_dir: Path) -> dict:
    path = Path(data_dir) / MANIFEST_FILE
    if not path.is_file():
        return {"files": {}}
    try:
        document = json.loads(path.read_text())
    except ValueError as exc:
        raise DataError(f"{path}: not valid JSON ({exc})") from None
    document.setdefault("files", {})
    return document


def record_download(path: Path, url: str) -> None:
    """Note a downloaded file's sha256, size, URL and time in ``data/MANIFEST.json``."""
    manifest = read_manifest(path.parent)
    manifest["files"][path.name] = {
        "sha256": sha256_file(path),
        "size": path.stat().st_size,
        "url": url,
        "downloaded_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
    }
    atomic_write(path.parent / MANIFEST_FILE, (json.dumps(manifest, indent=2) + "\n").encode())


def verify(data_dir: Path) -> list[tuple[str, str]]:
    """Recheck every file the manifest lists: (name, "ok" | "missing" | "changed" | "corrupt")."""
    results = []
    for name, entry in sorted(read_manifest(data_dir)["files"].items()):
        path = Path(data_dir) / name
        if not path.is_file():
            status = "missing"
        elif path.stat().st_size != entry.get("size") or sha256_file(path) != entry.get("sha256"):
            status = "changed"
        else:
            status = "ok"
            try:
                if name == ZONES_FILE:
                    validate_zones_file(path)
                else:
                    taxi = name.split("_tripdata_")[0]
                    if taxi in SCHEMAS:
                        validate_month_file(path, taxi)
            except DataError:
                status = "corrupt"
        results.append((name, status))
    return results


def manifest_sha256(path: Path) -> str | None:
    """The sha256 the manifest recorded for a downloaded file, if any."""
    return read_manifest(Path(path).parent)["files"].get(Path(path).name, {}).get("sha256")
