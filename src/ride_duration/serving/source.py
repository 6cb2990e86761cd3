"""What the service serves: a saved model file, fixed for the process's life, or a registered
model's alias (``models:/nyc-taxi-regressor@champion``), followed while the service runs.

Following an alias: every ``poll`` seconds the registry is asked which version the alias
names; a new one is downloaded, checked (sidecar, sha256, classes) and loaded beside the one
being served, then swapped in by one assignment. A request reads the served model once, so
requests in flight finish on the old version and the next ones get the new: a swap under load
fails no request. If the registry cannot be reached or the new version cannot be loaded, the
old one goes on being served and the reason is logged.
"""

from __future__ import annotations

import logging
import shutil
import threading
from dataclasses import dataclass
from pathlib import Path

from ..errors import RideDurationError
from ..modeling.artifact import model_version
from ..modeling.model import Model, load
from ..tracking.registry import download, registered_taxi, resolve
from ..tracking.store import connect, one_line
from ..uris import parse_model_uri

log = logging.getLogger("uvicorn.error")


@dataclass(frozen=True)
class Served:
    model: Model
    metadata: dict
    version: str  # what answers carry as model_version
    registry: dict | None = None  # name, version, alias and run of a registered model


class FileSource:
    """One saved model, loaded once."""

    def __init__(self, path: Path | str):
        path = Path(path)
        model, metadata = load(path)
        self.current = Served(model, metadata, model_version(metadata, path))

    def start(self) -> None:
        pass

    def stop(self) -> None:
        pass


class RefusedVersion(RideDurationError):
    """A registered version the service will not serve (another taxi type, an unknown
    feature set, a file that fails its checks)."""


class RegistrySource:
    """The version a registered model's alias names, followed every ``poll`` seconds.

    Every version is loaded with the checks of a start-up: its file against its sidecar and
    what its pickle holds (``load``), a feature set this package knows, and the taxi type of
    the registered model (and, once one is served, of the version served): an alias moved by
    any MLflow client to a model of another taxi type is refused, not served. A refused
    version is remembered: it is neither downloaded again nor logged again until the alias
    moves to another one."""

    def __init__(self, uri: str, tracking_uri: str | None, folder: Path, poll: float):
        self.uri, self.folder, self.poll = uri, Path(folder), poll
        self.store = connect(tracking_uri, flag=f"--model {uri}")
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.refused: dict[str, str] = {}  # version -> why
        self.taxi = registered_taxi(self.store, parse_model_uri(uri).name)
        self.current = self._load(*resolve(self.store, uri))
        self.taxi = self.current.metadata["taxi"]

    def _load(self, version, alias) -> Served:
        path = download(self.store, version, self.folder / f"v{version.version}")
        model, metadata = load(path)
        taxi = metadata.get("taxi")
        if self.taxi is not None and taxi != self.taxi:
            raise RefusedVersion(
                f"version {version.version} is a {taxi} taxi model; {self.uri} serves "
                f"{self.taxi} taxis"
            )
        registry = {
            "name": version.name,
            "version": version.version,
            "alias": alias,
            "run_id": version.run_id,
        }
        served_as = f"{version.name}/{version.version}/{model_version(metadata, path)}"
        return Served(model, metadata, served_as, registry)

    def refresh(self) -> bool:
        """Swap in the version the alias names now, if it moved and passes the checks; True
        if it did. A version refused once is passed over quietly until the alias moves."""
        version, alias = resolve(self.store, self.uri)
        if version.version == self.current.registry["version"]:
            return False
        if version.version in self.refused:
            return False
        try:
            served = self._load(version, alias)
        except RideDurationError as exc:
            self.refused[version.version] = one_line(exc)
            log.warning(
                "%s moved to version %s, which is refused (%s): still serving version %s",
                self.uri,
                version.version,
                one_line(exc),
                self.current.registry["version"],
            )
            return False
        finally:
            shutil.rmtree(self.folder / f"v{version.version}", ignore_errors=True)
        self.current = served
        log.info("%s now serves version %s", self.uri, version.version)
        return True

    def _follow(self) -> None:
        while not self._stop.wait(self.poll):
            try:
                self.refresh()
            except Exception as exc:  # keep serving what is loaded; say why
                log.warning(
                    "%s: still serving version %s (%s)",
                    self.uri,
                    self.current.registry["version"],
                    one_line(exc),
                )

    def start(self) -> None:
        if self._thread is None and self.poll > 0:
            self._thread = threading.Thread(target=self._follow, name="follow-alias", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
