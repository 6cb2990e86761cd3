"""How the service is asked to run, its defaults, and their check (for the command line and for
library callers alike)."""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, replace

from ..config import MODELS_DIR
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
        return replace(self, model=str(self.model), port=port, poll_seconds=float(poll))
