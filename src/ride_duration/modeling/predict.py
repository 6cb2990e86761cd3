"""Use a saved model: predict one ride, or score a whole month."""

from __future__ import annotations

import math
import re
from pathlib import Path

import numpy as np

from ..config import MAX_MILES, MAX_ZONE_ID
from ..data.dataset import load_prepared, month_path, zone_ids
from ..errors import RideDurationError
from ..features import complete_rows, feature_set, needed_timestamps, required_columns
from ..files import temporary_beside
from .artifact import model_version, sidecar_path
from .intervals import LEVEL, check_level, coverage_sums
from .model import Model, load, rmse


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
    import pandas as pd

    try:
        return pd.Timestamp(text).to_pydatetime()
    except ValueError:
        raise RideDurationError(
            f"--pickup {text!r} is not a date and time: write it as 2021-02-01T08:15"
        ) from None


def predict_ride(
    model_path: Path,
    pickup: int,
    dropoff: int,
    distance: float | None,
    when: str | None = None,
    level: float = LEVEL,
) -> dict:
    """One ride's predicted minutes, and its interval of this level (None for a model saved
    without intervals)."""
    check_level(level)
    model, _ = load(model_path)
    minutes = model.predict_rides([check_ride(model, pickup, dropoff, distance, when)])[0]
    interval = None
    if model.intervals is not None:
        lower, upper = model.predict_intervals([minutes], level)
        interval = [float(lower[0]), float(upper[0])]
    return {"minutes": minutes, "interval": interval, "level": level}


def score_month(
    model_path: Path,
    taxi: str,
    month: str,
    data_dir: Path,
    *,
    keep_predictions: bool = False,
    output: Path | None = None,
    level: float = LEVEL,
) -> dict:
    """RMSE of a saved model on one month, prepared as in training, and its intervals'
    coverage (with the actual and predicted durations if ``keep_predictions``; one row per
    ride written to the parquet file ``output`` if given)."""
    check_level(level)
    if output is not None:
        check_output(output, [month_path(taxi, month, data_dir), Path(model_path)])
    model, metadata = load(model_path)
    set_name = model.features
    frame, report = load_prepared(
        taxi,
        month,
        data_dir,
        timestamps=needed_timestamps(set_name),
        positions=output is not None,
    )
    frame, _ = complete_rows(frame, required_columns(set_name, frame))
    actual = frame["duration"].to_numpy()
    design = model.design(frame)
    predicted = model.predict_design(design)
    result = {
        "taxi": taxi,
        "month": month,
        "n_rows": len(frame),
        "rmse": rmse(actual, predicted),
        "mean_predicted": float(np.mean(predicted)),
        "rows": report.as_dict(),
    }
    bounds = None
    if model.intervals is not None:
        bounds = model.predict_intervals(predicted, level)
        covered, width = coverage_sums(actual, *bounds)
        rides = max(len(actual), 1)
        result |= {"level": level, "coverage": covered / rides, "mean_width": width / rides}
    if output is not None:
        version = model_version(metadata, model_path)
        written = write_predictions(output, frame, predicted, month, version, bounds)
        result["output"] = str(written)
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


def write_predictions(
    path: Path, frame, predicted: np.ndarray, month: str, version: str, bounds=None
) -> Path:
    """One row per scored ride, as the course's batch script writes them: ``ride_id``
    ("YYYY/MM_<row in the raw file>"), the zones, the actual and predicted durations, the
    interval's ``lower`` and ``upper`` (when ``bounds`` are given) and the model's version.
    Written to a temporary file and renamed: never a partial file."""
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
            **({"lower": bounds[0], "upper": bounds[1]} if bounds is not None else {}),
            "model_version": pa.DictionaryArray.from_arrays(
                np.zeros(len(frame), np.int32), pa.array([version])
            ),
        }
    )
    path = Path(path)
    with temporary_beside(path) as temp:
        pq.write_table(table, temp)
    return path
