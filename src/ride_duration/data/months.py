"""The calendar of TLC files: taxi types, months (one, a list or a range) and the file each
month is published as. The one place that knows how a month file is named."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import numpy as np

from ..config import MONTH_FILE_PATTERN, TAXI_TYPES
from ..errors import RideDurationError

FIRST_MONTH = "2009-01"


_MONTH = re.compile(r"([0-9]{4})-([0-9]{2})")  # ASCII digits only, unlike \d


def check_taxi(taxi: str) -> str:
    if taxi not in TAXI_TYPES:
        raise RideDurationError(
            f"unknown taxi type {taxi!r}: choose one of {', '.join(TAXI_TYPES)}"
        )
    return taxi


def parse_month(text: str, *, today: dt.date | None = None) -> str:
    """Validate a YYYY-MM month that TLC could have published; return it normalised."""
    match = _MONTH.fullmatch(str(text).strip())
    if not match or not 1 <= int(match[2]) <= 12:
        raise RideDurationError(f"month {text!r} is not a real month: write it as YYYY-MM")
    month = f"{match[1]}-{match[2]}"
    if month < FIRST_MONTH:
        raise RideDurationError(f"month {month}: TLC trip records start at {FIRST_MONTH}")
    today = today or dt.date.today()
    if month > f"{today.year:04d}-{today.month:02d}":
        raise RideDurationError(f"month {month} is in the future")
    return month


MONTH_RANGE = re.compile(r"(.+?)\.\.(.+)")


def parse_months(text: str, *, today: dt.date | None = None) -> list[str]:
    """One month, a comma list (``2023-01,2023-02``) or an inclusive range
    (``2023-01..2023-12``), each checked as ``parse_month`` does; in order, once each."""
    months = []
    for part in str(text).split(","):
        span = MONTH_RANGE.fullmatch(part.strip())
        if not span:
            months.append(parse_month(part, today=today))
            continue
        first, last = (parse_month(m, today=today) for m in span.groups())
        if first > last:
            raise RideDurationError(f"month range {part.strip()!r} runs backwards")
        start, stop = np.datetime64(first, "M"), np.datetime64(last, "M")
        months += [str(m) for m in np.arange(start, stop + 1)]
    return list(dict.fromkeys(months))


def month_spec(text: str) -> str:
    """A checked month spec, written canonically: one month, a range, or a list."""
    months = parse_months(text)
    if len(months) == 1:
        return months[0]
    consecutive = [
        str(m) for m in np.arange(np.datetime64(months[0]), np.datetime64(months[-1]) + 1)
    ]
    return f"{months[0]}..{months[-1]}" if months == consecutive else ",".join(months)


def month_bounds(month: str) -> tuple[np.datetime64, np.datetime64]:
    start = np.datetime64(month, "M")
    return start.astype("datetime64[us]"), (start + 1).astype("datetime64[us]")


MONTH_FILE = re.compile(MONTH_FILE_PATTERN)


def file_name(taxi: str, month: str) -> str:
    return f"{taxi}_tripdata_{month}.parquet"


def month_of_file(name: str) -> tuple[str, str] | None:
    """(taxi, month) of a file named as TLC names a month's file, else None."""
    match = MONTH_FILE.fullmatch(name)
    return (match["taxi"], match["month"]) if match else None


def month_path(taxi: str, month: str, data_dir: Path) -> Path:
    return Path(data_dir) / file_name(check_taxi(taxi), parse_month(month))


def missing_file_hint(taxi: str, month: str) -> str:
    return (
        f"get it with `ride-duration download --taxi {taxi} --month {month}` or place the TLC "
        "file there by hand"
    )


def months_present(taxi: str, data_dir: Path) -> list[str]:
    """The months of this taxi type with a file in the data folder, in order."""
    folder = Path(data_dir)
    if not folder.is_dir():
        return []
    found = (month_of_file(p.name) for p in folder.iterdir())
    return sorted(month for kind, month in filter(None, found) if kind == taxi)


def month_spans(months: list[str]) -> list[str]:
    """Months written as spans of consecutive ones: 2021-06..2021-12, 2022-04."""
    spans: list[list[str]] = []
    for month in months:
        following = spans and np.datetime64(spans[-1][-1]) + 1 == np.datetime64(month)
        spans[-1:] = [[spans[-1][0], month]] if following else [*spans[-1:], [month]]
    return [span[0] if len(span) == 1 else f"{span[0]}..{span[-1]}" for span in spans]


def month_order_note(train_months: list[str], val_months: list[str]) -> str | None:
    """A warning when validation does not come after training: the same month (the RMSE is
    then not out of sample) or an earlier one (the model is validated on the past)."""
    shared = [m for m in val_months if m in train_months]
    if shared:
        return (
            f"validation month equals training month ({', '.join(shared)}): "
            "the validation RMSE is not an out-of-sample estimate"
        )
    earlier = [m for m in val_months if m < max(train_months)]
    if earlier:
        return (
            f"validation month {', '.join(earlier)} is not after every training month "
            f"(the last is {max(train_months)}): the model is validated on the past"
        )
    return None
