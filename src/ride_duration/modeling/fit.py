"""Fit a model on rides in memory, with its prediction intervals: the exact linear and ridge
fits from sufficient statistics, lasso by scikit-learn."""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field, replace

import numpy as np

from ..errors import DataError, RideDurationError
from ..features import Design, build_design, feature_set
from ..features.columns import frame_columns
from ..features.rich import distance_median
from .estimators import regressor
from .intervals import calibrate, too_few_to_calibrate
from .model import Model
from .options import TrainOptions
from .solver import SolverError, solve
from .statistics import statistics


@dataclass
class Fit:
    """A model fitted on rides in memory, with the train and validation designs it was
    measured on, and what its fit had to say (e.g. a solver that did not converge)."""

    model: Model
    design: Design
    val_design: Design | None = None
    notes: list[str] = field(default_factory=list)


def fit(options: TrainOptions, train_frame, val_frame=None, *, intervals: bool = True) -> Fit:
    """Fit the model on a prepared frame (and build the validation design, if given), with
    its prediction intervals unless ``intervals`` is False. Linear and ridge are solved
    exactly; lasso by scikit-learn."""
    options = options.validated()
    y = train_frame["duration"].to_numpy()
    if intervals and (problem := too_few_to_calibrate(len(y))):
        raise DataError(f"{options.features} features: {problem}")
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
        coef, intercept = solve_statistics(options, stats)

        def fit_without(mask):
            return solve_statistics(options, stats - statistics(design.rows(mask), y[mask]))

    if not (np.isfinite(coef).all() and np.isfinite(intercept)):
        raise DataError(
            "the fitted coefficients are not all finite (a numerical feature too large to "
            "square?); the model is not saved"
        )
    model = Model(
        options.features, names, coef, intercept, options.model, options.alpha, median, estimator
    )
    if intervals:
        model = replace(
            model, intervals=calibrate(design, y, fit_without, frame_columns(train_frame))
        )
    val_design = model.design(val_frame) if val_frame is not None else None
    return Fit(model, design, val_design, notes)


def _coefficients(estimator) -> tuple[np.ndarray, float]:
    return np.ravel(estimator.coef_), float(np.ravel(estimator.intercept_)[0])


def solve_statistics(options: TrainOptions, stats) -> tuple[np.ndarray, float]:
    """The exact fit from sufficient statistics, with the regressor's penalty (a one-line
    error, naming the feature set, for a system with no solution)."""
    alpha = options.alpha if regressor(options.model).penalised else 0.0
    try:
        return solve(stats, alpha)
    except SolverError as exc:
        raise RideDurationError(f"{options.features} features, {options.model}: {exc}") from None
