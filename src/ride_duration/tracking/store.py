"""Where runs and registered models live: an MLflow tracking store, checked before any work.

The default is the course's SQLite file, ``mlflow.db`` in the project root, with artifacts in
``mlruns/`` beside it; ``--tracking-uri`` or ``MLFLOW_TRACKING_URI`` name another (a server,
``http://127.0.0.1:5000``, or another SQLite file). MLflow is an optional extra: without it,
every command that tracks stops at once and says how to install it.

Everything this package asks of MLflow goes through one ``Store``: its client is made for the
store's URI, and MLflow's process-wide tracking and registry URIs are never set, so two stores
in one process (a notebook, the tests) never see each other's runs.
"""

from __future__ import annotations

import contextlib
import logging
import os
import urllib.error
import urllib.request
import warnings
from dataclasses import dataclass, field
from pathlib import Path

from ..config import PROJECT_ROOT
from ..errors import RideDurationError
from ..files import SQLITE_HEADER
from ..uris import TrackingURI, parse_tracking_uri

TRACKING_URI_ENV = "MLFLOW_TRACKING_URI"
DEFAULT_DB = PROJECT_ROOT / "mlflow.db"
EXPERIMENT = "nyc-taxi-experiment"
REGISTERED_MODEL = "nyc-taxi-regressor"
SERVER_TIMEOUT = 5.0
# Tells MLflow's UI that the experiment trains models, so that it opens on the runs (without
# it, MLflow 3 opens a new experiment in its GenAI traces view).
EXPERIMENT_KIND = {"mlflow.experimentKind": "custom_model_development"}


class TrackingError(RideDurationError):
    """MLflow is missing, its store unreachable, or a registry name does not resolve."""


def tracking_uri(given: str | None = None, flag: str = "--tracking-uri") -> TrackingURI:
    """--tracking-uri, else $MLFLOW_TRACKING_URI, else the project's sqlite:///…/mlflow.db;
    parsed, so that a malformed one is one line naming where it came from."""
    if given:
        return parse_tracking_uri(given, flag)
    if os.environ.get(TRACKING_URI_ENV):
        return parse_tracking_uri(os.environ[TRACKING_URI_ENV], TRACKING_URI_ENV)
    return parse_tracking_uri(f"sqlite:///{DEFAULT_DB}", "the default")


def mlflow_installed() -> bool:
    """Whether MLflow can be imported, without importing it (a second)."""
    import importlib.util

    try:
        return importlib.util.find_spec("mlflow") is not None
    except (ImportError, ValueError):  # a broken or stubbed install
        return False


def require_mlflow(flag: str = "--track"):
    """The mlflow module, or one line naming the extra that brings it."""
    # Before MLflow is imported: its usage telemetry (a thread, and calls to its servers
    # that this command never needs) stays off unless the user turned it on.
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
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
    on a command's stderr, and its SQLAlchemy errors come with tracebacks: what goes wrong
    reaches the user as one line (``mlflow_errors``) instead."""
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    # Its 'View run at <url>' lines go to stdout, where --json promises one object.
    os.environ.setdefault("MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT", "true")
    for name in ("mlflow", "alembic"):
        logging.getLogger(name).setLevel(logging.WARNING)
    for name in ("mlflow.store.db.utils", "mlflow.store.tracking.sqlalchemy_store", "sqlalchemy"):
        logging.getLogger(name).setLevel(logging.CRITICAL)


def check_store(uri: TrackingURI) -> TrackingURI:
    """Refuse, before any work, a store that cannot be used: an SQLite file whose folder is
    missing or read-only, or that is not a database; a server that does not answer its
    /health."""
    if uri.is_sqlite:
        path = uri.path
        folder = path.parent
        if path.is_dir():
            raise TrackingError(f"tracking store {uri.uri}: {path} is a folder, not a database")
        if not folder.is_dir():
            raise TrackingError(f"tracking store {uri.uri}: the folder {folder} does not exist")
        if path.exists() and not _is_database(path):
            raise TrackingError(
                f"tracking store {uri.uri}: {path} is not an SQLite database; name another "
                "file with --tracking-uri sqlite:///PATH (or move this one away)"
            )
        if not path.exists() and not os.access(folder, os.W_OK | os.X_OK):
            raise TrackingError(f"tracking store {uri.uri}: the folder {folder} is not writable")
    elif uri.is_server:
        _check_server(uri.uri)
    return uri


def _is_database(path: Path) -> bool:
    """An SQLite file (or an empty one, which SQLite makes a database of)."""
    try:
        with open(path, "rb") as handle:
            head = handle.read(len(SQLITE_HEADER))
    except OSError as exc:
        raise TrackingError(f"{path}: cannot be read ({exc.strerror})") from None
    return head in (b"", SQLITE_HEADER) if path.is_file() else False


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


def artifact_root(uri: TrackingURI) -> str | None:
    """Where a local SQLite store keeps its artifacts: mlruns/ beside the database file (a
    server chooses its own)."""
    if not uri.is_sqlite:
        return None
    return (uri.path.parent / "mlruns").resolve().as_uri()


@dataclass
class Store:
    """A connected tracking store: the one MLflow client, and the experiment runs go to."""

    location: TrackingURI
    client: object
    experiment_name: str = EXPERIMENT
    _experiment_id: str | None = field(default=None, repr=False)

    @property
    def uri(self) -> str:
        return self.location.uri

    def experiment(self) -> str:
        """The experiment's id, created on first use (and marked as model training for
        MLflow's UI). Two runs creating it at once both get it: the one whose create fails
        finds the other's. A deleted experiment is refused, saying how to restore it."""
        if self._experiment_id is None:
            with mlflow_errors(self.uri):
                self._experiment_id = self._find_or_create()
        return self._experiment_id

    def _find_or_create(self) -> str:
        name, client = self.experiment_name, self.client
        found = client.get_experiment_by_name(name)
        if found is None:
            try:
                return client.create_experiment(
                    name, artifact_location=artifact_root(self.location), tags=EXPERIMENT_KIND
                )
            except Exception:
                found = client.get_experiment_by_name(name)
                if found is None:
                    raise
        if found.lifecycle_stage == "deleted":
            raise TrackingError(
                f"tracking store {self.uri}: the experiment {name!r} was deleted; restore it "
                f"(`mlflow experiments restore --experiment-id {found.experiment_id}` with "
                f"MLFLOW_TRACKING_URI={self.uri}) or track into another with --experiment"
            )
        if found.tags.get("mlflow.experimentKind") is None:
            for key, value in EXPERIMENT_KIND.items():
                client.set_experiment_tag(found.experiment_id, key, value)
        return found.experiment_id


def precheck(uri: str | None = None, flag: str = "--track") -> TrackingURI:
    """What ``connect`` checks first, without starting MLflow: the URI, MLflow's presence,
    the SQLite file or the server's /health."""
    location = tracking_uri(uri)
    if not mlflow_installed():
        require_mlflow(flag)  # the one line naming the extra
    return check_store(location)


def connect(uri: str | None = None, flag: str = "--track", experiment: str | None = None) -> Store:
    """The store named by ``uri`` (else MLFLOW_TRACKING_URI, else the project's mlflow.db),
    parsed and checked first, with a client of its own."""
    location = tracking_uri(uri)
    require_mlflow(flag)
    check_store(location)
    from mlflow import MlflowClient

    with mlflow_errors(location.uri):
        client = MlflowClient(tracking_uri=location.uri, registry_uri=location.uri)
    return Store(location, client, experiment or EXPERIMENT)


@contextlib.contextmanager
def mlflow_errors(uri: str):
    """MLflow's errors (and SQLAlchemy's, underneath a SQLite store) as one line naming the
    store and what to do."""
    from mlflow.exceptions import MlflowException

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)
            yield
    except TrackingError:
        raise
    except MlflowException as exc:
        text = str(exc)
        reason = database_reason(exc) if "sqlite3." in text or "Error)" in text else one_line(exc)
        raise TrackingError(f"tracking store {uri}: {reason}") from None
    except Exception as exc:
        if not _is_database_error(exc):
            raise
        raise TrackingError(f"tracking store {uri}: {database_reason(exc)}") from None


def _is_database_error(exc: BaseException) -> bool:
    module = type(exc).__module__ or ""
    return module.startswith(("sqlalchemy", "sqlite3", "alembic"))


def database_reason(exc: BaseException) -> str:
    """What a database error means for the user, without its SQL."""
    text = str(getattr(exc, "orig", None) or exc).lower()
    if "readonly" in text or "read-only" in text:
        return "the database is read-only; make it writable or name another with --tracking-uri"
    if "not a database" in text or "malformed" in text:
        return "the file is not an SQLite database (or is corrupted); name another store"
    if "locked" in text:
        return "the database is locked by another process; try again"
    if "unable to open" in text:
        return "the database cannot be opened (its folder or permissions?)"
    return one_line(getattr(exc, "orig", None) or exc)[:160]


def one_line(exc: BaseException) -> str:
    text = getattr(exc, "message", None) or str(exc) or type(exc).__name__
    first = " ".join(str(text).split())
    # SQLAlchemy appends the statement and parameters: the user's store is not the SQL.
    return first.split(" [SQL:")[0].split("(Background on this error")[0].strip()[:300]
