"""Where runs and registered models live: an MLflow tracking store, checked before any work.

The default is the course's SQLite file, ``mlflow.db`` in the project root, with artifacts in
``mlruns/`` beside it; ``--tracking-uri`` or ``MLFLOW_TRACKING_URI`` name another (a server,
``http://127.0.0.1:5000``, or another SQLite file). MLflow is an optional extra: without it,
every command that tracks stops at once and says how to install it.
"""

from __future__ import annotations

import contextlib
import logging
import os
import urllib.error
import urllib.request
import warnings
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

from ..config import PROJECT_ROOT
from ..errors import RideDurationError

TRACKING_URI_ENV = "MLFLOW_TRACKING_URI"
DEFAULT_DB = PROJECT_ROOT / "mlflow.db"
EXPERIMENT = "nyc-taxi-experiment"
REGISTERED_MODEL = "nyc-taxi-regressor"
SERVER_TIMEOUT = 5.0


class TrackingError(RideDurationError):
    """MLflow is missing, its store unreachable, or a registry name does not resolve."""


def tracking_uri(given: str | None = None) -> str:
    """--tracking-uri, else $MLFLOW_TRACKING_URI, else the project's sqlite:///…/mlflow.db."""
    return given or os.environ.get(TRACKING_URI_ENV) or f"sqlite:///{DEFAULT_DB}"


def require_mlflow(flag: str = "--track"):
    """The mlflow module, or one line naming the extra that brings it."""
    try:
        import mlflow
    except ImportError:
        raise TrackingError(
            f"{flag} needs MLflow, which is not installed: pip install -e '.[mlflow]' "
            "(the mlflow extra)"
        ) from None
    quiet_mlflow()
    return mlflow


def quiet_mlflow() -> None:
    """MLflow's INFO lines (database migrations, 'View run at') and progress bars are noise
    on a command's stderr: warnings and errors still show."""
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    # Its 'View run at <url>' lines go to stdout, where --json promises one object.
    os.environ.setdefault("MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT", "true")
    for name in ("mlflow", "alembic"):
        logging.getLogger(name).setLevel(logging.WARNING)


def check_store(uri: str) -> str:
    """Refuse, before any work, a store that cannot be used: an SQLite file whose folder is
    missing or read-only, a server that does not answer its /health."""
    parsed = urlparse(uri)
    if parsed.scheme == "sqlite":
        folder = sqlite_path(uri).parent
        if not folder.is_dir():
            raise TrackingError(f"tracking store {uri}: the folder {folder} does not exist")
        if not os.access(folder, os.W_OK | os.X_OK):
            raise TrackingError(f"tracking store {uri}: the folder {folder} is not writable")
    elif parsed.scheme in ("http", "https"):
        _check_server(uri)
    elif parsed.scheme not in ("file", "") and not uri.startswith("databricks"):
        raise TrackingError(
            f"tracking URI {uri!r}: write it as sqlite:///path/mlflow.db or http(s)://host:port"
        )
    return uri


def _check_server(uri: str) -> None:
    try:
        with urllib.request.urlopen(f"{uri.rstrip('/')}/health", timeout=SERVER_TIMEOUT) as answer:
            answer.read(64)
    except urllib.error.HTTPError as exc:
        raise TrackingError(
            f"the MLflow tracking server at {uri} answers HTTP {exc.code} on /health; is it an "
            "MLflow server?"
        ) from None
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        raise TrackingError(
            f"cannot reach the MLflow tracking server at {uri} ({reason}); start it (make "
            "mlflow-ui) or pass --tracking-uri"
        ) from None


def artifact_root(uri: str) -> str | None:
    """Where a local SQLite store keeps its artifacts: mlruns/ beside the database file (a
    server chooses its own)."""
    if urlparse(uri).scheme != "sqlite":
        return None
    return (sqlite_path(uri).parent / "mlruns").resolve().as_uri()


def sqlite_path(uri: str) -> Path:
    """The file of an SQLAlchemy SQLite URI: sqlite:///relative.db, sqlite:////absolute.db."""
    return Path(uri.split(":///", 1)[1] or ".")


@dataclass
class Store:
    """A connected tracking store: the client and the experiment runs go to."""

    uri: str
    client: object
    experiment_name: str = EXPERIMENT
    experiment_id: str | None = None

    def experiment(self) -> str:
        """The experiment's id, created on first use. Two runs creating it at once both get
        it: the one whose create fails finds the other's."""
        if self.experiment_id is None:
            name = self.experiment_name
            found = self.client.get_experiment_by_name(name)
            if found is None:
                try:
                    return self._remember(
                        self.client.create_experiment(
                            name, artifact_location=artifact_root(self.uri)
                        )
                    )
                except Exception:
                    found = self.client.get_experiment_by_name(name)
                    if found is None:
                        raise
            self._remember(found.experiment_id)
        return self.experiment_id

    def _remember(self, experiment_id: str) -> str:
        self.experiment_id = experiment_id
        return experiment_id


def connect(uri: str | None = None, flag: str = "--track", experiment: str | None = None) -> Store:
    """A client for the store named by ``uri`` (checked first), with MLflow's fluent API
    pointed at it too (logging a model goes through it)."""
    mlflow = require_mlflow(flag)
    uri = check_store(tracking_uri(uri))
    from mlflow import MlflowClient

    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    with mlflow_errors(uri):
        client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    return Store(uri, client, experiment or EXPERIMENT)


@contextlib.contextmanager
def mlflow_errors(uri: str):
    from mlflow.exceptions import MlflowException

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)
            yield
    except MlflowException as exc:
        raise TrackingError(f"tracking store {uri}: {one_line(exc)}") from None


def one_line(exc: BaseException) -> str:
    text = getattr(exc, "message", None) or str(exc) or type(exc).__name__
    return " ".join(str(text).split())[:300]
