"""The ``rich`` feature set: a distance rule, distance shape, time and zone × hour interactions.

The course's 1-60 minute rule keeps rides of absurd recorded distance (green 2021-01: 62 over
100 miles, the largest 244,152), which flatten the distance slope to about 0.00003 min/mile,
so every unseen pickup/dropoff pair is predicted the same ~26 minutes. Here a distance that is
not plausible (``dataset.plausible_distance``: negative, not finite, or over 100 miles) is
replaced by the training median of the plausible ones (no ride is dropped: RMSEs stay
comparable with ``lesson``). Traffic depends on the hour and the weekday, and differently in
each zone, hence the interactions; all of them are one-hot groups, so the model stays linear
and each weight can be read.

``rich_frame`` builds the columns from a frame of rides; ``transformers.RideFeatures`` calls
it at the start of a saved ``rich`` pipeline, so the model takes raw rides.
"""

from __future__ import annotations

import bisect
import datetime as dt
import math

import numpy as np
import pandas as pd

from ..config import PLAUSIBLE_MILES
from ..data.prepare import plausible_distance
from ..data.zones import factorize_ids, zone_ids

# Band edges in miles: short trips differ most, so the bands are narrow there.
DISTANCE_BANDS = (0.0, 0.5, 1.0, 1.5, 2.0, 3.0, 4.0, 5.0, 7.0, 10.0, 15.0, 20.0, 30.0)
CATEGORICAL = ("PU_DO", "hour_dow", "PU_hour", "DO_hour", "distance_band")
NUMERICAL = ("trip_distance", "log_distance")
RAW_COLUMNS = ("PULocationID", "DOLocationID", "trip_distance", "pickup_datetime")
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def distance_median(distance) -> float:
    """The median of the valid distances: what an impossible distance is replaced by."""
    distance = np.asarray(distance, dtype=float)
    valid = distance[plausible_distance(distance)]
    return float(np.median(valid)) if len(valid) else 0.0


def clean_distance(distance, median: float) -> np.ndarray:
    distance = np.asarray(distance, dtype=float)
    return np.where(plausible_distance(distance), distance, median)


def _categorical(keys: np.ndarray, label) -> pd.Categorical:
    codes, uniques = factorize_ids(keys)
    labels = pd.Index([label(k) for k in uniques], dtype="str")
    return pd.Categorical.from_codes(codes, categories=labels)


def _pickup_parts(values) -> tuple[np.ndarray, np.ndarray]:
    """(hour, weekday with Monday 0) of each pickup, -1 where it is missing or not a
    timestamp. Time-zone-aware values count in their own local time."""
    values = pd.Series(values)
    if pd.api.types.is_datetime64_any_dtype(values):
        if getattr(values.dt, "tz", None) is not None:
            values = values.dt.tz_localize(None)
        stamps = values.to_numpy("datetime64[us]")
    else:  # rides given one by one: each value's own wall time, whatever its zone
        stamps = np.array([_wall_time(v) for v in values], dtype="datetime64[us]")
    missing = np.isnat(stamps)
    # Float division is several times faster than integer division here, and exact: the
    # microsecond counts are below 2**53, and a time 1 µs before an hour boundary is further
    # below it than one rounding step, so floor never rounds up into the next hour.
    hours = np.floor(stamps.view(np.int64) / 3.6e9)
    days = np.floor(hours / 24)
    hour = np.where(missing, -1, hours - 24 * days).astype(np.int64)
    weekday = np.where(missing, -1, (days + 3) % 7).astype(np.int64)  # 1970-01-01: Thursday
    return hour, weekday


def _wall_time(value) -> np.datetime64:
    """A pickup given as a datetime, a Timestamp or an ISO string, as its local wall time in
    microseconds; anything else (or a time that does not parse) is missing."""
    if isinstance(value, str):
        try:
            value = pd.Timestamp(value)
        except (ValueError, OverflowError):
            return np.datetime64("NaT")
    if isinstance(value, pd.Timestamp):
        value = value.to_pydatetime(warn=False) if value is not pd.NaT else None
    if isinstance(value, dt.datetime):
        return np.datetime64(value.replace(tzinfo=None), "us")
    if isinstance(value, np.datetime64):
        return value.astype("datetime64[us]")
    return np.datetime64("NaT")


def rich_frame(frame: pd.DataFrame, median: float) -> pd.DataFrame:
    """The ``rich`` feature columns of rides with PULocationID, DOLocationID, trip_distance
    and pickup_datetime: categoricals of strings and two numerical columns. An unknown hour
    or zone gets label "-1", which no training ride has, so it adds nothing."""
    pu, do = zone_ids(frame["PULocationID"]), zone_ids(frame["DOLocationID"])
    hour, weekday = _pickup_parts(frame["pickup_datetime"])
    distance = clean_distance(
        pd.to_numeric(frame["trip_distance"], errors="coerce").to_numpy(float, na_value=np.nan),
        median,
    )
    band = np.searchsorted(DISTANCE_BANDS, distance, side="right")
    # Pairs are packed into one integer key; zone IDs are small, so the keys stay small.
    stride = int(do.max(initial=0)) + 2
    slot = np.where(hour < 0, -1, weekday * 24 + hour)
    return pd.DataFrame(
        {
            "PU_DO": _categorical(
                (pu + 1) * stride + do + 1, lambda k: _unpack(pair_label, k, stride)
            ),
            "hour_dow": _categorical(
                slot + 1, lambda k: slot_label(*divmod(k - 1, 24)) if k else "-1"
            ),
            "PU_hour": _categorical(
                (pu + 1) * 32 + hour + 1, lambda k: _unpack(zone_hour_label, k, 32)
            ),
            "DO_hour": _categorical(
                (do + 1) * 32 + hour + 1, lambda k: _unpack(zone_hour_label, k, 32)
            ),
            "distance_band": _categorical(band, band_label),
            "trip_distance": distance,
            "log_distance": np.log1p(distance),
        },
        copy=False,
    )


def _unpack(label, key: int, stride: int) -> str:
    first, second = divmod(int(key), stride)
    return label(first - 1, second - 1)


# The labels, one place for both the vectorised columns and a single ride (the service).
def pair_label(pickup: int, dropoff: int) -> str:
    return f"{pickup}_{dropoff}"


def slot_label(weekday: int, hour: int) -> str:
    return f"{WEEKDAYS[weekday]}_{hour:02d}" if hour >= 0 else "-1"


def zone_hour_label(zone: int, hour: int) -> str:
    return f"{zone}_{hour:02d}"  # an unknown hour (-1) reads "<zone>_-1"


def band_label(band: int) -> str:
    edges = (*DISTANCE_BANDS, PLAUSIBLE_MILES)
    return f"{edges[band - 1]:g}-{edges[band]:g}"


def ride_features(pickup: int, dropoff: int, distance, when, median: float) -> dict:
    """The rich feature dict of one ride, as ``RideFeatures`` makes it: ``when`` is a
    ``datetime`` or None, ``distance`` a number or None."""
    valid = distance is not None and bool(plausible_distance(np.float64(distance)))
    miles = float(distance) if valid else median
    hour, weekday = (when.hour, when.weekday()) if when is not None else (-1, -1)
    return {
        "PU_DO": pair_label(pickup, dropoff),
        "hour_dow": slot_label(weekday, hour),
        "PU_hour": zone_hour_label(pickup, hour),
        "DO_hour": zone_hour_label(dropoff, hour),
        "distance_band": band_label(bisect.bisect_right(DISTANCE_BANDS, miles)),
        "trip_distance": miles,
        "log_distance": math.log1p(miles),
    }


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


def _keys(label: str) -> tuple[int, int] | None:
    """'43_151' -> (43, 151), '43_08' -> (43, 8), '43_-1' -> (43, -1)."""
    first, _, second = label.partition("_")
    try:
        return int(first), int(second)
    except ValueError:
        return None


def _slot_key(label: str) -> tuple[int, int] | None:
    """'mon_08' -> (0, 8); the unknown slot '-1' -> (-1, -1)."""
    if label == "-1":
        return (-1, -1)
    day, _, hour = label.partition("_")
    return (WEEKDAYS.index(day), int(hour)) if day in WEEKDAYS and hour.isdigit() else None


def _weight_tables(weights: dict[str, float]) -> dict[str, dict]:
    """Each categorical column's weights keyed by the integers rides give (zones, weekday,
    hour; the band by its label): what both scorers look up instead of formatting labels."""
    tables = {column: {} for column in CATEGORICAL}
    parse = {
        "PU_DO": _keys,
        "hour_dow": _slot_key,
        "PU_hour": _keys,
        "DO_hour": _keys,
        "distance_band": lambda label: label,
    }
    for name, weight in weights.items():
        column, _, label = name.partition("=")
        if column in tables and (key := parse[column](label)) is not None:
            tables[column][key] = weight
    return tables


def scorer(weights: dict[str, float], intercept: float, median: float, distance_used, when_of):
    """Rides scored with ``ride_features``' weights keyed by integers (zones, weekday, hour,
    band): the same sums in the same order, without a label per feature per ride."""
    tables = _weight_tables(weights)
    pair, slot, pu_hour, do_hour = (
        tables[c].get for c in ("PU_DO", "hour_dow", "PU_hour", "DO_hour")
    )
    bands = [tables["distance_band"].get(band_label(b), 0.0) for b in range(1, 14)]
    per_mile, per_log = weights.get("trip_distance", 0.0), weights.get("log_distance", 0.0)

    def score(rides) -> list[float]:
        out = []
        for ride in rides:
            pu, do = ride.get("PULocationID", -1), ride.get("DOLocationID", -1)
            distance = ride.get("trip_distance")
            valid = distance is not None and 0 <= distance <= PLAUSIBLE_MILES
            miles = float(distance) if valid else median
            when = when_of(ride.get("pickup_datetime"))
            hour, weekday = (when.hour, when.weekday()) if when is not None else (-1, -1)
            total = intercept + pair((pu, do), 0.0)
            total += slot((weekday, hour) if hour >= 0 else (-1, -1), 0.0)
            total += pu_hour((pu, hour), 0.0)
            total += do_hour((do, hour), 0.0)
            total += bands[bisect.bisect_right(DISTANCE_BANDS, miles) - 1]
            out.append(total + per_mile * miles + per_log * math.log1p(miles))
        return out

    return score


def _label_table(labels: dict[int, str], size: int) -> np.ndarray:
    """Labels as bytes, looked up by integer key (a Term's field values)."""
    table = np.empty(size, dtype=object)
    for key, label in labels.items():
        table[key] = label.encode()
    return table


_SLOTS = _label_table(
    {0: slot_label(-1, -1)}
    | {(day + 1) * 25 + hour + 1: slot_label(day, hour) for day in range(7) for hour in range(24)},
    8 * 25,
)
_BANDS = _label_table({b - 1: band_label(b) for b in range(1, len(DISTANCE_BANDS) + 1)}, 13)


def _micros_hour_weekday(micros: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(hour, weekday) of wall-clock pickup times in microseconds (``columns.NAT``: -1), in
    integers: exact for any year a datetime holds, as ``datetime.hour`` is."""
    from .columns import NAT

    missing = micros == NAT
    hours = micros // 3_600_000_000
    days = hours // 24
    hour = np.where(missing, -1, hours - 24 * days)
    weekday = np.where(missing, -1, (days + 3) % 7)  # 1970-01-01 was a Thursday
    return hour, weekday


def column_terms(weights: dict[str, float], intercept: float, median, distance_used, when_of):
    """``scorer`` for ``RideColumns``: each column's weights looked up for every ride at
    once, as ``Term``s in ``ride_features``' order (their sum, in that order, is ``scorer``'s
    to the last bit)."""
    from .columns import KeyedWeights, Term, integer_key, pair_keys

    tables = _weight_tables(weights)
    pair, slot, pu_hour, do_hour = (  # each keyed as pair_keys keys the rides
        KeyedWeights({integer_key(key): w for key, w in tables[c].items()})
        for c in ("PU_DO", "hour_dow", "PU_hour", "DO_hour")
    )
    band_weights = np.array([tables["distance_band"].get(b.decode(), 0.0) for b in _BANDS])
    band_seen = np.array([b.decode() in tables["distance_band"] for b in _BANDS])
    per_mile, per_log = weights.get("trip_distance", 0.0), weights.get("log_distance", 0.0)

    def terms(rides) -> list:
        hour, weekday = _micros_hour_weekday(rides.pickup)
        distance = rides.distance
        with np.errstate(invalid="ignore"):
            miles = np.where((distance >= 0) & (distance <= PLAUSIBLE_MILES), distance, median)
        slots = (weekday + 1) * 25 + hour + 1  # the slot's label; (-1, -1): none, "-1"
        band = np.searchsorted(DISTANCE_BANDS, miles, side="right") - 1
        logs = np.fromiter(map(math.log1p, miles.tolist()), np.float64, len(miles))  # as scorer
        pu, do = rides.pu, rides.do
        minutes, seen = pair.find(pair_keys(pu, do))
        out = [Term("PU_DO", minutes, '"%d_%d"', (pu, do), seen)]
        minutes, seen = slot.find(pair_keys(weekday, hour))
        out.append(Term("hour_dow", minutes, '"%s"', (_SLOTS[slots],), seen))
        for column, zones, lookup in (("PU_hour", pu, pu_hour), ("DO_hour", do, do_hour)):
            minutes, seen = lookup.find(pair_keys(zones, hour))
            out.append(Term(column, minutes, '"%d_%02d"', (zones, hour), seen))
        out.append(
            Term("distance_band", band_weights[band], '"%s"', (_BANDS[band],), band_seen[band])
        )
        out.append(Term("trip_distance", per_mile * miles, "%s", (miles,)))
        out.append(Term("log_distance", per_log * logs, "%s", (logs,)))
        return out

    return terms
