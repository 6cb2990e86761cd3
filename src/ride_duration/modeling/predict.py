"""Use a saved model: predict one ride, or score a whole month."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from ..dataset import load_prepared
from ..errors import RideDurationError
from ..features import (
    complete_rows,
    feature_columns,
    featurize,
    needed_timestamps,
    required_columns,
    transform,
)
from .artifact import load_model, read_metadata
from .estimators import RIDES_STEP, VECTORIZER_STEP


def predict_design(regressor, design) -> np.ndarray:
    """What ``regressor.predict(design.matrix)`` gives, for any fitted linear model, without
    building the sparse matrix."""
    return design.dot(np.ravel(regressor.coef_)) + float(np.ravel(regressor.intercept_)[0])


def ride_features(
    metadata: dict, pickup: int, dropoff: int, distance: float | None, when: str | None = None
) -> dict:
    """The record a saved pipeline expects for one ride, per the feature set it was trained
    on: the lesson's and homework's feature dicts, or a raw ride for ``rich``."""
    features = metadata["features"]
    uses_distance = "trip_distance" in features["numerical"]
    if uses_distance and distance is None:
        raise RideDurationError("this model needs the trip distance: give --distance MILES")
    if distance is not None and not math.isfinite(distance):
        raise RideDurationError(f"--distance must be a finite number of miles, not {distance}")
    if features["set"] == "rich":
        if when is None:
            raise RideDurationError("this model needs the pickup time: give --pickup DATETIME")
        return {
            "PULocationID": pickup,
            "DOLocationID": dropoff,
            "trip_distance": float(distance),
            "pickup_datetime": _timestamp(when),
        }
    ride = {}
    if "PU_DO" in features["categorical"]:
        ride["PU_DO"] = f"{pickup}_{dropoff}"
    if "PULocationID" in features["categorical"]:
        ride["PULocationID"] = str(pickup)
    if "DOLocationID" in features["categorical"]:
        ride["DOLocationID"] = str(dropoff)
    if uses_distance:
        ride["trip_distance"] = float(distance)
    return ride


def _timestamp(text: str):
    import pandas as pd

    try:
        return pd.Timestamp(text)
    except ValueError:
        raise RideDurationError(
            f"--pickup {text!r} is not a date and time: write it as 2021-02-01T08:15"
        ) from None


def predict_ride(
    model_path: Path, pickup: int, dropoff: int, distance: float | None, when: str | None = None
) -> float:
    metadata = read_metadata(model_path)
    pipeline = load_model(model_path)
    return float(pipeline.predict([ride_features(metadata, pickup, dropoff, distance, when)])[0])


def score_month(
    model_path: Path, taxi: str, month: str, data_dir: Path, *, keep_predictions: bool = False
) -> dict:
    """RMSE of a saved model on one month, prepared as in training (with the actual and
    predicted durations if ``keep_predictions``)."""
    from .train import rmse

    metadata = read_metadata(model_path)
    pipeline = load_model(model_path)
    feature_set = metadata["features"]["set"]
    frame, report = load_prepared(taxi, month, data_dir, timestamps=needed_timestamps(feature_set))
    frame, _ = complete_rows(frame, required_columns(feature_set, frame))
    actual = frame["duration"].to_numpy()
    median = pipeline[RIDES_STEP].distance_median_ if RIDES_STEP in pipeline.named_steps else None
    features = featurize(feature_set, frame, median)
    categorical, numerical = feature_columns(feature_set, features)
    design = transform(pipeline[VECTORIZER_STEP], features, categorical, numerical)
    predicted = predict_design(pipeline[-1], design)
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
        if "PU_DO" in categorical:  # rides whose pickup/dropoff pair training never saw
            result["unseen_pair"] = design.group_columns[categorical.index("PU_DO")] < 0
    return result
