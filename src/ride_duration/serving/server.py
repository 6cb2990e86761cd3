"""Run the service: check the model before any port is bound, then uvicorn with its workers."""

from __future__ import annotations

import os
import shutil
import socket
import tempfile
from pathlib import Path

from ..errors import RideDurationError
from .metrics import MULTIPROCESS_ENV
from .options import ServeOptions, make_log_dir
from .service import (
    FOLDER_ENV,
    METRICS_ENV,
    MODEL_ENV,
    POLL_ENV,
    SERVE_LOG_ENV,
    snapshot_model,
)

# uvicorn's httptools protocol with a deadline and a budget for connections that have not sent
# a request's head (protocol.py): clients trickling headers cannot starve the others.
HTTP_PROTOCOL = "ride_duration.serving.protocol:GuardedHttpToolsProtocol"


def serve(options: ServeOptions) -> None:
    """Serve until stopped (SIGINT, SIGTERM). The model is checked here, before any port is
    bound. A file is copied, and every worker serves this checked copy: a model replaced on
    disk while the service runs (or while its workers start) changes nothing until the next
    start. A registered model's alias is resolved here (so a wrong name or an unreachable
    registry stops the start), then followed by every worker."""
    options = options.validated()
    folder = Path(tempfile.mkdtemp(prefix="ride-duration-serve-"))
    try:
        if str(options.model).startswith("models:/"):
            _check_registered(options, folder)
            os.environ |= {
                MODEL_ENV: options.model,
                POLL_ENV: str(options.poll_seconds),
                FOLDER_ENV: str(folder),
            }
        else:
            os.environ[MODEL_ENV] = str(snapshot_model(options.model, folder))
        os.environ[SERVE_LOG_ENV] = options.log_dir or ""
        os.environ[METRICS_ENV] = "1" if options.metrics else "0"
        if options.metrics and options.workers > 1:
            # prometheus-client's multiprocess files: a new folder at each start, so that no
            # count of an earlier run is summed in (workers are new processes: they read it
            # before they import prometheus-client).
            (folder / "metrics").mkdir()
            os.environ[MULTIPROCESS_ENV] = str(folder / "metrics")
        else:
            os.environ.pop(MULTIPROCESS_ENV, None)
        try:
            with socket.create_server((options.host, options.port)):
                pass
        except OSError as exc:
            raise RideDurationError(
                f"cannot listen on {options.host}:{options.port} ({exc.strerror or exc})"
            ) from None
        if options.log_dir is not None:
            make_log_dir(options.log_dir)
        import uvicorn

        from .protocol import raise_descriptor_limit

        raise_descriptor_limit()
        uvicorn.run(
            "ride_duration.serving.service:app_from_environment",
            factory=True,
            host=options.host,
            port=options.port,
            workers=options.workers,
            access_log=options.access_log,
            log_level="info",
            http=HTTP_PROTOCOL,
        )
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _check_registered(options: ServeOptions, folder: Path) -> None:
    """Resolve a models:/ URI and load its version once, so that a wrong name, a missing
    alias or an unreachable registry stops the start with one line; workers find the
    registry through MLFLOW_TRACKING_URI."""
    from ..tracking.store import TRACKING_URI_ENV
    from .source import RegistrySource

    source = RegistrySource(options.model, options.tracking_uri, folder / "check", 0)
    os.environ[TRACKING_URI_ENV] = source.store.uri
