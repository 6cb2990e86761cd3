"""The service's prediction log, as files: one row per scored ride, in Parquet files under
``logs/predictions/date=YYYY-MM-DD/`` (a Hive partition: pandas, pyarrow and DuckDB read the
folder as one table with a ``date`` column). The service writes them (``serving.recording``);
``monitor --live`` reads them back with ``read_recorded``.

A file is written under a hidden temporary name and renamed when complete, so every file
under its final name reads; the temporaries of a writer that was killed stay hidden
(``.part-...tmp``), and readers skip them.
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pyarrow as pa

from ..errors import RideDurationError

PARTITION = "date={date}"
PARTITION_PATTERN = re.compile(r"date=(\d{4}-\d{2}-\d{2})")
FILE_PATTERN = re.compile(r"part-[0-9a-z-]+\.parquet")

# One row per ride: when the request came in (UTC), its id, the version that answered; the
# ride as the model read it (zones: -1 when missing; the pickup as wall-clock time); the
# prediction, and its interval when one was asked for.
SCHEMA = pa.schema(
    [
        ("time", pa.timestamp("us", tz="UTC")),
        ("request_id", pa.string()),
        ("model_version", pa.string()),
        ("PULocationID", pa.int32()),
        ("DOLocationID", pa.int32()),
        ("trip_distance", pa.float64()),
        ("pickup_datetime", pa.timestamp("us")),
        ("duration", pa.float64()),
        ("interval_level", pa.float64()),
        ("interval_lower", pa.float64()),
        ("interval_upper", pa.float64()),
    ]
)

_RELATIVE = re.compile(r"(\d+)\s*([smhdw])")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def partition_dir(folder: Path, date: dt.date) -> Path:
    return Path(folder) / PARTITION.format(date=date.isoformat())


def parse_since(text: str, now: dt.datetime | None = None, flag: str = "--since") -> dt.datetime:
    """``--since`` (or ``--until``): a time ago (``30m``, ``6h``, ``2d``, ``1w``) or an ISO
    date or time (``2026-12-04``, ``2026-12-04T06:00``; UTC unless it names its offset).
    Aware, in UTC."""
    now = now or dt.datetime.now(dt.timezone.utc)
    text = str(text).strip()
    if match := _RELATIVE.fullmatch(text):
        amount, unit = int(match[1]), _UNITS[match[2]]
        try:
            return now - dt.timedelta(**{unit: amount})
        except OverflowError:
            return dt.datetime.min.replace(tzinfo=dt.timezone.utc)
    try:
        when = dt.datetime.fromisoformat(text)
    except ValueError:
        raise RideDurationError(
            f"{flag} {text!r}: give a time ago (30m, 6h, 2d, 1w) or an ISO date or time "
            "(2026-12-04, 2026-12-04T06:00)"
        ) from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.timezone.utc)
    return when.astimezone(dt.timezone.utc)


def recorded_files(
    folder: Path, since: dt.datetime | None = None, until: dt.datetime | None = None
) -> list[Path]:
    """The complete log files under ``folder`` (the partitions from ``since``'s date to
    ``until``'s), oldest partition first."""
    folder = Path(folder)
    if not folder.is_dir():
        raise RideDurationError(
            f"{folder}: no prediction log here (`serve` writes one to logs/predictions, or "
            "where --log-dir says)"
        )
    first = since.date().isoformat() if since is not None else ""
    last = until.date().isoformat() if until is not None else "9999"
    files = []
    for partition in sorted(folder.iterdir()):
        match = PARTITION_PATTERN.fullmatch(partition.name)
        if match and partition.is_dir() and first <= match[1] <= last:
            files += sorted(p for p in partition.iterdir() if FILE_PATTERN.fullmatch(p.name))
    return files


def read_recorded(folder: Path, since: dt.datetime | None = None, until: dt.datetime | None = None):
    """The rides recorded under ``folder`` (from ``since`` on, before ``until``) as a
    DataFrame in the log's columns, in the order they were recorded within each file."""
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    tables = []
    for path in recorded_files(folder, since, until):
        try:
            table = pq.read_table(path, schema=SCHEMA)
        except (OSError, pa.ArrowException) as exc:
            raise RideDurationError(f"{path}: not a prediction log file ({exc})") from None
        if since is not None:
            table = table.filter(pc.greater_equal(table["time"], pa.scalar(since, SCHEMA[0].type)))
        if until is not None:
            table = table.filter(pc.less(table["time"], pa.scalar(until, SCHEMA[0].type)))
        tables.append(table)
    table = pa.concat_tables(tables) if tables else SCHEMA.empty_table()
    return table.to_pandas()
