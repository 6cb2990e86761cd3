"""Small file helpers: hashing, and writes that never leave a partial file under its name."""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
from pathlib import Path

from .config import MONTH_FILE_PATTERN
from .errors import RideDurationError


def sha256_file(path: Path, chunk: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def fsync_dir(folder: Path) -> None:
    with contextlib.suppress(OSError):  # not every platform can open a directory
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def write_temp(folder: Path, name: str, data: bytes) -> Path:
    """Write bytes to a hidden temporary file in ``folder`` and flush them to disk."""
    fd, temp = tempfile.mkstemp(dir=folder, prefix=f".{name}.", suffix=".tmp")
    try:
        # mkstemp creates the file private (0600); give it the mode a plain open() would.
        umask = os.umask(0)
        os.umask(umask)
        os.fchmod(fd, 0o666 & ~umask)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise
    return Path(temp)


def atomic_write(path: Path, data: bytes) -> None:
    """Replace ``path`` with ``data`` so that readers see the old bytes or the new, never a mix."""
    path = Path(path)
    temp = write_temp(path.parent, path.name, data)
    try:
        os.replace(temp, path)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    fsync_dir(path.parent)


@contextlib.contextmanager
def temporary_beside(path: Path):
    """A new temporary file beside ``path`` for a writer that takes a file name (pyarrow);
    when the block ends it is flushed to disk and renamed to ``path``, or removed on error."""
    path = Path(path)
    fd, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    temp = Path(name)
    try:
        yield temp
        with open(temp, "rb+") as handle:
            os.fsync(handle.fileno())
        os.replace(temp, path)
    finally:
        temp.unlink(missing_ok=True)
    fsync_dir(path.parent)


def remove_stale_temps(folder: Path, name: str, suffix: str = ".tmp") -> None:
    """Remove temporary files (``.<name>.<random><suffix>``) an interrupted write of ``name``
    left behind. Call it only while holding ``file_lock`` on ``name``: every writer of
    ``name`` takes that lock before it creates its temporary file, so any found then was
    abandoned. Names are matched exactly (not as a glob, so a name like ``*`` cannot reach
    other files' temporaries)."""
    prefix = f".{name}."
    for entry in os.scandir(folder):
        rest = entry.name[len(prefix) :]
        random = rest[: -len(suffix)]
        if entry.name.startswith(prefix) and rest.endswith(suffix) and "." not in random:
            Path(entry.path).unlink(missing_ok=True)


@contextlib.contextmanager
def file_lock(path: Path):
    """Hold an exclusive lock for ``path`` (``flock`` on a hidden ``.<name>.lock`` beside it)
    until the block ends, so that concurrent processes writing ``path`` queue instead of
    racing. The folder must be on a local file system: ``flock`` over NFS is unreliable."""
    import fcntl

    path = Path(path)
    lock = path.with_name(f".{path.name}.lock")
    # O_NOFOLLOW: a link planted under the lock's name is refused, never written through.
    fd = os.open(lock, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o666)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


class OutputRefused(RideDurationError):
    """A path a command would write names something it must never replace."""


SQLITE_HEADER = b"SQLite format 3\x00"


def _is_sqlite(path: Path) -> bool:
    try:
        with open(path, "rb") as handle:
            return handle.read(len(SQLITE_HEADER)) == SQLITE_HEADER
    except OSError:
        return False


def output_problem(path: Path, suffixes: tuple[str, ...], inputs=()) -> str | None:
    """Why a command must not write ``path``, or None. Refused: a folder, a device, a FIFO or
    anything else that is not a regular file; a missing folder; a name without one of
    ``suffixes``; a file named as a TLC month (raw files are never rewritten); a model
    (``.bin``) or the sidecar of one (a ``.json`` beside a ``.bin`` of its name); an SQLite
    database (the tracking store, ``mlflow.db``); and any of ``inputs``, the files the run
    reads, under any name that reaches them (links included)."""
    import re
    import stat

    path = Path(path)
    try:
        mode = path.lstat().st_mode if path.is_symlink() else path.stat().st_mode
    except FileNotFoundError:
        mode = None
    except OSError as exc:
        return f"cannot be checked ({exc.strerror})"
    if mode is not None and stat.S_ISDIR(mode):
        return f"is a folder; name a {' or '.join(suffixes)} file in it"
    if path.is_symlink():
        target = path.resolve()
        if target.exists() and not target.is_file():
            return "is a link to something that is not a regular file"
    elif mode is not None and not stat.S_ISREG(mode):
        return "is not a regular file (a device, a FIFO or a socket?)"
    if path.suffix.lower() not in suffixes:
        return f"name a {' or '.join(suffixes)} file"
    if re.fullmatch(MONTH_FILE_PATTERN, path.name):
        return "is named as a TLC month file, which is never rewritten; name it otherwise"
    if path.suffix == ".bin" or (path.suffix == ".json" and path.with_suffix(".bin").exists()):
        return "is a model file or a model's sidecar"
    if path.exists() and _is_sqlite(path):
        return "is an SQLite database (a tracking store?)"
    for source in inputs:
        source = Path(source)
        protected = [source, source.with_suffix(".json")] if source.suffix == ".bin" else [source]
        for kept in protected:
            same = kept.exists() and path.exists() and path.samefile(kept)
            if same or path.resolve() == kept.resolve():
                return f"is an input of this run ({kept})"
    if not path.parent.is_dir():
        return f"the folder {path.parent} does not exist"
    return None


def check_output(path: Path, flag: str, suffixes: tuple[str, ...], inputs=()) -> Path:
    """Refuse, before any work, a path a command would write that names what must not be
    replaced (see ``output_problem``); the one check every written path goes through."""
    if problem := output_problem(path, suffixes, inputs):
        raise OutputRefused(f"{flag} {path}: {problem}")
    return Path(path)
