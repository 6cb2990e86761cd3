"""One MLflow run per trained model: its parameters, metrics, tags, the saved .bin and sidecar
(as files, and as an MLflow model that ``mlflow.pyfunc.load_model`` loads), and its plots. All
through the store's client: nothing here sets or reads MLflow's process-wide state."""

from __future__ import annotations

import tempfile
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

from ..data.months import parse_months
from ..modeling.artifact import sidecar_path
from ..modeling.options import BATCH_ROWS
from ..modeling.provenance import git_commit
from .store import Store, mlflow_errors

MODEL_NAME_IN_RUN = "model"
BIN_SHA_TAG = "ride_duration.bin_sha256"
PARAMS = ("taxi", "train_month", "val_month", "features", "model", "alpha", "engine", "batch_rows")


@dataclass
class TrackedRun:
    run_id: str
    model_uri: str | None = None  # what a registered version points at
    model_id: str | None = None  # MLflow's logged model
    experiment_id: str | None = None

    def ui_url(self, store_uri: str) -> str:
        """Where MLflow's UI shows this run: on the tracking server, or on `make mlflow-ui`'s
        for a local store. ``workflowType=machine_learning`` opens MLflow 3's UI on runs and
        models, not on its GenAI view (the UI's default, which an experiment's kind tag does
        not change). The UI remembers the view only once "Model training" is clicked in its
        sidebar."""
        base = store_uri if store_uri.startswith(("http://", "https://")) else UI_URL
        return (
            f"{base.rstrip('/')}/#/experiments/{self.experiment_id}/runs/{self.run_id}"
            "?workflowType=machine_learning"
        )


UI_URL = "http://127.0.0.1:5000"  # make mlflow-ui


def requirements() -> list[str]:
    """What loading the logged model needs: this package and the libraries it was saved with
    (given to MLflow, so that it infers nothing from the installed packages)."""
    from ..config import VERSION
    from ..modeling.provenance import library_versions

    pins = [f"{lib}=={v}" for lib, v in library_versions().items() if lib != "python" and v]
    return [f"ride-duration=={VERSION}", *pins]


def signature():
    """Minutes out (and, asked, their explanation). The input is left undeclared on
    purpose: MLflow drops the columns a declared input schema does not name, so a misspelt
    ``PULocationId`` would pass for a missing zone; the model checks its input itself and
    names what it does not know (``pyfunc.rides_of``: PULocationID, DOLocationID or PU_DO,
    trip_distance, pickup_datetime)."""
    from mlflow.models import ModelSignature
    from mlflow.types import ColSpec, ParamSchema, ParamSpec, Schema

    return ModelSignature(
        inputs=None,
        outputs=Schema([ColSpec("double", "duration")]),
        # predict(rides, params={"explain": True}): a frame of each ride's duration and the
        # parts that add up to it (pyfunc.RideDurationModel).
        params=ParamSchema([ParamSpec("explain", "boolean", False)]),
    )


def run_params(options) -> dict:
    """The options a run was trained with; what was left to its default says so ("none" for
    no alpha, "whole months" when one month is read at once)."""
    params = {key: getattr(options, key) for key in PARAMS}
    if params["batch_rows"] is None:
        months = [*parse_months(options.train_month), *parse_months(options.val_month)]
        streamed = len(months) > 2 or options.engine != "local"
        params["batch_rows"] = f"default ({BATCH_ROWS})" if streamed else "whole months"
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


def _batch(store: Store, run_id: str, params=None, metrics=None, tags=None, step: int = 0):
    from mlflow.entities import Metric, Param, RunTag

    now = int(time.time() * 1000)
    store.client.log_batch(
        run_id,
        metrics=[Metric(k, float(v), now, step) for k, v in (metrics or {}).items()],
        params=[Param(k, str(v)) for k, v in (params or {}).items()],
        tags=[RunTag(k, str(v)) for k, v in (tags or {}).items()],
    )


def open_training_run(
    store: Store, options, result, model_path: Path, seconds: float | None = None
) -> TrackedRun:
    """Log one trained, saved model (a ``TrainResult``) as a run of the experiment: its
    parameters, metrics, tags, files and the MLflow model. The run stays open for its plots
    (``close_training_run``); if logging fails, it is closed as failed."""
    metadata = result.metadata
    name = f"{metadata['name']} {options.taxi} {options.train_month} -> {options.val_month}"
    client = store.client
    with mlflow_errors(store.uri):
        run = client.create_run(store.experiment(), run_name=name)
        run_id = run.info.run_id
        try:
            _batch(
                store,
                run_id,
                params=run_params(options),
                metrics=run_metrics(result.metrics.as_dict(), result.reports, seconds),
                tags=run_tags(metadata),
            )
            files = [Path(model_path), sidecar_path(model_path)]
            for path in files:
                client.log_artifact(run_id, str(path), "model_files")
            model_uri, model_id = log_pyfunc(store, run_id, files)
        except BaseException:
            client.set_terminated(run_id, "FAILED")
            raise
    return TrackedRun(run_id, model_uri, model_id, store.experiment())


def close_training_run(store: Store, run: TrackedRun, plots=(), failed: bool = False) -> None:
    """Add the run's plots and end it (FINISHED, or FAILED)."""
    with mlflow_errors(store.uri):
        try:
            for path in plots:
                store.client.log_artifact(run.run_id, str(path), "plots")
        except BaseException:
            store.client.set_terminated(run.run_id, "FAILED")
            raise
        store.client.set_terminated(run.run_id, "FAILED" if failed else "FINISHED")


def log_text(store: Store, run: TrackedRun, text: str, name: str) -> None:
    """A text file (a model card) among the run's artifacts."""
    with mlflow_errors(store.uri):
        store.client.log_text(run.run_id, text, name)


def log_training(
    store: Store,
    options,
    result,
    model_path: Path,
    seconds: float | None = None,
    plots: list[Path] = (),
) -> TrackedRun:
    """Log one trained, saved model (a ``TrainResult``) as a finished run of the experiment."""
    run = open_training_run(store, options, result, model_path, seconds)
    close_training_run(store, run, plots)
    return run


def warm_requirements_check() -> None:
    """Build, ahead of time, the map of installed packages that MLflow consults when it
    checks a logged model's requirements against this environment (about half a second,
    spent while a worker still trains instead of after it)."""
    try:
        from mlflow.utils import requirements_utils

        requirements_utils._init_packages_to_modules_map()
    except Exception:  # a private helper of MLflow's: without it, the check just runs later
        pass


def log_pyfunc(store: Store, run_id: str, files: list[Path]) -> tuple[str, str]:
    """The saved model as an MLflow logged model of the run, whose code is
    ``mlflow_model.py`` (no pickle): (its models:/ URI, its id)."""
    import mlflow.pyfunc
    from mlflow.entities import LoggedModelOutput, LoggedModelStatus
    from mlflow.models import Model

    from .pyfunc import MODEL_ARTIFACT, SIDECAR_ARTIFACT

    client = store.client
    logged = client.create_logged_model(
        store.experiment(), name=MODEL_NAME_IN_RUN, source_run_id=run_id
    )
    client.log_outputs(run_id, [LoggedModelOutput(logged.model_id, step=0)])
    described = Model(
        artifact_path=logged.artifact_location,
        model_uuid=logged.model_id,
        run_id=run_id,
        model_id=logged.model_id,
    )
    with tempfile.TemporaryDirectory(prefix="ride-duration-pyfunc-") as folder:
        local = Path(folder) / MODEL_NAME_IN_RUN
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            mlflow.pyfunc.save_model(
                path=str(local),
                python_model=str(Path(__file__).with_name("mlflow_model.py")),
                artifacts={MODEL_ARTIFACT: str(files[0]), SIDECAR_ARTIFACT: str(files[1])},
                pip_requirements=requirements(),
                signature=signature(),
                mlflow_model=described,
            )
        client.log_model_artifacts(logged.model_id, str(local))
    client.finalize_logged_model(logged.model_id, LoggedModelStatus.READY)
    return f"models:/{logged.model_id}", logged.model_id


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
    with mlflow_errors(store.uri):
        _batch(store, run_id, metrics=metrics, step=step)
        for path in files:
            store.client.log_artifact(run_id, str(path), folder or None)


def tag_run(store: Store, run_id: str, tags: dict) -> None:
    with mlflow_errors(store.uri):
        _batch(store, run_id, tags=tags)


COMPARE_METRICS = {
    "train RMSE": "train_rmse",
    "val RMSE": "val_rmse",
    "min per mile": "distance_weight",
    "80% coverage": "val_coverage",
    "80% width": "val_interval_width",
}


def log_comparison(store: Store, table, params: dict) -> list[str]:
    """One finished run per row of ``compare``'s table (nothing is saved, so no model)."""
    run_ids = []
    with mlflow_errors(store.uri):
        experiment = store.experiment()
        for label, row in table.iterrows():
            run = store.client.create_run(experiment, run_name=str(label))
            numbers = {
                key: float(row[column])
                for column, key in COMPARE_METRICS.items()
                if column in row and row[column] == row[column] and row[column] is not None
            }
            tags = {"ride_duration.command": "compare", "taxi": params["taxi"]}
            _batch(store, run.info.run_id, params | {"compared": label}, numbers, tags)
            store.client.set_terminated(run.info.run_id, "FINISHED")
            run_ids.append(run.info.run_id)
    return run_ids


def month_step(month: str) -> int:
    """A month as an MLflow metric step: months since TLC's first (2009-01 is 0, 2021-03 is
    146), so consecutive months are consecutive steps across a year's end."""
    year, number = (int(part) for part in month.split("-"))
    return (year - 2009) * 12 + number - 1


def log_monitoring(store: Store, run_id: str, result, files=()) -> None:
    """A month's monitoring (a ``MonitorResult``) on the run that logged the model: every
    headline number as ``monitor.<name>`` at the month's step, and the report's files. The
    live traffic's as ``monitor.live.<name>``, at the step of the month of its last ride."""
    prefix, month = "monitor.", result.month
    if result.live:
        prefix, month = "monitor.live.", result.window.last[:7]
    metrics = {f"{prefix}{name}": value for name, value in result.headline().items()}
    folder = "monitoring/live" if result.live else "monitoring"
    log_to_run(store, run_id, metrics, month_step(month), files, folder)
