"""Train a ride-duration model on one month and validate it on another."""

from __future__ import annotations

import datetime as dt
import pickle
import platform
import threading
import warnings
from dataclasses import dataclass, field, replace
from importlib import metadata as importlib_metadata
from pathlib import Path

import numpy as np

from ..config import DATA_DIR, MODELS_DIR
from ..dataset import check_taxi, load_prepared, month_path, parse_month
from ..download import MANIFEST_FILE, ensure_month, manifest_sha256
from ..errors import DataError, RideDurationError
from ..features import (
    FEATURE_SETS,
    Design,
    complete_rows,
    feature_columns,
    fit_feature_names,
    transform,
)
from ..files import sha256_file
from .artifact import prepare_model_dir, save_bytes
from .estimators import build_pipeline, can_skip_import, linear_regression, pickle_linear_pipeline
from .solver import solve_exact

MODELS = ("linear", "lasso", "ridge")
DEFAULT_ALPHA = {"lasso": 0.01, "ridge": 1.0}
DEFAULT_NAME = {"linear": "lin_reg", "lasso": "lasso", "ridge": "ridge"}
LIBRARIES = ("numpy", "scipy", "pandas", "pyarrow", "scikit-learn")


@dataclass
class TrainOptions:
    taxi: str = "green"
    train_month: str = "2021-01"
    val_month: str = "2021-02"
    features: str = "lesson"
    model: str = "linear"
    alpha: float | None = None
    data_dir: Path = DATA_DIR
    model_dir: Path = MODELS_DIR
    name: str | None = None
    offline: bool = False
    base_url: str | None = None
    quiet: bool = False

    def validated(self) -> TrainOptions:
        check_taxi(self.taxi)
        if self.features not in FEATURE_SETS:
            raise RideDurationError(
                f"unknown feature set {self.features!r}: choose {', '.join(FEATURE_SETS)}"
            )
        if self.model not in MODELS:
            raise RideDurationError(f"unknown model {self.model!r}: choose {', '.join(MODELS)}")
        if self.alpha is not None and (not np.isfinite(self.alpha) or self.alpha <= 0):
            raise RideDurationError(f"--alpha must be a positive number, not {self.alpha}")
        if self.alpha is not None and self.model == "linear":
            raise RideDurationError("--alpha applies to lasso and ridge, not to linear")
        train_month, val_month = parse_month(self.train_month), parse_month(self.val_month)
        name = self.name or DEFAULT_NAME[self.model]
        if not name or "/" in name or name.startswith("."):
            raise RideDurationError(f"--name {name!r} must be a plain file name")
        return replace(
            self,
            train_month=train_month,
            val_month=val_month,
            alpha=self.alpha if self.alpha is not None else DEFAULT_ALPHA.get(self.model),
            data_dir=Path(self.data_dir),
            model_dir=Path(self.model_dir),
            name=name,
        )


@dataclass
class Fitted:
    """A fitted model as numbers: the feature names, coefficients and intercept, with the
    train and validation designs it was measured on."""

    options: TrainOptions
    feature_names: list[str]
    numerical: list[str]
    coef: np.ndarray
    intercept: float
    design: Design
    val_design: Design | None = None
    regressor: object = None  # the scikit-learn regressor for lasso and ridge
    notes: list[str] = field(default_factory=list)  # e.g. a solver that did not converge

    def predict(self, design: Design) -> np.ndarray:
        """What the pipeline predicts for these rows, without building the sparse matrix."""
        return design.dot(self.coef) + self.intercept

    @property
    def pipeline(self):
        """The scikit-learn Pipeline (imports scikit-learn)."""
        regressor = self.regressor
        if regressor is None:
            regressor = linear_regression(self.coef, self.intercept)
        return build_pipeline(self.feature_names, self.options.model, regressor)

    def to_bytes(self) -> bytes:
        """The pickled Pipeline, as saved in models/."""
        if self.regressor is None:
            return pickle_linear_pipeline(
                self.feature_names, self.options.model, self.coef, self.intercept
            )
        return pickle.dumps(self.pipeline, protocol=5)


@dataclass
class TrainResult:
    fitted: Fitted
    metrics: dict
    reports: dict
    metadata: dict
    warnings: list[str] = field(default_factory=list)
    model_path: Path | None = None

    @property
    def pipeline(self):
        return self.fitted.pipeline


def make_regressor(model: str, alpha: float | None):
    """The regressor for lasso and ridge; linear is solved exactly by ``solve_exact``."""
    from sklearn.linear_model import Lasso, Ridge

    return Lasso(alpha=alpha) if model == "lasso" else Ridge(alpha=alpha)


def _drop_incomplete(frame, numerical, report):
    frame, dropped = complete_rows(frame, numerical)
    report.dropped_missing_feature = dropped
    report.rows_kept -= dropped
    return frame


def fit(options: TrainOptions, train_frame, val_frame=None) -> Fitted:
    """Fit the model on a prepared frame (and build the validation design, if given)."""
    categorical, numerical = feature_columns(options.features, train_frame)
    names = fit_feature_names(train_frame, categorical, numerical)
    vocabulary = {name: index for index, name in enumerate(names)}
    design = transform(vocabulary, train_frame, categorical, numerical)
    val_design = (
        transform(vocabulary, val_frame, categorical, numerical) if val_frame is not None else None
    )
    y = train_frame["duration"].to_numpy()
    if options.model == "linear":
        coef, intercept = solve_exact(design, y)
        return Fitted(options, names, numerical, coef, intercept, design, val_design)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        regressor = make_regressor(options.model, options.alpha).fit(design.matrix, y)
    coef, intercept = np.ravel(regressor.coef_), float(np.ravel(regressor.intercept_)[0])
    notes = list(dict.fromkeys(f"{options.model}: {w.message}" for w in caught))
    return Fitted(options, names, numerical, coef, intercept, design, val_design, regressor, notes)


def rmse(y_true, y_pred) -> float:
    """Root mean squared error, computed as scikit-learn's root_mean_squared_error does."""
    errors = np.asarray(y_true, dtype=float) - np.asarray(y_pred, dtype=float)
    return float(np.sqrt(np.mean(errors**2)))


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
    """Import scikit-learn (about a second, mostly SciPy parsing docstrings) on another
    thread while this one reads parquet, which releases the GIL."""
    thread = threading.Thread(target=_import_sklearn, name="import-sklearn", daemon=True)
    thread.start()
    return thread


def train(options: TrainOptions, *, save: bool = True) -> TrainResult:
    """Read the months, fit, measure and (by default) save. Raises RideDurationError on
    anything the user can fix."""
    options = options.validated()
    if options.model != "linear" or not can_skip_import():
        start_background_imports()
    notes = []
    if options.train_month == options.val_month:
        notes.append(
            f"validation month equals training month ({options.val_month}): "
            "the validation RMSE is not an out-of-sample estimate"
        )
    if save:  # before minutes of work, not after
        prepare_model_dir(options.model_dir)
    for month in dict.fromkeys([options.train_month, options.val_month]):
        ensure_month(
            options.taxi,
            month,
            options.data_dir,
            base_url=options.base_url,
            offline=options.offline,
            quiet=options.quiet,
        )
    train_frame, train_report = load_prepared(
        options.taxi, options.train_month, options.data_dir, timestamps=False
    )
    val_frame, val_report = load_prepared(
        options.taxi, options.val_month, options.data_dir, timestamps=False
    )
    _, numerical = feature_columns(options.features, train_frame)
    train_frame = _drop_incomplete(train_frame, numerical, train_report)
    val_frame = _drop_incomplete(val_frame, numerical, val_report)
    if train_report.rows_kept == 0 or val_report.rows_kept == 0:
        raise DataError("no ride has every feature recorded")

    fitted = fit(options, train_frame, val_frame)
    notes.extend(fitted.notes)
    y_train = train_frame["duration"].to_numpy()
    y_val = val_frame["duration"].to_numpy()
    metrics = {
        "n_train": len(y_train),
        "n_val": len(y_val),
        "n_features": fitted.design.n_features,
        "train_rmse": rmse(y_train, fitted.predict(fitted.design)),
        "val_rmse": rmse(y_val, fitted.predict(fitted.val_design)),
        "baseline_rmse": rmse(y_val, np.full_like(y_val, y_train.mean())),
    }
    reports = {"train": train_report.as_dict(), "val": val_report.as_dict()}
    metadata = {
        "format": 1,
        "name": options.name,
        "taxi": options.taxi,
        "train_month": options.train_month,
        "val_month": options.val_month,
        "features": {
            "set": options.features,
            "categorical": list(FEATURE_SETS[options.features][0]),
            "numerical": numerical,
        },
        "model": {
            "kind": options.model,
            "class": {"linear": "LinearRegression", "lasso": "Lasso", "ridge": "Ridge"}[
                options.model
            ],
            "params": {"alpha": options.alpha} if options.alpha is not None else {},
            "solver": "exact minimum-norm least squares"
            if options.model == "linear"
            else "scikit-learn default",
        },
        "metrics": metrics,
        "rows": reports,
        "inputs": [
            _input_record(month_path(options.taxi, month, options.data_dir), notes)
            for month in dict.fromkeys([options.train_month, options.val_month])
        ],
        "versions": library_versions(),
        "created_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
    }
    result = TrainResult(fitted, metrics, reports, metadata, notes)
    if save:
        result.model_path = save_bytes(fitted.to_bytes(), metadata, options.model_dir, options.name)
    return result
