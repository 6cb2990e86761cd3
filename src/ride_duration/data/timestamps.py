"""Trip times as TLC files hold them (datetimes, strings with or without offsets, integer
epoch times in any unit), read as naive datetime64[us]; implausible ones become missing."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import DataError

# Plausible trip times: what falls outside is a recording error, read as a missing time.
EARLIEST, LATEST = np.datetime64("2000-01-01", "us"), np.datetime64("2100-01-01", "us")


EPOCH_PER_SECOND = (1, 1e3, 1e6, 1e9)  # seconds, milliseconds, microseconds, nanoseconds


def as_timestamps(values: pd.Series, column: str, path: Path) -> pd.Series:
    """A column of trip times as naive datetime64[us]: datetimes as they are (a time zone's
    wall time kept), strings parsed (with or without UTC offsets), integers read as epoch
    times in the unit that puts them in 2000-2100. Values that do not parse, or fall outside
    2000-2100, become missing (dropped and counted); a column in which nothing parses is the
    wrong column."""
    if pd.api.types.is_datetime64_any_dtype(values):
        if getattr(values.dt, "tz", None) is not None:
            values = values.dt.tz_localize(None)
        # Compared in the column's own unit: a far-off date cannot overflow microseconds.
        values = values.where((values >= EARLIEST) & (values < LATEST))
        return values.astype("datetime64[us]")
    if pd.api.types.is_integer_dtype(values) or pd.api.types.is_float_dtype(values):
        return _from_epoch(values, column, path)
    try:
        parsed = pd.to_datetime(values, errors="coerce", format="mixed")
    except (ValueError, TypeError, OverflowError):  # mixed UTC offsets: compare them in UTC
        parsed = pd.to_datetime(values, errors="coerce", format="mixed", utc=True)
    if getattr(parsed.dt, "tz", None) is not None:
        parsed = parsed.dt.tz_localize(None)
    parsed = parsed.where((parsed >= EARLIEST) & (parsed < LATEST))
    bad = parsed.isna() & values.notna()
    if bad.any() and parsed.notna().sum() == 0:
        raise DataError(
            f"{path}: column {column!r} holds values that are not timestamps "
            f"(for example {values[bad].iloc[0]!r})"
        )
    return parsed.astype("datetime64[us]")


def _from_epoch(values: pd.Series, column: str, path: Path) -> pd.Series:
    numbers = values.to_numpy("float64", na_value=np.nan)
    finite = numbers[np.isfinite(numbers)]
    typical = float(np.median(np.abs(finite))) if len(finite) else np.nan
    low, high = (bound.astype("datetime64[s]").astype(np.int64) for bound in (EARLIEST, LATEST))
    for per_second in EPOCH_PER_SECOND:
        if low * per_second <= typical < high * per_second:
            seconds = numbers / per_second
            inside = (seconds >= low) & (seconds < high)  # False for NaN
            micros = np.round(np.where(inside, seconds, 0.0) * 1e6).astype(np.int64)
            stamps = micros.view("datetime64[us]").copy()
            stamps[~inside] = np.datetime64("NaT")
            return pd.Series(stamps, index=values.index)
    raise DataError(
        f"{path}: column {column!r} holds numbers that are not times of 2000-2100 in seconds, "
        f"milliseconds, microseconds or nanoseconds since 1970 (for example {values.iloc[0]!r})"
    )
