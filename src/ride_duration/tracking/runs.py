"""One MLflow run per trained model: its parameters, metrics, tags, the saved .bin and sidecar
(as files, and as an MLflow model that ``mlflow.pyfunc.load_model`` loads), and its plots."""

from __future__ import annotations

import subprocess
import warnings
from dataclasses import dataclass
from pathlib import Path

from ..config import PROJECT_ROOT
from ..data.dataset import parse_months
from ..modeling.artifact import sidecar_path
from .store import Store, mlflow_errors

MODEL_NAME_IN_RUN = "model"
BIN_SHA_TAG = "ride_duration.bin_sha256"
PARAMS = ("taxi", "train_month", "val_month", "features", "model", "alpha", "engine", "batch_rows")


@dataclass
class TrackedRun:
    run_id: str
    model_uri: str | None = None  # what a registered version points at
    model_id: str | None = None  # MLflow's logged model


def git_commit(root: Path = PROJECT_ROOT) -> str | None:
    """The checkout's commit (with '-dirty' when files differ from it), or None outside git."""
    try:
        commit = subprocess.run(
            ["git", "-C", str(root), "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            timeout=5,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            timeout=5,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return commit + ("-dirty" if dirty else "") if commit else None


def requirements() -> list[str]:
    """What loading the logged model needs: this package and the libraries it was saved with."""
    from ..config import VERSION
    from ..modeling.train import library_versions

    pins = [f"{lib}=={v}" for lib, v in library_versions().items() if lib != "python" and v]
    return [f"ride-duration=={VERSION}", *pins]


def signature():
    """Rides in the service's shape (every field optional: a model asks only for what its
    features read; zones missing: -1), minutes out."""
    from mlflow.models import ModelSignature
    from mlflow.types import ColSpec, Schema

    rides = Schema(
        [
            ColSpec("long", "PULocationID", required=False),
            ColSpec("long", "DOLocationID", required=False),
            ColSpec("double", "trip_distance", required=False),
            ColSpec("datetime", "pickup_datetime", required=False),
        ]
    )
    return ModelSignature(inputs=rides, outputs=Schema([ColSpec("double", "duration")]))


def run_params(options) -> dict:
    """The options a run was trained with; what was left to its default says so ("none" for
    no alpha, "whole months" when one month is read at once)."""
    params = {key: getattr(options, key) for key in PARAMS}
    if params["batch_rows"] is None:
        months = [*parse_months(options.train_month), *parse_months(options.val_month)]
        streamed = len(months) > 2 or options.engine != "local"
        params["batch_rows"] = "default (1048576)" if streamed else "whole months"
    return {key: "none" if value is None else value for key, value in params.items()}


def run_metrics(metrics: dict, reports: dict, seconds: float | None) -> dict:
    """The numbers of a training: its metrics, and per part (train, val) the rides read, kept
    and dropped or flagged by each rule."""
    numbers = {k: float(v) for k, v in metrics.items() if isinstance(v, (int, float)) and v == v}
    for part, report in reports.items():
        numbers |= {f"{part}.{rule}": float(count) for rule, count in report.items()}
    if seconds is not None:
        numbers["seconds"] = float(seconds)
    return numbers


def run_tags(metadata: dict) -> dict:
    tags = {
        "taxi": metadata["taxi"],
        "features": metadata["features"]["set"],
        "ride_duration.model_name": metadata["name"],
        BIN_SHA_TAG: metadata["bin_sha256"],
    }
    tags |= {f"input.{i['file']}.sha256": i["sha256"] for i in metadata.get("inputs", [])}
    tags |= {f"version.{lib}": str(v) for lib, v in metadata.get("versions", {}).items()}
    if commit := git_commit():
        tags["git_commit"] = commit
    return tags


def log_training(
    store: Store,
    options,
    metrics: dict,
    reports: dict,
    metadata: dict,
    model_path: Path,
    seconds: float | None = None,
    plots: list[Path] = (),
) -> TrackedRun:
    """Log one trained, saved model as a finished run of the experiment."""
    import mlflow

    name = f"{metadata['name']} {options.taxi} {options.train_month} -> {options.val_month}"
    with mlflow_errors(store.uri):
        experiment = store.experiment()
        with mlflow.start_run(experiment_id=experiment, run_name=name) as run:
            mlflow.log_params(run_params(options))
            mlflow.log_metrics(run_metrics(metrics, reports, seconds))
            mlflow.set_tags(run_tags(metadata))
            files = [Path(model_path), sidecar_path(model_path)]
            for path in files:
                mlflow.log_artifact(str(path), artifact_path="model_files")
            for path in plots:
                mlflow.log_artifact(str(path), artifact_path="plots")
            logged = log_pyfunc(files)
        return TrackedRun(run.info.run_id, logged.model_uri, logged.model_id)


def log_pyfunc(files: list[Path]):
    """The saved model as an MLflow model whose code is ``mlflow_model.py`` (no pickle)."""
    import mlflow.pyfunc

    from .pyfunc import MODEL_ARTIFACT, SIDECAR_ARTIFACT

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return mlflow.pyfunc.log_model(
            name=MODEL_NAME_IN_RUN,
            python_model=str(Path(__file__).with_name("mlflow_model.py")),
            artifacts={MODEL_ARTIFACT: str(files[0]), SIDECAR_ARTIFACT: str(files[1])},
            pip_requirements=requirements(),
            signature=signature(),
        )


def run_of_model(store: Store, bin_sha256: str) -> str | None:
    """The id of the run that logged the model with these bytes (None: never tracked)."""
    with mlflow_errors(store.uri):
        found = store.client.search_runs(
            [store.experiment()],
            filter_string=f"tags.`{BIN_SHA_TAG}` = '{bin_sha256}'",
            max_results=1,
        )
    return found[0].info.run_id if found else None


def log_to_run(store: Store, run_id: str, metrics: dict, step: int, files=(), folder="") -> None:
    """Add metrics at ``step`` (and files) to an existing run, e.g. a model's monitoring."""
    import time

    from mlflow.entities import Metric

    now = int(time.time() * 1000)
    batch = [Metric(k, float(v), now, step) for k, v in metrics.items()]
    with mlflow_errors(store.uri):
        store.client.log_batch(run_id, metrics=batch)
        for path in files:
            store.client.log_artifact(run_id, str(path), folder or None)


COMPARE_METRICS = {
    "train RMSE": "train_rmse",
    "val RMSE": "val_rmse",
    "min per mile": "distance_weight",
    "80% coverage": "val_coverage",
    "80% width": "val_interval_width",
}


def log_comparison(store: Store, table, params: dict) -> list[str]:
    """One finished run per row of ``compare``'s table (nothing is saved, so no model)."""
    import mlflow

    run_ids = []
    with mlflow_errors(store.uri):
        experiment = store.experiment()
        for label, row in table.iterrows():
            with mlflow.start_run(experiment_id=experiment, run_name=str(label)) as run:
                mlflow.log_params(params | {"compared": label})
                numbers = {
                    key: float(row[column])
                    for column, key in COMPARE_METRICS.items()
                    if column in row and row[column] == row[column] and row[column] is not None
                }
                mlflow.log_metrics(numbers)
                mlflow.set_tags({"ride_duration.command": "compare", "taxi": params["taxi"]})
            run_ids.append(run.info.run_id)
    return run_ids
