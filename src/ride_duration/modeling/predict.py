"""Use a saved model: predict one ride, or score a whole month."""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..config import MAX_MILES, MAX_ZONE_ID
from ..data.months import month_path
from ..data.zones import zone_ids
from ..errors import RideDurationError
from ..features.columns import RideColumns
from ..files import check_output, temporary_beside
from .artifact import model_version
from .evaluate import Evaluation, evaluate_frame
from .explain import explain_design
from .intervals import LEVEL, check_level
from .model import Model, load, unseen_pairs
from .rides import whole_month


def check_ride(model: Model, pickup: int, dropoff: int, distance, when: str | None) -> dict:
    """One ride given on the command line, checked and in the service's shape."""
    if model.needs_distance and distance is None:
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
    if model.needs_pickup and when is None:
        raise RideDurationError("this model needs the pickup time: give --pickup DATETIME")
    ride = {"PULocationID": pickup, "DOLocationID": dropoff, "trip_distance": distance}
    return ride | ({"pickup_datetime": _timestamp(when)} if when is not None else {})


def _timestamp(text: str):
    """A pickup time given on the command line; 'NaT', 'nan' or nothing is no time."""
    import pandas as pd

    try:
        stamp = pd.Timestamp(text)
    except (ValueError, TypeError, OverflowError):
        stamp = pd.NaT
    if pd.isna(stamp):
        raise RideDurationError(
            f"--pickup {text!r} is not a date and time: write it as 2021-02-01T08:15"
        )
    return stamp.to_pydatetime()


def predict_ride(
    model_path: Path,
    pickup: int,
    dropoff: int,
    distance: float | None,
    when: str | None = None,
    level: float = LEVEL,
    explain: bool = False,
) -> dict:
    """One ride's predicted minutes, and its interval of this level (None for a model saved
    without intervals); with ``explain``, its parts (``explain.Explanation.as_list``)."""
    check_level(level)
    model, _ = load(model_path)
    ride = check_ride(model, pickup, dropoff, distance, when)
    minutes = model.predict_rides([ride])[0]
    interval = None
    if model.intervals is not None:
        lower, upper = model.predict_intervals([minutes], level, RideColumns.of([ride]))
        interval = [float(lower[0]), float(upper[0])]
    answer = {"minutes": minutes, "interval": interval, "level": level}
    if explain:
        answer["explanation"] = model.explain_rides([ride])[0].as_list()
    return answer


@dataclass
class MonthScore:
    """A saved model on one month: its evaluation, and the predictions when they were kept
    (``unseen_pair`` marks the rides whose pickup/dropoff pair training never saw)."""

    taxi: str
    month: str
    evaluation: Evaluation
    actual: np.ndarray | None = None
    predicted: np.ndarray | None = None
    unseen_pair: np.ndarray | None = None
    output: Path | None = None

    def as_dict(self) -> dict:
        """What ``predict --month --json`` prints."""
        scored = self.evaluation
        document = {
            "taxi": self.taxi,
            "month": self.month,
            "n_rows": scored.rides,
            "rmse": scored.rmse,
            "mean_predicted": scored.mean_predicted,
            "rows": scored.report.as_dict(),
        }
        if scored.coverage is not None:
            document |= {
                "level": scored.level,
                "coverage": scored.coverage,
                "mean_width": scored.mean_width,
            }
        return document | ({"output": str(self.output)} if self.output else {})


PREDICTIONS = (".parquet",)


def check_predictions_output(output: Path, model_path: Path, taxi: str, month: str, data_dir):
    """Refuse, before any work, an --output that is not a new or replaceable parquet file:
    the month scored, a TLC month file, the model or its sidecar, a folder or a device."""
    check_output(output, "--output", PREDICTIONS, [month_path(taxi, month, data_dir), model_path])


def score_month(
    model_path: Path,
    taxi: str,
    month: str,
    data_dir: Path,
    *,
    keep_predictions: bool = False,
    output: Path | None = None,
    level: float = LEVEL,
    explain: bool = False,
) -> MonthScore:
    """A saved model on one month, prepared as in training: its evaluation (RMSE, coverage of
    the intervals of ``level``), with the actual and predicted durations if
    ``keep_predictions``, and one row per ride written to the parquet file ``output`` if
    given (with ``explain``, each part of its prediction as a column ``part_<name>``)."""
    check_level(level)
    if output is not None:
        check_predictions_output(output, Path(model_path), taxi, month, data_dir)
    model, metadata = load(model_path)
    writes = output is not None  # its rows keep their raw row, distance and pickup time
    frame, report = whole_month(taxi, month, data_dir, model.features, positions=writes)
    design = model.design(frame)
    predicted = model.predict_design(design)
    evaluation = evaluate_frame(model, frame, predicted=predicted, level=level, report=report)
    score = MonthScore(taxi, month, evaluation)
    if output is not None:
        bounds = model.predict_intervals(predicted, level, frame) if model.intervals else None
        version = model_version(metadata, model_path)
        parts = None
        if explain:
            parts = explain_design(model, design)
        score.output = write_predictions(output, frame, predicted, month, version, bounds, parts)
    if keep_predictions:
        score.actual, score.predicted = frame["duration"].to_numpy(), predicted
        score.unseen_pair = unseen_pairs(model, design)
    return score


def write_predictions(
    path: Path, frame, predicted: np.ndarray, month: str, version: str, bounds=None, parts=None
) -> Path:
    """One row per scored ride, as the course's batch script writes them: ``ride_id``
    ("YYYY/MM_<row in the raw file>"), the zones, the distance and pickup time as recorded
    (where the taxi type has them: coverage can be sliced by them), the actual and predicted
    durations, the
    interval's ``lower`` and ``upper`` (when ``bounds`` are given), the minutes of each
    part of the prediction (``part_<name>``, when ``parts`` are given) and the model's
    version. Written to a temporary file and renamed: never a partial file."""
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
            **{c: frame[c].to_numpy() for c in ("trip_distance", "pickup_datetime") if c in frame},
            "actual_duration": frame["duration"].to_numpy(),
            "predicted_duration": predicted,
            **({"lower": bounds[0], "upper": bounds[1]} if bounds is not None else {}),
            **{f"part_{name}": minutes for name, minutes in (parts or {}).items()},
            "model_version": pa.DictionaryArray.from_arrays(
                np.zeros(len(frame), np.int32), pa.array([version])
            ),
        }
    )
    path = Path(path)
    with temporary_beside(path) as temp:
        pq.write_table(table, temp)
    return path
