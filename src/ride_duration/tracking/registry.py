"""The model registry: versions of ``nyc-taxi-regressor`` with aliases (MLflow's stages are
deprecated): ``challenger`` for the newest registered, ``champion`` for the one served."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from ..uris import ModelURI, is_model_uri, parse_model_uri
from .store import REGISTERED_MODEL, Store, TrackingError, mlflow_errors

CHALLENGER, CHAMPION = "challenger", "champion"
# Where MLflow's own registration records the versions made of a logged model (its UI shows
# them on the model's page; without it a registered model reads "Not registered").
MODEL_VERSIONS_TAG = "mlflow.modelVersions"

__all__ = [
    "CHALLENGER",
    "CHAMPION",
    "Version",
    "download",
    "has_alias",
    "is_model_uri",
    "promote",
    "register",
    "registered_taxi",
    "resolve",
    "versions",
]


@dataclass
class Version:
    name: str
    version: str
    run_id: str | None
    source: str
    tags: dict
    model_id: str | None = None
    aliases: list[str] = field(default_factory=list)

    @property
    def taxi(self) -> str | None:
        return self.tags.get("taxi")


def _logged_model_id(found) -> str | None:
    """The logged model a version was made of: MLflow 3 keeps it in the version's source,
    models:/<model id> (its model_id field is not always filled in)."""
    model_id = getattr(found, "model_id", None)
    source = str(found.source or "")
    if not model_id and source.startswith("models:/m-") and "/" not in source[8:]:
        model_id = source[len("models:/") :]
    return model_id


def _version(found, aliases=None) -> Version:
    return Version(
        found.name,
        str(found.version),
        found.run_id,
        found.source,
        dict(found.tags),
        _logged_model_id(found),
        list(aliases if aliases is not None else (getattr(found, "aliases", None) or [])),
    )


def registered_taxi(store: Store, name: str = REGISTERED_MODEL) -> str | None:
    """The taxi type a registered model holds (None if it does not exist yet)."""
    from mlflow.exceptions import MlflowException

    with mlflow_errors(store.uri):
        try:
            model = store.client.get_registered_model(name)
        except MlflowException as exc:
            if exc.error_code == "RESOURCE_DOES_NOT_EXIST":
                return None
            raise
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
    held = registered_taxi(store, name)
    if held is not None and held != taxi:
        raise TrackingError(
            f"the registered model {name} holds {held} taxi models, not {taxi}; register "
            "under another name (--registered-model)"
        )


def register(store: Store, run, taxi: str, name: str = REGISTERED_MODEL, tags=None) -> Version:
    """A new version of ``name`` from a tracked run's model, aliased ``challenger``, recorded
    on the logged model as MLflow's own registration records it. If any step fails, the
    version is deleted: nothing stays registered half-way."""
    from mlflow.exceptions import MlflowException

    client = store.client
    check_taxi(store, taxi, name)
    with mlflow_errors(store.uri):
        new_name = False
        try:
            client.create_registered_model(name, tags={"taxi": taxi})
            new_name = True
        except MlflowException as exc:
            if exc.error_code != "RESOURCE_ALREADY_EXISTS":
                raise
        created = None
        try:
            # The logged model's own location, not its models:/ URI: MLflow's registry resolves
            # that URI through its process-wide tracking URI, which this package never sets.
            source = client.get_logged_model(run.model_id).artifact_location
            created = client.create_model_version(
                name,
                source,
                run_id=run.run_id,
                tags={"taxi": taxi, **(tags or {})},
                model_id=run.model_id,
            )
            client.set_registered_model_alias(name, CHALLENGER, created.version)
            if run.model_id:
                _record_on_logged_model(store, run.model_id, name, str(created.version))
        except BaseException:
            if created is not None:
                client.delete_model_version(name, created.version)
            if new_name:
                client.delete_registered_model(name)
            raise
        return _version(created, [CHALLENGER])


def _record_on_logged_model(store: Store, model_id: str, name: str, version: str) -> None:
    logged = store.client.get_logged_model(model_id)
    made = json.loads(logged.tags.get(MODEL_VERSIONS_TAG, "[]"))
    made.append({"name": name, "version": version})
    store.client.set_logged_model_tags(model_id, {MODEL_VERSIONS_TAG: json.dumps(made)})


def resolve(store: Store, uri: str | ModelURI) -> tuple[Version, str | None]:
    """The version a models:/ URI names (with its aliases), and the alias it was named by."""
    from mlflow.exceptions import MlflowException

    named = uri if isinstance(uri, ModelURI) else parse_model_uri(uri)
    with mlflow_errors(store.uri):
        try:
            if named.alias:
                found = store.client.get_model_version_by_alias(named.name, named.alias)
            else:
                found = store.client.get_model_version(named.name, named.version)
        except MlflowException as exc:
            raise TrackingError(
                f"{named}: the registered model {named.name} has no {named.what} in "
                f"{store.uri} ({exc.error_code})"
            ) from None
    return _version(found), named.alias


def versions(store: Store, name: str = REGISTERED_MODEL) -> list[Version]:
    """Every version of ``name``, oldest first, each with its aliases (which MLflow's search
    of versions leaves out)."""
    with mlflow_errors(store.uri):
        found = store.client.search_model_versions(f"name='{name}'")
        aliases: dict[str, list[str]] = {}
        if found:
            for alias, number in (store.client.get_registered_model(name).aliases or {}).items():
                aliases.setdefault(str(number), []).append(alias)
    listed = [_version(v, sorted(aliases.get(str(v.version), []))) for v in found]
    return sorted(listed, key=lambda v: int(v.version))


PROMOTED_BY, PROMOTED_AT = "promoted_by", "promoted_at"


def promote(
    store: Store, version: str | None = None, name: str = REGISTERED_MODEL, by: str | None = None
) -> Version:
    """Move ``champion`` to ``version`` (default: the version aliased ``challenger``),
    recording on the version who promoted it (``by``, default the user running this) and
    when (MLflow's aliases keep neither)."""
    import datetime as dt
    import getpass

    named = ModelURI(name, version=str(version)) if version else ModelURI(name, CHALLENGER)
    chosen, _ = resolve(store, named)
    if by is None:
        try:
            by = getpass.getuser()
        except (KeyError, OSError):  # no user name for this uid (a container's)
            by = "unknown"
    when = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
    with mlflow_errors(store.uri):
        store.client.set_model_version_tag(name, chosen.version, PROMOTED_BY, by)
        store.client.set_model_version_tag(name, chosen.version, PROMOTED_AT, when)
        store.client.set_registered_model_alias(name, CHAMPION, chosen.version)
    return chosen


def tag_version(store: Store, version: Version, tags: dict) -> None:
    with mlflow_errors(store.uri):
        for key, value in tags.items():
            store.client.set_model_version_tag(version.name, version.version, key, str(value))


def download(store: Store, version: Version, folder: Path) -> Path:
    """The .bin (with its sidecar beside it) of a registered version, copied into ``folder``."""
    import mlflow.artifacts

    source = version.source
    with mlflow_errors(store.uri):
        if version.model_id:
            source = store.client.get_logged_model(version.model_id).artifact_location
        local = Path(
            mlflow.artifacts.download_artifacts(
                artifact_uri=source, dst_path=str(folder), tracking_uri=store.uri
            )
        )
    bins = sorted(local.glob("artifacts/*.bin"))
    if len(bins) != 1:
        raise TrackingError(
            f"models:/{version.name}/{version.version} holds no ride-duration model file "
            "(was it logged by ride-duration train --track?)"
        )
    return bins[0]


def registered_tags(store: Store, name: str = REGISTERED_MODEL) -> dict[str, str]:
    """The registered model's tags (none if it does not exist yet)."""
    from mlflow.exceptions import MlflowException

    with mlflow_errors(store.uri):
        try:
            return dict(store.client.get_registered_model(name).tags)
        except MlflowException as exc:
            if exc.error_code == "RESOURCE_DOES_NOT_EXIST":
                return {}
            raise


def tag_registered(store: Store, name: str, tags: dict) -> None:
    with mlflow_errors(store.uri):
        for key, value in tags.items():
            store.client.set_registered_model_tag(name, key, str(value))


def versions_tagged(store: Store, key: str, value: str, name: str = REGISTERED_MODEL):
    """The versions of ``name`` whose tag ``key`` is ``value``, oldest first."""
    return [v for v in versions(store, name) if v.tags.get(key) == value]


def run_metric(store: Store, run_id: str, key: str) -> float | None:
    with mlflow_errors(store.uri):
        return store.client.get_run(run_id).data.metrics.get(key)
