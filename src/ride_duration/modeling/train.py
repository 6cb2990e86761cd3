"""Train a ride-duration model on one month and validate it on another."""

from __future__ import annotations

import datetime as dt
import platform
import threading
import warnings
from dataclasses import dataclass, field, replace
from importlib import metadata as importlib_metadata
from pathlib import Path

import numpy as np

from ..config import DATA_DIR, MODELS_DIR
from ..data.dataset import (
    PLAUSIBLE_MILES,
    SCHEMAS,
    check_taxi,
    load_prepared,
    month_order_note,
    month_path,
    parse_months,
)
from ..data.download import MANIFEST_FILE, ensure_month, manifest_sha256
from ..errors import DataError, RideDurationError
from ..features import (
    Design,
    build_design,
    complete_rows,
    feature_set,
    needed_timestamps,
    required_columns,
)
from ..features.rich import distance_median
from ..files import sha256_file
from .artifact import check_model_name, prepare_model_dir, save_bytes
from .estimators import REGRESSORS, regressor
from .intervals import calibrate, coverage_sums, interval_metrics
from .model import Model, rmse
from .solver import SolverError, solve
from .statistics import statistics

LIBRARIES = ("numpy", "scipy", "pandas", "pyarrow", "scikit-learn")


ENGINES = ("local", "dask")
# Smaller batches only add overhead (a thousand rides cost a few milliseconds each); larger
# ones than a row group are read as the row group anyway.
MIN_BATCH, MAX_BATCH = 1_000, 1 << 30


def month_spec(text: str) -> str:
    """A checked month spec, written canonically: one month, a range, or a list."""
    months = parse_months(text)
    if len(months) == 1:
        return months[0]
    consecutive = [
        str(m) for m in np.arange(np.datetime64(months[0]), np.datetime64(months[-1]) + 1)
    ]
    return f"{months[0]}..{months[-1]}" if months == consecutive else ",".join(months)


def default_name(features: str, model: str) -> str:
    """lin_reg, lasso, ridge; prefixed by the feature set's prefix (rich_ridge, ...)."""
    return feature_set(features).name_prefix + regressor(model).file_name


def default_alpha(features: str, model: str) -> float | None:
    """The feature set's own strength for this regressor, else the regressor's default."""
    return feature_set(features).alphas.get(model, regressor(model).default_alpha)


@dataclass
class TrainOptions:
    taxi: str = "green"
    train_month: str = "2021-01"
    val_month: str = "2021-02"
    features: str = "lesson"
    model: str | None = None  # the feature set's default: linear, or ridge for rich
    alpha: float | None = None
    data_dir: Path = DATA_DIR
    model_dir: Path = MODELS_DIR
    name: str | None = None
    offline: bool = False
    base_url: str | None = None
    quiet: bool = False
    engine: str = "local"  # or "dask"
    scheduler: str | None = None  # a dask.distributed scheduler's address; None: a LocalCluster
    batch_rows: int | None = None  # rides read at a time when streaming

    def validated(self) -> TrainOptions:
        check_taxi(self.taxi)
        chosen = feature_set(self.features)
        model = self.model or chosen.default_model
        spec = regressor(model)
        if self.alpha is not None and (not np.isfinite(self.alpha) or self.alpha <= 0):
            raise RideDurationError(f"--alpha must be a positive number, not {self.alpha}")
        if self.alpha is not None and not spec.penalised:
            takes = ", ".join(r.name for r in REGRESSORS.values() if r.penalised)
            raise RideDurationError(f"--alpha applies to {takes}, not to {model}")
        if chosen.needs_distance and SCHEMAS[self.taxi].distance is None:
            raise RideDurationError(
                f"the {chosen.name} features need trip distances, which {self.taxi} files do "
                "not record"
            )
        train_month, val_month = month_spec(self.train_month), month_spec(self.val_month)
        if self.engine not in ENGINES:
            raise RideDurationError(f"unknown engine {self.engine!r}: choose {', '.join(ENGINES)}")
        if self.scheduler is not None and self.engine != "dask":
            raise RideDurationError("--scheduler goes with --engine dask")
        if self.scheduler is not None:
            from .stream import check_scheduler

            check_scheduler(self.scheduler)
        if self.batch_rows is not None and not MIN_BATCH <= self.batch_rows <= MAX_BATCH:
            raise RideDurationError(
                f"--batch-rows must be from {MIN_BATCH:,} to {MAX_BATCH:,} rides, not "
                f"{self.batch_rows:,}"
            )
        name = default_name(self.features, model) if self.name is None else self.name
        return replace(
            self,
            train_month=train_month,
            val_month=val_month,
            model=model,
            alpha=self.alpha if self.alpha is not None else default_alpha(self.features, model),
            data_dir=Path(self.data_dir),
            model_dir=Path(self.model_dir),
            name=name,
        )


@dataclass
class Fit:
    """A model fitted on rides in memory, with the train and validation designs it was
    measured on, and what its fit had to say (e.g. a solver that did not converge)."""

    model: Model
    design: Design
    val_design: Design | None = None
    notes: list[str] = field(default_factory=list)


@dataclass
class TrainResult:
    model: Model
    metrics: dict
    reports: dict
    metadata: dict
    warnings: list[str] = field(default_factory=list)
    model_path: Path | None = None

    @property
    def pipeline(self):
        return self.model.to_pipeline()


def _drop_incomplete(frame, features, report):
    frame, dropped = complete_rows(frame, required_columns(features, frame))
    report.dropped_missing_feature = dropped
    report.rows_kept -= dropped
    return frame


def fit(options: TrainOptions, train_frame, val_frame=None, *, intervals: bool = True) -> Fit:
    """Fit the model on a prepared frame (and build the validation design, if given), with
    its prediction intervals unless ``intervals`` is False. Linear and ridge are solved
    exactly; lasso by scikit-learn."""
    options = options.validated()
    y = train_frame["duration"].to_numpy()
    learns = feature_set(options.features).learns_distance_median
    median = distance_median(train_frame["trip_distance"]) if learns else None
    design, names = build_design(options.features, train_frame, distance_median=median)
    spec, estimator, notes = regressor(options.model), None, []
    if not spec.exact:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            estimator = spec.estimator(options.alpha).fit(design.matrix, y)
        coef, intercept = _coefficients(estimator)
        notes = list(dict.fromkeys(f"{options.model}: {w.message}" for w in caught))

        def fit_without(mask):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                rest = ~mask
                return _coefficients(
                    spec.estimator(options.alpha).fit(design.rows(rest).matrix, y[rest])
                )
    else:
        stats = statistics(design, y)
        coef, intercept = _solve(options, stats)

        def fit_without(mask):
            return _solve(options, stats - statistics(design.rows(mask), y[mask]))

    if not (np.isfinite(coef).all() and np.isfinite(intercept)):
        raise DataError(
            "the fitted coefficients are not all finite (a numerical feature too large to "
            "square?); the model is not saved"
        )
    model = Model(
        options.features, names, coef, intercept, options.model, options.alpha, median, estimator
    )
    if intervals:
        model = replace(model, intervals=calibrate(design, y, fit_without))
    val_design = model.design(val_frame) if val_frame is not None else None
    return Fit(model, design, val_design, notes)


def _coefficients(estimator) -> tuple[np.ndarray, float]:
    return np.ravel(estimator.coef_), float(np.ravel(estimator.intercept_)[0])


def _solve(options: TrainOptions, stats) -> tuple[np.ndarray, float]:
    """The exact fit from sufficient statistics, with the regressor's penalty."""
    alpha = options.alpha if regressor(options.model).penalised else 0.0
    try:
        return solve(stats, alpha)
    except SolverError as exc:
        raise RideDurationError(f"{options.features} features, {options.model}: {exc}") from None


def _input_record(path: Path, notes: list[str]) -> dict:
    digest = sha256_file(path)
    recorded = manifest_sha256(path)
    if recorded and recorded != digest:
        notes.append(
            f"{path} differs from the file downloaded on record (data/{MANIFEST_FILE}); "
            "check it with `ride-duration download --verify`"
        )
    return {"file": path.name, "size": path.stat().st_size, "sha256": digest}


def library_versions() -> dict:
    versions = {"python": platform.python_version()}
    for name in LIBRARIES:
        try:
            versions[name] = importlib_metadata.version(name)
        except importlib_metadata.PackageNotFoundError:
            versions[name] = None
    return versions


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


def train(options: TrainOptions, *, save: bool = True) -> TrainResult:
    """Read the months, fit, measure and (by default) save. Raises RideDurationError on
    anything the user can fix."""
    options = options.validated()
    months, val_months = parse_months(options.train_month), parse_months(options.val_month)
    streaming = (
        len(months) > 1 or len(val_months) > 1 or options.engine != "local" or options.batch_rows
    )
    start_background_imports()  # while the months are read
    notes = [note] if (note := month_order_note(months, val_months)) else []
    if save:  # before minutes of work, not after
        prepare_model_dir(options.model_dir)
        check_model_name(options.model_dir, options.name)
    _ensure_months(options, [*months, *val_months])
    fitter = _fit_streaming if streaming else _fit_in_memory
    model, metrics, train_report, val_report, fit_notes = fitter(options, months, val_months)
    notes.extend(fit_notes)
    bad = [k for k, v in metrics.items() if isinstance(v, float) and not np.isfinite(v)]
    if bad:
        raise DataError(
            f"the model's {', '.join(bad)} is not finite (a numerical feature too large to "
            "square?); the model is not saved"
        )
    reports = {"train": train_report.as_dict(), "val": val_report.as_dict()}
    inputs = [
        _input_record(month_path(options.taxi, month, options.data_dir), notes)
        for month in dict.fromkeys([*months, *val_months])
    ]
    metadata = model_metadata(options, model, metrics, reports, inputs)
    result = TrainResult(model, metrics, reports, metadata, notes)
    if save:
        result.model_path = save_bytes(model.to_bytes(), metadata, options.model_dir, options.name)
    return result


def model_metadata(options: TrainOptions, model: Model, metrics, reports, inputs) -> dict:
    """The sidecar of a trained model: what it was trained on, how, and how well it does."""
    spec = regressor(options.model)
    features = {
        "set": options.features,
        "categorical": list(feature_set(options.features).categorical),
        "numerical": model.numerical,
    }
    if model.distance_median is not None:
        features |= {"distance_median": model.distance_median, "distance_cap": PLAUSIBLE_MILES}
    intervals = {"intervals": model.intervals.as_dict()} if model.intervals else {}
    return {
        "format": 1,
        "name": options.name,
        "taxi": options.taxi,
        "train_month": options.train_month,
        "val_month": options.val_month,
        "train_months": parse_months(options.train_month),
        "val_months": parse_months(options.val_month),
        "features": features,
        "model": {
            "kind": options.model,
            "class": spec.sklearn_class,
            "params": {"alpha": options.alpha} if options.alpha is not None else {},
            "solver": spec.solver,
        },
        "metrics": metrics,
        "rows": reports,
        "inputs": inputs,
        "versions": library_versions(),
        "created_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
    } | intervals


def _ensure_months(options: TrainOptions, months: list[str]) -> None:
    """Every month on disk, downloading what is missing; offline, every missing month is
    named at once."""
    months = list(dict.fromkeys(months))
    if options.offline:
        missing = [m for m in months if not month_path(options.taxi, m, options.data_dir).exists()]
        if len(missing) > 1:
            names = [month_path(options.taxi, m, options.data_dir).name for m in missing]
            files = ", ".join(names[:6]) + (f" and {len(names) - 6} more" if len(names) > 6 else "")
            raise DataError(
                f"{len(missing)} month files are not in {options.data_dir} (--offline): "
                f"{files}; get them with `ride-duration download --taxi {options.taxi} "
                f"--month {' --month '.join(missing)}`"
            )
    for month in months:
        ensure_month(
            options.taxi,
            month,
            options.data_dir,
            base_url=options.base_url,
            offline=options.offline,
            quiet=options.quiet,
        )


def _fit_in_memory(options: TrainOptions, months=None, val_months=None):
    """One training and one validation month, each read whole: the fastest way for a month."""
    timestamps = needed_timestamps(options.features)
    train_frame, train_report = load_prepared(
        options.taxi, options.train_month, options.data_dir, timestamps=timestamps
    )
    val_frame, val_report = load_prepared(
        options.taxi, options.val_month, options.data_dir, timestamps=timestamps
    )
    train_frame = _drop_incomplete(train_frame, options.features, train_report)
    val_frame = _drop_incomplete(val_frame, options.features, val_report)
    if train_report.rows_kept == 0 or val_report.rows_kept == 0:
        raise DataError("no ride has every feature recorded")
    fitted = fit(options, train_frame, val_frame)
    model = fitted.model
    y_train = train_frame["duration"].to_numpy()
    y_val = val_frame["duration"].to_numpy()
    val_predicted = model.predict_design(fitted.val_design)
    covered, width = coverage_sums(y_val, *model.predict_intervals(val_predicted))
    metrics = {
        "n_train": len(y_train),
        "n_val": len(y_val),
        "n_features": fitted.design.n_features,
        "train_rmse": rmse(y_train, model.predict_design(fitted.design)),
        "val_rmse": rmse(y_val, val_predicted),
        "baseline_rmse": rmse(y_val, np.full_like(y_val, y_train.mean())),
        "distance_weight": model.distance_weight,
        **interval_metrics(covered, width, len(y_val)),
    }
    return model, metrics, train_report, val_report, fitted.notes


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
        with stream.dask_client(options.scheduler) as client:
            streamed = stream.fit_months(options, months, val_months, _solve, client)
    else:
        streamed = stream.fit_months(options, months, val_months, _solve)
    stats, model, errors = streamed.part.stats, streamed.model, streamed.errors
    if stats.n == 0 or errors.rides == 0:
        raise DataError("no ride has every feature recorded")
    metrics = {
        "n_train": stats.n,
        "n_val": errors.rides,
        "n_features": len(model.feature_names),
        "train_rmse": float(np.sqrt(stats.sse(model.coef, model.intercept) / stats.n)),
        "val_rmse": float(np.sqrt(errors.sse / errors.rides)),
        "baseline_rmse": float(np.sqrt(errors.baseline_sse / errors.rides)),
        "distance_weight": model.distance_weight,
        **interval_metrics(errors.covered, errors.width_sum, errors.rides),
    }
    return model, metrics, streamed.part.report, errors.report, []
