"""How the service is asked to run, its defaults, and their check (for the command line and for
library callers alike)."""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, replace
from pathlib import Path

from ..config import MODELS_DIR, prediction_log_dir
from ..errors import RideDurationError
from ..uris import is_model_uri, parse_model_uri

PORT_ENV = "RIDE_DURATION_PORT"
DEFAULT_PORT = 9696
DEFAULT_HOST = "127.0.0.1"
DEFAULT_MODEL = str(MODELS_DIR / "lin_reg.bin")
DEFAULT_POLL_SECONDS = 5.0
MAX_POLL_SECONDS = 3600.0
MAX_WORKERS = 64


def _port_from_environment() -> int:
    """$RIDE_DURATION_PORT (which the image's health check reads too), else 9696."""
    text = os.environ.get(PORT_ENV, "")
    if not text:
        return DEFAULT_PORT
    if not (text.isascii() and text.isdigit()) or not 0 <= int(text) <= 65535:
        raise RideDurationError(f"${PORT_ENV} must be a port number, not {text!r}")
    return int(text)


@dataclass(frozen=True)
class ServeOptions:
    model: str = DEFAULT_MODEL  # a saved .bin, or models:/NAME@ALIAS (followed while serving)
    host: str = DEFAULT_HOST
    port: int | None = None  # None: $RIDE_DURATION_PORT, else 9696
    workers: int = 1
    poll_seconds: float = DEFAULT_POLL_SECONDS
    tracking_uri: str | None = None
    access_log: bool = True
    record: bool = True  # the prediction log
    log_dir: str | None = None  # its folder; None: $RIDE_DURATION_LOG_DIR, else logs/predictions
    metrics: bool = True  # GET /metrics, for Prometheus

    def validated(self) -> ServeOptions:
        port = _port_from_environment() if self.port is None else self.port
        if not (isinstance(port, int) and 0 <= port <= 65535):
            raise RideDurationError(f"--port must be 0 to 65535, not {port}")
        if not (isinstance(self.workers, int) and 1 <= self.workers <= MAX_WORKERS):
            raise RideDurationError(f"--workers must be 1 to {MAX_WORKERS}, not {self.workers}")
        poll = self.poll_seconds
        if not (isinstance(poll, (int, float)) and math.isfinite(poll)):
            poll = float("nan")
        if not 0 < poll <= MAX_POLL_SECONDS:
            raise RideDurationError(
                f"--poll-seconds must be more than 0 and at most {MAX_POLL_SECONDS:g}, "
                f"not {self.poll_seconds}"
            )
        if is_model_uri(self.model):
            parse_model_uri(self.model)
        log_dir = None
        if self.record:
            log_dir = str(check_log_dir(self.log_dir or prediction_log_dir()))
        return replace(
            self, model=str(self.model), port=port, poll_seconds=float(poll), log_dir=log_dir
        )


def check_log_dir(folder) -> Path:
    """The prediction log's folder, if it can be one: a folder, or a path under an existing
    folder (made when the service starts, by ``make_log_dir``). One line otherwise."""
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise RideDurationError(f"--log-dir {folder}: is not a folder")
    above = folder.absolute()
    while not above.exists():
        above = above.parent
    if not above.is_dir():
        raise RideDurationError(f"--log-dir {folder}: {above} is not a folder")
    return folder.absolute()


def make_log_dir(folder) -> None:
    """Make the prediction log's folder and show that a file can be written there, before
    the service binds its port."""
    import tempfile

    try:
        Path(folder).mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as exc:
        raise RideDurationError(
            f"--log-dir {folder}: cannot write the prediction log there "
            f"({exc.strerror or exc}); name another folder, or --no-log"
        ) from None
