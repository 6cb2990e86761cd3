"""Train a ride-duration model on some months and validate it on others: read, fit, evaluate,
and save the model with its sidecar."""

from __future__ import annotations

import threading
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from ..data.download import ensure_months
from ..data.months import month_order_note, month_path, parse_months
from ..data.prepare import PrepareReport
from ..errors import DataError, RideDurationError
from .artifact import (
    check_model_dir,
    check_model_name,
    prepare_model_dir,
    read_metadata,
    save_bytes,
)
from .estimators import REGRESSORS, regressor
from .evaluate import Evaluation, evaluate_frame
from .fit import fit
from .intervals import LEVEL, too_few_to_calibrate
from .model import Model, rmse, unseen_pairs
from .options import TrainOptions
from .provenance import input_record, model_metadata
from .rides import whole_month

__all__ = ["Metrics", "TrainOptions", "TrainResult", "fit", "rmse", "train"]


@dataclass(frozen=True)
class Metrics:
    """How well a trained model does: on its training rides and on the validation months."""

    n_train: int
    n_val: int
    n_features: int
    train_rmse: float
    val_rmse: float
    baseline_rmse: float | None  # of predicting the training mean on the validation rides
    distance_weight: float | None  # minutes per mile, if the model reads the distance
    interval_level: float = LEVEL
    val_coverage: float | None = None
    val_interval_width: float | None = None
    # The mean predicted minutes on the training rides: the reference a live mean is watched
    # against (the service's metrics, deploy/prometheus' drift alert).
    train_mean_predicted: float | None = None

    @classmethod
    def of(
        cls,
        model: Model,
        n_train: int,
        train_rmse: float,
        validation: Evaluation,
        train_mean_predicted: float | None = None,
    ) -> Metrics:
        return cls(
            n_train=n_train,
            n_val=validation.rides,
            n_features=len(model.feature_names),
            train_rmse=train_rmse,
            val_rmse=validation.rmse,
            baseline_rmse=validation.baseline_rmse,
            distance_weight=model.distance_weight,
            interval_level=validation.level,
            val_coverage=validation.coverage,
            val_interval_width=validation.mean_width,
            train_mean_predicted=train_mean_predicted,
        )

    def as_dict(self) -> dict:
        return asdict(self)

    def not_finite(self) -> list[str]:
        return [
            name
            for name, value in self.as_dict().items()
            if isinstance(value, float) and not np.isfinite(value)
        ]


@dataclass
class TrainResult:
    model: Model
    metrics: Metrics
    train_report: PrepareReport
    validation: Evaluation
    metadata: dict  # the sidecar
    warnings: list[str] = field(default_factory=list)
    model_path: Path | None = None
    # The validation rides' actual and predicted minutes, and which had a pickup/dropoff pair
    # training never saw, when they were scored in memory (one validation month): what the
    # predicted-vs-actual plot draws, without scoring the month again.
    scored: tuple | None = field(default=None, repr=False)

    @property
    def reports(self) -> dict:
        """What the data rules did to the training and the validation rides."""
        return {"train": self.train_report.as_dict(), "val": self.validation.report.as_dict()}

    @property
    def pipeline(self):
        return self.model.to_pipeline()


def _import_sklearn() -> None:
    import sklearn.feature_extraction  # noqa: F401
    import sklearn.linear_model  # noqa: F401
    import sklearn.metrics  # noqa: F401
    import sklearn.pipeline  # noqa: F401


def start_background_imports() -> threading.Thread:
    """Import scikit-learn (about a second, mostly SciPy parsing docstrings), which saving the
    Pipeline needs, on another thread while this one reads parquet, which releases the GIL."""
    thread = threading.Thread(target=_import_sklearn, name="import-sklearn", daemon=True)
    thread.start()
    return thread


def train(
    options: TrainOptions,
    *,
    save: bool = True,
    saved_later: bool = False,
    keep_scored: bool = False,
) -> TrainResult:
    """Read the months, fit, measure and (by default) save. Raises RideDurationError on
    anything the user can fix. The model folder and name are checked before any work, also
    when the model is saved later (``saved_later``: by ``save_result``). ``keep_scored``
    keeps the validation rides' minutes (``TrainResult.scored``) for the plots."""
    options = options.validated()
    months, val_months = parse_months(options.train_month), parse_months(options.val_month)
    streaming = (
        len(months) > 1 or len(val_months) > 1 or options.engine != "local" or options.batch_rows
    )
    start_background_imports()  # while the months are read
    notes = [note] if (note := month_order_note(months, val_months)) else []
    if save:  # before minutes of work, not after
        prepare_model_dir(options.model_dir)
    elif saved_later:  # checked, made only when saved (a refused run leaves nothing)
        check_model_dir(options.model_dir)
    if save or saved_later:
        check_model_name(options.model_dir, options.name)
    ensure_months(
        options.taxi,
        [*months, *val_months],
        options.data_dir,
        base_url=options.base_url,
        offline=options.offline,
        quiet=options.quiet,
    )
    fitter = _fit_streaming if streaming else _fit_in_memory
    model, metrics, train_report, validation, fit_notes, scored = fitter(
        options, months, val_months
    )
    notes.extend(fit_notes)
    if bad := metrics.not_finite():
        raise DataError(
            f"the model's {', '.join(bad)} is not finite (a numerical feature too large to "
            "square?); the model is not saved"
        )
    reports = {"train": train_report.as_dict(), "val": validation.report.as_dict()}
    inputs = [
        input_record(month_path(options.taxi, month, options.data_dir), notes)
        for month in dict.fromkeys([*months, *val_months])
    ]
    metadata = model_metadata(options, model, metrics.as_dict(), reports, inputs)
    scored = scored if keep_scored else None
    result = TrainResult(model, metrics, train_report, validation, metadata, notes, scored=scored)
    return save_result(result, options) if save else result


def save_result(result: TrainResult, options: TrainOptions) -> TrainResult:
    """Save a trained model and its sidecar under the options' folder and name."""
    options = options.validated()
    data = result.model.to_bytes()
    result.model_path = save_bytes(data, result.metadata, options.model_dir, options.name)
    result.metadata = read_metadata(result.model_path, data)  # with the saved bytes' sha256
    return result


def _fit_in_memory(options: TrainOptions, months: list[str], val_months: list[str]):
    """One training and one validation month, each read whole: the fastest way for a month."""
    train_frame, train_report = whole_month(
        options.taxi, months[0], options.data_dir, options.features
    )
    if problem := too_few_to_calibrate(train_report.rows_kept):
        raise DataError(f"{month_path(options.taxi, months[0], options.data_dir)}: {problem}")
    val_frame, val_report = whole_month(
        options.taxi, val_months[0], options.data_dir, options.features
    )
    fitted = fit(options, train_frame, val_frame)
    model = fitted.model
    y_train = train_frame["duration"].to_numpy()
    predicted = model.predict_design(fitted.val_design)
    validation = evaluate_frame(
        model,
        val_frame,
        predicted=predicted,
        train_mean=float(y_train.mean()),
        report=val_report,
    )
    train_predicted = model.predict_design(fitted.design)
    train_rmse = rmse(y_train, train_predicted)
    metrics = Metrics.of(model, len(y_train), train_rmse, validation, float(train_predicted.mean()))
    scored = (val_frame["duration"].to_numpy(), predicted, unseen_pairs(model, fitted.val_design))
    return model, metrics, train_report, validation, fitted.notes, scored


def _fit_streaming(options: TrainOptions, months: list[str], val_months: list[str]):
    """Many months, a batch at a time, here or on a Dask cluster (see ``stream``)."""
    from . import stream

    spec = regressor(options.model)
    if not spec.exact:
        exact = ", ".join(r.name for r in REGRESSORS.values() if r.exact)
        raise RideDurationError(
            f"{spec.name} needs its rides in memory: train it on one month with the local "
            f"engine ({exact} work from statistics that add up over months)"
        )
    if options.engine == "dask":
        from .engine import dask_client

        with dask_client(options.scheduler) as client:
            streamed = stream.fit_months(options, months, val_months, client)
    else:
        streamed = stream.fit_months(options, months, val_months)
    stats, model = streamed.part.stats, streamed.model
    train_rmse = float(np.sqrt(stats.sse(model.coef, model.intercept) / stats.n))
    mean = stats.mean_prediction(model.coef, model.intercept)
    metrics = Metrics.of(model, stats.n, train_rmse, streamed.validation, mean)
    return model, metrics, streamed.part.report, streamed.validation, [], None
