"""Use a saved model: predict one ride, or score a whole month."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..dataset import load_prepared
from ..errors import RideDurationError
from ..features import complete_rows, feature_columns, transform
from .artifact import load_model, read_metadata


def predict_design(regressor, design) -> np.ndarray:
    """What ``regressor.predict(design.matrix)`` gives, for any fitted linear model, without
    building the sparse matrix."""
    return design.dot(np.ravel(regressor.coef_)) + float(np.ravel(regressor.intercept_)[0])


def ride_features(metadata: dict, pickup: int, dropoff: int, distance: float | None) -> dict:
    """The dict a saved pipeline expects for one ride, per the feature set it was trained on."""
    categorical = metadata["features"]["categorical"]
    numerical = metadata["features"]["numerical"]
    ride = {}
    if "PU_DO" in categorical:
        ride["PU_DO"] = f"{pickup}_{dropoff}"
    if "PULocationID" in categorical:
        ride["PULocationID"] = str(pickup)
    if "DOLocationID" in categorical:
        ride["DOLocationID"] = str(dropoff)
    if "trip_distance" in numerical:
        if distance is None:
            raise RideDurationError("this model needs the trip distance: give --distance MILES")
        ride["trip_distance"] = float(distance)
    return ride


def predict_ride(model_path: Path, pickup: int, dropoff: int, distance: float | None) -> float:
    metadata = read_metadata(model_path)
    pipeline = load_model(model_path)
    return float(pipeline.predict([ride_features(metadata, pickup, dropoff, distance)])[0])


def score_month(
    model_path: Path, taxi: str, month: str, data_dir: Path, *, keep_predictions: bool = False
) -> dict:
    """RMSE of a saved model on one month, prepared as in training (with the actual and
    predicted durations if ``keep_predictions``)."""
    from .train import rmse

    metadata = read_metadata(model_path)
    pipeline = load_model(model_path)
    frame, report = load_prepared(taxi, month, data_dir, timestamps=False)
    categorical, numerical = feature_columns(metadata["features"]["set"], frame)
    frame, _ = complete_rows(frame, numerical)
    design = transform(pipeline[0], frame, categorical, numerical)
    predicted = predict_design(pipeline[-1], design)
    actual = frame["duration"].to_numpy()
    result = {
        "taxi": taxi,
        "month": month,
        "n_rows": len(frame),
        "rmse": rmse(actual, predicted),
        "mean_predicted": float(np.mean(predicted)),
        "rows": report.as_dict(),
    }
    if keep_predictions:
        result |= {"actual": actual, "predicted": predicted}
    return result
