"""The ``rich`` feature set: a distance rule, distance shape, time and zone × hour interactions.

The course's 1-60 minute rule keeps rides of absurd recorded distance (green 2021-01: 62 over
100 miles, the largest 244,152), which flatten the distance slope to about 0.00003 min/mile,
so every unseen pickup/dropoff pair is predicted the same ~26 minutes. Here a distance that is
negative, not finite, or over ``DISTANCE_CAP`` miles is replaced by the training median of the
valid ones (no ride is dropped: RMSEs stay comparable with ``lesson``). Traffic depends on the
hour and the weekday, and differently in each zone, hence the interactions; all of them are
one-hot groups, so the model stays linear and each weight can be read.

``rich_frame`` builds the columns from a frame of rides; ``transformers.RideFeatures`` calls
it at the start of a saved ``rich`` pipeline, so the model takes raw rides.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .dataset import factorize_ids, location_ids

DISTANCE_CAP = 100.0
# Band edges in miles: short trips differ most, so the bands are narrow there.
DISTANCE_BANDS = (0.0, 0.5, 1.0, 1.5, 2.0, 3.0, 4.0, 5.0, 7.0, 10.0, 15.0, 20.0, 30.0)
CATEGORICAL = ("PU_DO", "hour_dow", "PU_hour", "DO_hour", "distance_band")
NUMERICAL = ("trip_distance", "log_distance")
RAW_COLUMNS = ("PULocationID", "DOLocationID", "trip_distance", "pickup_datetime")
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def valid_distance(distance: np.ndarray) -> np.ndarray:
    return np.isfinite(distance) & (distance >= 0) & (distance <= DISTANCE_CAP)


def distance_median(distance) -> float:
    """The median of the valid distances: what an impossible distance is replaced by."""
    distance = np.asarray(distance, dtype=float)
    valid = distance[valid_distance(distance)]
    return float(np.median(valid)) if len(valid) else 0.0


def clean_distance(distance, median: float) -> np.ndarray:
    distance = np.asarray(distance, dtype=float)
    return np.where(valid_distance(distance), distance, median)


def _categorical(keys: np.ndarray, label) -> pd.Categorical:
    codes, uniques = factorize_ids(keys)
    labels = pd.Index([label(k) for k in uniques], dtype="str")
    return pd.Categorical.from_codes(codes, categories=labels)


def _ids(values) -> np.ndarray:
    if isinstance(values.dtype, pd.CategoricalDtype):  # prepared frames hold ID strings
        values = values.astype("str")
    return location_ids(pd.Series(values))


def _pickup_parts(values) -> tuple[np.ndarray, np.ndarray]:
    """(hour, weekday) of each pickup, -1 where it is missing or not a timestamp."""
    pickup = pd.to_datetime(pd.Series(values), errors="coerce", format="mixed")
    if getattr(pickup.dt, "tz", None) is not None:
        pickup = pickup.dt.tz_localize(None)
    missing = pickup.isna().to_numpy()
    hour = np.where(missing, -1, pickup.dt.hour.fillna(0).to_numpy(np.int64))
    weekday = np.where(missing, -1, pickup.dt.dayofweek.fillna(0).to_numpy(np.int64))
    return hour, weekday


def rich_frame(frame: pd.DataFrame, median: float) -> pd.DataFrame:
    """The ``rich`` feature columns of rides with PULocationID, DOLocationID, trip_distance
    and pickup_datetime: categoricals of strings and two numerical columns. An unknown hour
    or zone gets label "-1", which no training ride has, so it adds nothing."""
    pu, do = _ids(frame["PULocationID"]), _ids(frame["DOLocationID"])
    hour, weekday = _pickup_parts(frame["pickup_datetime"])
    distance = clean_distance(
        pd.to_numeric(frame["trip_distance"], errors="coerce").to_numpy(float, na_value=np.nan),
        median,
    )
    band = np.searchsorted(DISTANCE_BANDS, distance, side="right")
    stride = 1 << 20  # zone IDs and hours are small: pack pairs into one integer key
    slot = np.where(hour < 0, -1, weekday * 24 + hour)
    edges = (*DISTANCE_BANDS, DISTANCE_CAP)
    return pd.DataFrame(
        {
            "PU_DO": _categorical((pu + 1) * stride + do + 1, lambda k: _pair(k, stride)),
            "hour_dow": _categorical(slot + 1, _slot_label),
            "PU_hour": _categorical((pu + 1) * 32 + hour + 1, lambda k: _zone_hour(k)),
            "DO_hour": _categorical((do + 1) * 32 + hour + 1, lambda k: _zone_hour(k)),
            "distance_band": _categorical(band, lambda b: f"{edges[b - 1]:g}-{edges[b]:g}"),
            "trip_distance": distance,
            "log_distance": np.log1p(distance),
        }
    )


def _pair(key: int, stride: int) -> str:
    pu, do = divmod(int(key), stride)
    return f"{pu - 1}_{do - 1}"


def _slot_label(key: int) -> str:
    slot = int(key) - 1
    return "-1" if slot < 0 else f"{WEEKDAYS[slot // 24]}_{slot % 24:02d}"


def _zone_hour(key: int) -> str:
    zone, hour = divmod(int(key), 32)
    return f"{zone - 1}_{hour - 1:02d}" if hour else f"{zone - 1}_-1"


def rides_frame(rides) -> pd.DataFrame:
    """Ride records (a DataFrame, or an iterable of dicts) as a frame of ``RAW_COLUMNS``;
    a missing zone is -1, a missing distance or pickup time is missing."""
    if isinstance(rides, pd.DataFrame):
        frame = rides.reset_index(drop=True)
    else:
        frame = pd.DataFrame.from_records(list(rides))
    columns = {}
    for column in RAW_COLUMNS:
        columns[column] = frame[column] if column in frame else pd.Series([None] * len(frame))
    return pd.DataFrame(columns)
