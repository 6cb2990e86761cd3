"""Compare the models the lesson discusses on one pair of prepared months."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from ..features import complete_rows, feature_columns
from .train import TrainOptions, fit, rmse


def compare_models(train_frame: pd.DataFrame, val_frame: pd.DataFrame, features: str = "lesson"):
    """Train and validation RMSE of: the exact linear fit, scikit-learn's default
    LinearRegression (its sparse solver stops at tol=1e-6), Lasso, Ridge, and predicting the
    training mean. Returns a small DataFrame indexed by model."""
    from sklearn.linear_model import LinearRegression

    _, numerical = feature_columns(features, train_frame)
    train_frame, _ = complete_rows(train_frame, numerical)
    val_frame, _ = complete_rows(val_frame, numerical)
    y, y_val = train_frame["duration"].to_numpy(), val_frame["duration"].to_numpy()
    rows = {}
    design = val_design = None
    for label, options in [
        ("linear, exact (ours)", TrainOptions(features=features, model="linear")),
        ("lasso, alpha=0.01", TrainOptions(features=features, model="lasso")),
        ("ridge, alpha=1.0", TrainOptions(features=features, model="ridge")),
    ]:
        fitted = fit(options.validated(), train_frame, val_frame)
        design, val_design = fitted.design, fitted.val_design
        rows[label] = (
            rmse(y, fitted.predict(design)),
            rmse(y_val, fitted.predict(val_design)),
        )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        default = LinearRegression().fit(design.matrix, y)
    rows["linear, scikit-learn default"] = (
        rmse(y, default.predict(design.matrix)),
        rmse(y_val, default.predict(val_design.matrix)),
    )
    rows["baseline: training mean"] = (
        rmse(y, np.full_like(y, y.mean())),
        rmse(y_val, np.full_like(y_val, y.mean())),
    )
    table = pd.DataFrame.from_dict(rows, orient="index", columns=["train RMSE", "val RMSE"])
    table.index.name = "model"
    return table
