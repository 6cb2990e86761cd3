"""The rides of a month as a model reads them: prepared by the data rules (the 1-60 minute
rule, the zone and distance columns), then those its feature set cannot use dropped and
counted. Whole (the fastest way for one month) or a row group at a time (bounded memory);
training, validation, scoring and monitoring all read months through here."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pandas as pd

from ..config import MAX_DURATION_MINUTES, MIN_DURATION_MINUTES
from ..data.months import check_taxi, month_path, parse_month
from ..data.prepare import PrepareReport, prepare
from ..data.reading import read_month, read_month_batches
from ..errors import DataError
from ..features import usable


def month_rides(
    taxi: str,
    month: str,
    data_dir: Path,
    features: str,
    *,
    rows: int | None = None,
    positions: bool = False,
) -> Iterator[tuple[pd.DataFrame, PrepareReport]]:
    """(rides, report) of ``month`` for the feature set ``features``: one pair for the whole
    month when ``rows`` is None, else one per batch of at most ``rows`` rides read. The
    pickup time is kept for every set: each ride's interval reads its hour of the week (and
    the errors per day are counted by it); ``positions`` keeps each ride's row in the raw
    file. A month from which no ride survives is refused, naming the file and why."""
    taxi, month = check_taxi(taxi), parse_month(month)
    timestamps = "pickup"
    raws = (
        [read_month(taxi, month, data_dir)]
        if rows is None
        else read_month_batches(taxi, month, data_dir, rows)
    )
    total = PrepareReport.empty()
    for raw in raws:
        frame, report = prepare(raw, month, timestamps=timestamps, positions=positions)
        del raw
        frame = usable(features, frame, report)
        total = total + report
        yield frame, report
    if total.rows_kept == 0:
        raise DataError(empty_month(taxi, month, data_dir, total))


def empty_month(taxi: str, month: str, data_dir: Path, report: PrepareReport) -> str:
    """Why a month gives no ride to learn from or score."""
    path = month_path(taxi, month, data_dir)
    if report.rows_read == 0:
        return f"{path}: the file holds no trips"
    if report.dropped_missing_feature:
        return (
            f"{path}: none of its {report.rows_read} trips has every feature recorded "
            f"({report.dropped_missing_feature} lack a finite distance)"
        )
    return (
        f"{path}: none of its {report.rows_read} trips lasts {MIN_DURATION_MINUTES:g} to "
        f"{MAX_DURATION_MINUTES:g} minutes"
    )


def whole_month(
    taxi: str, month: str, data_dir: Path, features: str, **kwargs
) -> tuple[pd.DataFrame, PrepareReport]:
    """The month's rides in one frame (see ``month_rides``)."""
    ((frame, report),) = month_rides(taxi, month, data_dir, features, **kwargs)
    return frame, report
