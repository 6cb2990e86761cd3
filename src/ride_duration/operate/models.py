"""A model named on the command line: a saved file, or a registered version (models:/NAME@ALIAS
or models:/NAME/VERSION), downloaded and checked like a file."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..modeling.artifact import read_metadata
from ..tracking.registry import Version, download, resolve
from ..tracking.store import Store, connect
from ..uris import is_model_uri, parse_model_uri


@dataclass
class Named:
    path: Path
    metadata: dict
    version: Version | None = None

    @property
    def label(self) -> str:
        if self.version:
            return f"{self.version.name} version {self.version.version}"
        return str(self.path)


def open_model(
    ref, folder: Path, tracking_uri: str | None = None, store: Store | None = None
) -> Named:
    """The model ``ref`` names; a registered one is copied into ``folder`` first."""
    if not is_model_uri(ref):
        return Named(Path(ref), read_metadata(Path(ref)))
    named = parse_model_uri(ref)  # a malformed URI is one line before MLflow starts
    store = store or connect(tracking_uri, flag=f"--model {ref}")
    version, _ = resolve(store, named)
    path = download(store, version, Path(folder))
    return Named(path, read_metadata(path), version)
