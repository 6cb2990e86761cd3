"""The model registry: versions of ``nyc-taxi-regressor`` with aliases (MLflow's stages are
deprecated): ``challenger`` for the newest registered, ``champion`` for the one served."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from .store import REGISTERED_MODEL, Store, TrackingError, mlflow_errors

CHALLENGER, CHAMPION = "challenger", "champion"
MODEL_URI = re.compile(r"models:/(?P<name>[^/@]+)(?:@(?P<alias>[\w-]+)|/(?P<version>\d+))")


@dataclass
class Version:
    name: str
    version: str
    run_id: str | None
    source: str
    tags: dict

    @property
    def taxi(self) -> str | None:
        return self.tags.get("taxi")


def is_model_uri(text) -> bool:
    return str(text).startswith("models:/")


def parse_model_uri(text: str) -> tuple[str, str | None, str | None]:
    """(name, alias, version) of models:/name@alias or models:/name/version."""
    match = MODEL_URI.fullmatch(str(text))
    if not match:
        raise TrackingError(
            f"{text!r}: write a registered model as models:/NAME@ALIAS or models:/NAME/VERSION"
        )
    return match["name"], match["alias"], match["version"]


def _version(found) -> Version:
    return Version(found.name, str(found.version), found.run_id, found.source, dict(found.tags))


def registered_taxi(store: Store, name: str = REGISTERED_MODEL) -> str | None:
    """The taxi type a registered model holds (None if it does not exist yet)."""
    from mlflow.exceptions import MlflowException

    try:
        model = store.client.get_registered_model(name)
    except MlflowException:
        return None
    return dict(model.tags).get("taxi")


def has_alias(store: Store, alias: str, name: str = REGISTERED_MODEL) -> bool:
    """Whether ``name`` exists and one of its versions carries ``alias``."""
    from mlflow.exceptions import MlflowException

    with mlflow_errors(store.uri):
        try:
            model = store.client.get_registered_model(name)
        except MlflowException as exc:
            if exc.error_code == "RESOURCE_DOES_NOT_EXIST":
                return False
            raise
    return alias in (model.aliases or {})


def check_taxi(store: Store, taxi: str, name: str = REGISTERED_MODEL) -> None:
    """Refuse to mix taxi types under one registered model, before any work."""
    with mlflow_errors(store.uri):
        held = registered_taxi(store, name)
    if held is not None and held != taxi:
        raise TrackingError(
            f"the registered model {name} holds {held} taxi models, not {taxi}; register "
            "under another name (--registered-model)"
        )


def register(store: Store, run, taxi: str, name: str = REGISTERED_MODEL, tags=None) -> Version:
    """A new version of ``name`` from a tracked run's model, aliased ``challenger``. If any
    step fails, the version is deleted: nothing stays registered half-way."""
    from mlflow.exceptions import MlflowException

    client = store.client
    with mlflow_errors(store.uri):
        check_taxi(store, taxi, name)
        new_name = False
        try:
            client.create_registered_model(name, tags={"taxi": taxi})
            new_name = True
        except MlflowException as exc:
            if exc.error_code != "RESOURCE_ALREADY_EXISTS":
                raise
        created = None
        try:
            created = client.create_model_version(
                name,
                run.model_uri,
                run_id=run.run_id,
                tags={"taxi": taxi, **(tags or {})},
                model_id=run.model_id,
            )
            client.set_registered_model_alias(name, CHALLENGER, created.version)
        except BaseException:
            if created is not None:
                client.delete_model_version(name, created.version)
            if new_name:
                client.delete_registered_model(name)
            raise
        return _version(created)


def resolve(store: Store, uri: str) -> tuple[Version, str | None]:
    """The version a models:/ URI names, and its alias if it was named by one."""
    name, alias, number = parse_model_uri(uri)
    from mlflow.exceptions import MlflowException

    try:
        if alias:
            return _version(store.client.get_model_version_by_alias(name, alias)), alias
        return _version(store.client.get_model_version(name, number)), None
    except MlflowException as exc:
        what = f"alias {alias!r}" if alias else f"version {number}"
        raise TrackingError(
            f"{uri}: the registered model {name} has no {what} in {store.uri} ({exc.error_code})"
        ) from None


def promote(store: Store, version: str | None = None, name: str = REGISTERED_MODEL) -> Version:
    """Move ``champion`` to ``version`` (default: the version aliased ``challenger``)."""
    uri = f"models:/{name}/{version}" if version else f"models:/{name}@{CHALLENGER}"
    with mlflow_errors(store.uri):
        chosen, _ = resolve(store, uri)
        store.client.set_registered_model_alias(name, CHAMPION, chosen.version)
    return chosen


def download(store: Store, version: Version, folder: Path) -> Path:
    """The .bin (with its sidecar beside it) of a registered version, copied into ``folder``."""
    import mlflow.artifacts

    with mlflow_errors(store.uri):
        local = Path(
            mlflow.artifacts.download_artifacts(
                artifact_uri=f"models:/{version.name}/{version.version}",
                dst_path=str(folder),
                tracking_uri=store.uri,
            )
        )
    bins = sorted(local.glob("artifacts/*.bin"))
    if len(bins) != 1:
        raise TrackingError(
            f"models:/{version.name}/{version.version} holds no ride-duration model file "
            "(was it logged by ride-duration train --track?)"
        )
    return bins[0]
