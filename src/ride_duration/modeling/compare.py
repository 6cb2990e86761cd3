"""Compare the models the lesson discusses, and ours, on one pair of prepared months."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from ..features import usable
from .estimators import REGRESSORS
from .evaluate import evaluate_frame
from .fit import fit
from .model import rmse
from .options import TrainOptions

COLUMNS = ["train RMSE", "val RMSE", "min per mile", "80% coverage", "80% width"]
LABELS = {
    "linear": "linear, exact (ours)",
    "lasso": f"lasso, alpha={REGRESSORS['lasso'].default_alpha:g}",
    "ridge": f"ridge, alpha={REGRESSORS['ridge'].default_alpha:g} (exact)",
}


def compare_models(train_frame: pd.DataFrame, val_frame: pd.DataFrame, features: str = "lesson"):
    """Train and validation RMSE, and the weight of a mile, of: the exact linear fit, Lasso,
    Ridge, scikit-learn's default LinearRegression (its sparse solver stops at tol=1e-6),
    predicting the training mean, and, when the frames hold pickup times and distances, the
    rich features with their ridge. Returns a small DataFrame indexed by model."""
    from sklearn.linear_model import LinearRegression

    rich_row = None
    if {"pickup_datetime", "trip_distance"} <= set(train_frame):
        rich = TrainOptions(features="rich").validated()
        rich_row = _scores(fit(rich, train_frame, val_frame), train_frame, val_frame)
    train_frame, val_frame = usable(features, train_frame), usable(features, val_frame)
    rows = {}
    for model, label in LABELS.items():
        fitted = fit(
            TrainOptions(features=features, model=model).validated(), train_frame, val_frame
        )
        rows[label] = _scores(fitted, train_frame, val_frame)
        if model == "linear":
            exact = fitted
    y, y_val = train_frame["duration"].to_numpy(), val_frame["duration"].to_numpy()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        default = LinearRegression().fit(exact.design.matrix, y)
    names = exact.model.feature_names
    rows["linear, scikit-learn default"] = (
        rmse(y, default.predict(exact.design.matrix)),
        rmse(y_val, default.predict(exact.val_design.matrix)),
        float(default.coef_[names.index("trip_distance")]) if "trip_distance" in names else None,
        None,
        None,
    )
    rows["baseline: training mean"] = (
        rmse(y, np.full_like(y, y.mean())),
        rmse(y_val, np.full_like(y_val, y.mean())),
        None,
        None,
        None,
    )
    if rich_row is not None:
        rows[f"rich: ridge, alpha={rich.alpha:g} (ours)"] = rich_row
    table = pd.DataFrame.from_dict(rows, orient="index", columns=COLUMNS)
    table.index.name = "model"
    return table


def _scores(fitted, train_frame, val_frame) -> tuple:
    """Train and validation RMSE, the weight of a mile, and the validation coverage and mean
    width of the 80% intervals."""
    model = fitted.model
    predicted = model.predict_design(fitted.val_design)
    validation = evaluate_frame(model, val_frame, predicted=predicted)
    return (
        rmse(train_frame["duration"].to_numpy(), model.predict_design(fitted.design)),
        validation.rmse,
        model.distance_weight,
        validation.coverage,
        validation.mean_width,
    )
