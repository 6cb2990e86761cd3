"""Prepare a month for modelling: the 1-60 minute rule, the zone columns, the distance rule,
and a report of what each rule did."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ..config import MAX_DURATION_MINUTES, MIN_DURATION_MINUTES, PLAUSIBLE_MILES
from ..errors import DataError
from .months import check_taxi, month_bounds, month_path, parse_month, parse_months
from .reading import read_month
from .zones import location_ids, zone_columns


def plausible_distance(distance: np.ndarray) -> np.ndarray:
    """Which recorded distances are plausible: finite, from 0 to ``PLAUSIBLE_MILES``."""
    return np.isfinite(distance) & (distance >= 0) & (distance <= PLAUSIBLE_MILES)


@dataclass
class PrepareReport:
    """What the 1–60 minute rule and the data checks did to one month."""

    rows_read: int
    rows_kept: int
    dropped_missing_time: int
    dropped_negative: int
    dropped_too_short: int
    dropped_too_long: int
    flagged_missing_location: int
    flagged_bad_distance: int
    flagged_outside_month: int
    dropped_missing_feature: int = 0

    def __add__(self, other: PrepareReport) -> PrepareReport:
        """The report of two batches of rides together."""
        return PrepareReport(**{k: v + getattr(other, k) for k, v in asdict(self).items()})

    @classmethod
    def empty(cls) -> PrepareReport:
        return cls(0, 0, 0, 0, 0, 0, 0, 0, 0)

    @property
    def fraction_kept(self) -> float:
        return self.rows_kept / self.rows_read if self.rows_read else 0.0

    def as_dict(self) -> dict:
        return asdict(self) | {"fraction_kept": self.fraction_kept}


def duration_minutes(frame: pd.DataFrame) -> np.ndarray:
    """Ride duration in minutes, NaN where a timestamp is missing."""
    pickup = frame["pickup_datetime"].to_numpy("datetime64[us]")
    dropoff = frame["dropoff_datetime"].to_numpy("datetime64[us]")
    # Integer microseconds divided once: exact at the 1- and 60-minute edges.
    minutes = (dropoff.view(np.int64) - pickup.view(np.int64)) / 60_000_000
    missing = np.isnat(pickup) | np.isnat(dropoff)
    if missing.any():
        minutes[missing] = np.nan
    return minutes


TIMESTAMPS = ("both", "pickup", "none")


def prepare(
    frame: pd.DataFrame,
    month: str | None = None,
    *,
    timestamps: str = "both",
    positions: bool = False,
) -> tuple[pd.DataFrame, PrepareReport]:
    """Keep rides of 1 to 60 minutes (both ends included) and build the model's columns.

    Location IDs become strings ("-1" where missing) and PU_DO is "<PU>_<DO>". They are
    stored as categoricals of strings, so a month of millions of rows converts only its few
    hundred distinct IDs to text. Rows outside the file's month are kept, as the course does,
    and counted. ``timestamps`` says which timestamp columns to keep: "both", "pickup" (the
    feature sets that read its hour) or "none" (a big month saves their memory).
    """
    if timestamps not in TIMESTAMPS:
        raise ValueError(f"timestamps is one of {TIMESTAMPS}, not {timestamps!r}")
    minutes = duration_minutes(frame)
    keep = (minutes >= MIN_DURATION_MINUTES) & (minutes <= MAX_DURATION_MINUTES)
    kept = np.flatnonzero(keep)
    del keep
    pu = location_ids(frame["PULocationID"])[kept]
    do = location_ids(frame["DOLocationID"])[kept]
    report = PrepareReport(
        rows_read=len(frame),
        rows_kept=len(kept),
        dropped_missing_time=int(np.isnan(minutes).sum()),
        dropped_negative=int((minutes < 0).sum()),
        dropped_too_short=int(((minutes >= 0) & (minutes < MIN_DURATION_MINUTES)).sum()),
        dropped_too_long=int((minutes > MAX_DURATION_MINUTES).sum()),
        flagged_missing_location=int(((pu == -1) | (do == -1)).sum()),
        flagged_bad_distance=0,
        flagged_outside_month=0,
    )
    columns = {"row": kept} if positions else {}  # each ride's row in the raw file
    pickup = frame["pickup_datetime"].to_numpy("datetime64[us]")[kept]
    if month is not None:
        start, end = month_bounds(month)
        report.flagged_outside_month = int(((pickup < start) | (pickup >= end)).sum())
    if timestamps != "none":
        columns["pickup_datetime"] = pickup
    if timestamps == "both":
        columns["dropoff_datetime"] = frame["dropoff_datetime"].to_numpy("datetime64[us]")[kept]
    del pickup
    columns |= zone_columns(pu, do)
    del pu, do
    if "trip_distance" in frame:
        distance = frame["trip_distance"].to_numpy("float64", na_value=np.nan)[kept]
        # Implausible distances are kept (the model sees them as recorded) but counted, so a
        # user can tell a dirty month from a clean one.
        report.flagged_bad_distance = int((~plausible_distance(distance)).sum())
        columns["trip_distance"] = distance
    columns["duration"] = minutes[kept]
    return pd.DataFrame(columns, copy=False), report


def load_prepared(
    taxi: str,
    month: str,
    data_dir: Path,
    *,
    timestamps: str = "both",
    positions: bool = False,
) -> tuple[pd.DataFrame, PrepareReport]:
    """Read one month and prepare it, refusing months from which no ride survives."""
    month = parse_month(month)
    raw = read_month(check_taxi(taxi), month, data_dir)
    prepared, report = prepare(raw, month, timestamps=timestamps, positions=positions)
    del raw
    if report.rows_kept == 0:
        raise DataError(
            f"{month_path(taxi, month, data_dir)}: none of its {report.rows_read} trips lasts "
            f"{MIN_DURATION_MINUTES:g} to {MAX_DURATION_MINUTES:g} minutes"
        )
    return prepared, report


def load_months(
    taxi: str, spec: str, data_dir: Path, *, timestamps: str = "both"
) -> tuple[pd.DataFrame, PrepareReport]:
    """``load_prepared`` for a month spec (one month, a list or a range): the months'
    prepared rides one after another, in memory (for exploring; training many months
    streams them instead), and their reports added up."""
    from pandas.api.types import union_categoricals

    frames, report = [], PrepareReport.empty()
    for month in parse_months(spec):
        frame, part = load_prepared(taxi, month, data_dir, timestamps=timestamps)
        frames.append(frame)
        report = report + part
    if len(frames) == 1:
        return frames[0], report
    columns = {
        column: union_categoricals([f[column] for f in frames])
        if isinstance(frames[0][column].dtype, pd.CategoricalDtype)
        else np.concatenate([f[column].to_numpy() for f in frames])
        for column in frames[0]
    }
    return pd.DataFrame(columns, copy=False), report
