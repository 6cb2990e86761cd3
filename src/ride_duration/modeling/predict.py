"""Use a saved model: predict one ride, or score a whole month."""

from __future__ import annotations

import math
import re
from pathlib import Path

import numpy as np

from ..config import MAX_MILES, MAX_ZONE_ID
from ..dataset import load_prepared, month_path, zone_ids
from ..errors import RideDurationError
from ..features import (
    build_design,
    complete_rows,
    feature_set,
    needed_timestamps,
    required_columns,
)
from ..files import temporary_beside
from .artifact import load_model, model_version, read_metadata, sidecar_path
from .estimators import RIDES_STEP, VECTORIZER_STEP


def predict_design(regressor, design) -> np.ndarray:
    """What ``regressor.predict(design.matrix)`` gives, for any fitted linear model, without
    building the sparse matrix."""
    return design.dot(np.ravel(regressor.coef_)) + float(np.ravel(regressor.intercept_)[0])


def ride_features(
    metadata: dict, pickup: int, dropoff: int, distance: float | None, when: str | None = None
) -> dict:
    """The record a saved pipeline expects for one ride, per the feature set it was trained
    on: its feature dict, or a raw ride for a set whose pipeline takes raw rides (rich)."""
    features = metadata["features"]
    chosen = feature_set(features["set"])
    uses_distance = "trip_distance" in features["numerical"] or chosen.needs_distance
    if uses_distance and distance is None:
        raise RideDurationError("this model needs the trip distance: give --distance MILES")
    if distance is not None and not (math.isfinite(distance) and 0 <= distance <= MAX_MILES):
        raise RideDurationError(
            f"--distance must be a finite number of miles from 0 to {MAX_MILES:g}, not {distance}"
        )
    for flag, zone in (("--pu", pickup), ("--do", dropoff)):
        if not -1 <= zone <= MAX_ZONE_ID:
            raise RideDurationError(
                f"{flag} must be a zone ID from -1 (missing) to {MAX_ZONE_ID:,}, not {zone}"
            )
    if chosen.needs_pickup and when is None:
        raise RideDurationError("this model needs the pickup time: give --pickup DATETIME")
    if chosen.learns_distance_median:  # its pipeline starts with RideFeatures: raw rides
        return {
            "PULocationID": pickup,
            "DOLocationID": dropoff,
            "trip_distance": float(distance),
            "pickup_datetime": _timestamp(when) if when is not None else None,
        }
    when = _timestamp(when).to_pydatetime() if when is not None else None
    return chosen.ride(pickup, dropoff, distance if uses_distance else None, when, None)


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
    model_path: Path,
    taxi: str,
    month: str,
    data_dir: Path,
    *,
    keep_predictions: bool = False,
    output: Path | None = None,
) -> dict:
    """RMSE of a saved model on one month, prepared as in training (with the actual and
    predicted durations if ``keep_predictions``; one row per ride written to the parquet
    file ``output`` if given)."""
    from .train import rmse

    if output is not None:
        check_output(output, [month_path(taxi, month, data_dir), Path(model_path)])
    metadata = read_metadata(model_path)
    pipeline = load_model(model_path)
    set_name = metadata["features"]["set"]
    frame, report = load_prepared(
        taxi,
        month,
        data_dir,
        timestamps=needed_timestamps(set_name),
        positions=output is not None,
    )
    frame, _ = complete_rows(frame, required_columns(set_name, frame))
    actual = frame["duration"].to_numpy()
    median = pipeline[RIDES_STEP].distance_median_ if RIDES_STEP in pipeline.named_steps else None
    design, _ = build_design(set_name, frame, pipeline[VECTORIZER_STEP], median)
    predicted = predict_design(pipeline[-1], design)
    result = {
        "taxi": taxi,
        "month": month,
        "n_rows": len(frame),
        "rmse": rmse(actual, predicted),
        "mean_predicted": float(np.mean(predicted)),
        "rows": report.as_dict(),
    }
    if output is not None:
        version = model_version(metadata, model_path)
        result["output"] = str(write_predictions(output, frame, predicted, month, version))
    if keep_predictions:
        result |= {"actual": actual, "predicted": predicted}
        categorical = list(feature_set(set_name).categorical)
        if "PU_DO" in categorical:  # rides whose pickup/dropoff pair training never saw
            result["unseen_pair"] = design.group_columns[categorical.index("PU_DO")] < 0
    return result


TRIP_FILE = re.compile(r"(yellow|green|fhv|fhvhv)_tripdata_[0-9]{4}-[0-9]{2}\.parquet")


def check_output(output: Path, inputs: list[Path]) -> None:
    """Refuse, before any work, an output that would replace what must not be replaced: an
    input (the month scored, the model or its sidecar), a file named as a TLC month (raw
    files are never rewritten), a name without .parquet (a model, a manifest), a folder, a
    device or anything else that is not a file."""
    output = Path(output)
    protected = [*inputs, *(sidecar_path(p) for p in inputs if p.suffix == ".bin")]
    if output.is_dir():
        raise RideDurationError(f"--output {output}: is a folder; name a .parquet file in it")
    if output.exists() and not output.is_file():
        raise RideDurationError(f"--output {output}: is not a regular file (a device?)")
    if output.suffix != ".parquet":
        raise RideDurationError(
            f"--output {output}: name a .parquet file (predictions are parquet)"
        )
    if TRIP_FILE.fullmatch(output.name):
        raise RideDurationError(
            f"--output {output}: is named as a TLC month file, which is never rewritten; "
            "name the predictions otherwise"
        )
    for path in protected:
        same = path.exists() and output.exists() and output.samefile(path)
        if same or output.resolve() == path.resolve():
            raise RideDurationError(f"--output {output}: is an input of this run ({path})")
    if not output.parent.is_dir():
        raise RideDurationError(f"--output {output}: the folder {output.parent} does not exist")


def write_predictions(path: Path, frame, predicted: np.ndarray, month: str, version: str) -> Path:
    """One row per scored ride, as the course's batch script writes them: ``ride_id``
    ("YYYY/MM_<row in the raw file>"), the zones, the actual and predicted durations and the
    model's version. Written to a temporary file and renamed: never a partial file."""
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    year, number = month.split("-")
    rows = pa.array(frame["row"].to_numpy()).cast(pa.string())
    table = pa.table(
        {
            "ride_id": pc.binary_join_element_wise(f"{year}/{number}_", rows, ""),
            "PULocationID": zone_ids(frame["PULocationID"]),
            "DOLocationID": zone_ids(frame["DOLocationID"]),
            "actual_duration": frame["duration"].to_numpy(),
            "predicted_duration": predicted,
            "model_version": pa.DictionaryArray.from_arrays(
                np.zeros(len(frame), np.int32), pa.array([version])
            ),
        }
    )
    path = Path(path)
    with temporary_beside(path) as temp:
        pq.write_table(table, temp)
    return path


class RideScorer:
    """A saved model's predictions for single rides, from its coefficients: the lookups the
    pipeline's DictVectorizer would do, without building a sparse matrix per request.
    ``score_one(pickup, dropoff, distance, when)`` equals ``pipeline.predict`` on the same
    ride (the tests check it for every feature set)."""

    def __init__(self, pipeline, metadata: dict):
        vectorizer, regressor = pipeline[VECTORIZER_STEP], pipeline[-1]
        coef = np.ravel(regressor.coef_)
        self.weights = {name: float(coef[i]) for name, i in vectorizer.vocabulary_.items()}
        self.intercept = float(np.ravel(regressor.intercept_)[0])
        self.features = metadata["features"]
        self.median = (
            pipeline[RIDES_STEP].distance_median_ if RIDES_STEP in pipeline.named_steps else None
        )
        self.chosen = feature_set(self.features["set"])
        self.needs_distance = self.chosen.needs_distance or (
            "trip_distance" in self.features["numerical"]
        )
        self.needs_pickup = self.chosen.needs_pickup

        self.score_one = self._specialised() or self._generic

    def _specialised(self):
        """For the lesson and homework features, a scoring function with the lookups
        precomputed (four times faster than building each ride's feature dict); None for
        the others."""
        weights, intercept, categorical = self.weights, self.intercept, self.features["categorical"]
        if self.median is None and categorical == ["PU_DO"]:
            pairs = {k[6:]: v for k, v in weights.items() if k.startswith("PU_DO=")}
            per_mile = weights.get("trip_distance", 0.0) if self.needs_distance else 0.0

            def lesson(pickup, dropoff, distance=None, when=None):
                return (
                    intercept + pairs.get(f"{pickup}_{dropoff}", 0.0) + per_mile * (distance or 0.0)
                )

            return lesson
        if self.median is None and categorical == ["PULocationID", "DOLocationID"]:
            pickups = {k[13:]: v for k, v in weights.items() if k.startswith("PULocationID=")}
            dropoffs = {k[13:]: v for k, v in weights.items() if k.startswith("DOLocationID=")}

            def homework(pickup, dropoff, distance=None, when=None):
                return intercept + pickups.get(str(pickup), 0.0) + dropoffs.get(str(dropoff), 0.0)

            return homework
        return None

    def features_of(self, pickup: int, dropoff: int, distance, when) -> dict:
        """The dict the pipeline's DictVectorizer sees for one ride."""
        distance = distance if self.needs_distance else None
        return self.chosen.ride(pickup, dropoff, distance, when, self.median)

    def _generic(self, pickup: int, dropoff: int, distance=None, when=None) -> float:
        """Any feature set: the ride's feature dict, then DictVectorizer's lookups."""
        total = self.intercept
        weights = self.weights
        for key, value in self.features_of(pickup, dropoff, distance, when).items():
            if isinstance(value, str):
                total += weights.get(f"{key}={value}", 0.0)
            else:
                total += weights.get(key, 0.0) * value
        return total
