"""Read one month of TLC trip records: the columns each taxi type keeps (schemas differ by
type and year), read whole or a row group at a time, under normalised names."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import DataError, UnreadableFile
from .months import missing_file_hint, month_bounds, month_path
from .timestamps import as_timestamps


@dataclass(frozen=True)
class TaxiSchema:
    """Where one TLC taxi type keeps the columns we need."""

    pickup: str
    dropoff: str
    pickup_location: str
    dropoff_location: str
    distance: str | None

    def columns(self) -> dict[str, str]:
        """Source column → normalised column, for the columns this type has."""
        pairs = {
            self.pickup: "pickup_datetime",
            self.dropoff: "dropoff_datetime",
            self.pickup_location: "PULocationID",
            self.dropoff_location: "DOLocationID",
        }
        if self.distance:
            pairs[self.distance] = "trip_distance"
        return pairs


SCHEMAS = {
    "yellow": TaxiSchema(
        "tpep_pickup_datetime",
        "tpep_dropoff_datetime",
        "PULocationID",
        "DOLocationID",
        "trip_distance",
    ),
    "green": TaxiSchema(
        "lpep_pickup_datetime",
        "lpep_dropoff_datetime",
        "PULocationID",
        "DOLocationID",
        "trip_distance",
    ),
    "fhv": TaxiSchema("pickup_datetime", "dropOff_datetime", "PUlocationID", "DOlocationID", None),
    "fhvhv": TaxiSchema(
        "pickup_datetime", "dropoff_datetime", "PULocationID", "DOLocationID", "trip_miles"
    ),
}


def _open_parquet(path: Path, hint: str = ""):
    import pyarrow.parquet as pq

    if path.is_dir():
        raise DataError(f"{path}: is a folder, not a parquet file")
    if not path.is_file():
        raise DataError(f"{path}: file not found" + (f"; {hint}" if hint else ""))
    try:
        # Memory-mapped: the compressed file is read from the page cache, not copied first.
        return pq.ParquetFile(path, memory_map=True)
    except PermissionError as exc:
        raise UnreadableFile(
            f"{path}: cannot be read ({exc.strerror or 'permission denied'})"
        ) from exc
    except Exception as exc:  # pyarrow raises several types for a bad footer
        reason = "the file is empty" if path.stat().st_size == 0 else str(exc).splitlines()[0]
        raise DataError(f"{path}: not a readable parquet file ({reason})") from exc


def _resolve_columns(names: list[str], schema: TaxiSchema, taxi: str, path: Path) -> dict:
    """Match the schema's columns case-insensitively: FHV files spell them several ways."""
    by_lower = {name.lower(): name for name in names}
    seen = [name.lower() for name in names]
    resolved = {}
    for wanted, normalised in schema.columns().items():
        actual = by_lower.get(wanted.lower())
        if actual is None:
            raise DataError(
                f"{path}: column {wanted!r} is missing; a {taxi} trip file needs "
                f"{', '.join(schema.columns())}"
            )
        if seen.count(wanted.lower()) > 1:
            raise DataError(f"{path}: column {wanted!r} appears more than once")
        resolved[actual] = normalised
    return resolved


def _looks_like_html(path: Path) -> bool:
    with open(path, "rb") as handle:
        head = handle.read(512).lstrip()
    return head.startswith(b"<")


def validate_month_file(path: Path, taxi: str) -> None:
    """Check that a file is a usable month of ``taxi`` trips: a parquet file whose footer
    reads, with the columns the type needs and at least one row."""
    path = Path(path)
    if path.is_file() and path.stat().st_size and _looks_like_html(path):
        raise DataError(f"{path}: not a parquet file (it holds an HTML or XML page)")
    parquet = _open_parquet(path)
    _resolve_columns(parquet.schema_arrow.names, SCHEMAS[taxi], taxi, path)
    if parquet.metadata.num_rows == 0:
        raise DataError(f"{path}: the file holds no trips")


def raw_column_count(taxi: str, month: str, data_dir: Path) -> int:
    path = month_path(taxi, month, data_dir)
    return len(_open_parquet(path).schema_arrow.names)


def read_month(taxi: str, month: str, data_dir: Path) -> pd.DataFrame:
    """Read only the needed columns of one month, under normalised names.

    Columns: pickup_datetime, dropoff_datetime, PULocationID, DOLocationID and, for the
    types that record it, trip_distance (fhvhv's trip_miles).
    """
    path, parquet, columns = _month_columns(taxi, month, data_dir)
    try:
        table = parquet.read(columns=list(columns))
    except Exception as exc:
        raise DataError(f"{path}: cannot be read ({str(exc).splitlines()[0]})") from exc
    if table.num_rows == 0:
        raise DataError(f"{path}: the file holds no trips")
    return _normalised(table, columns, path)


def read_month_batches(taxi: str, month: str, data_dir: Path, rows: int = 1 << 20):
    """``read_month`` in pieces of at most ``rows`` rides, read a row group at a time: what a
    month costs in memory is then one piece, however large the file."""
    import pyarrow as pa

    path, parquet, columns = _month_columns(taxi, month, data_dir)
    if parquet.metadata.num_rows == 0:
        raise DataError(f"{path}: the file holds no trips")
    try:
        for batch in parquet.iter_batches(batch_size=rows, columns=list(columns)):
            yield _normalised(pa.Table.from_batches([batch]), columns, path)
    except DataError:
        raise
    except Exception as exc:
        raise DataError(f"{path}: cannot be read ({str(exc).splitlines()[0]})") from exc


def _month_columns(taxi: str, month: str, data_dir: Path):
    path = month_path(taxi, month, data_dir)
    parquet = _open_parquet(path, missing_file_hint(taxi, month))
    return path, parquet, _resolve_columns(parquet.schema_arrow.names, SCHEMAS[taxi], taxi, path)


def _normalised(table, columns: dict, path: Path) -> pd.DataFrame:
    table = table.rename_columns([columns[name] for name in table.column_names])
    # self_destruct frees each Arrow column as soon as it is converted: a 3-million-row
    # month then never sits in memory twice.
    frame = table.to_pandas(split_blocks=True, self_destruct=True)
    del table
    source_names = {normalised: source for source, normalised in columns.items()}
    for column in ("pickup_datetime", "dropoff_datetime"):
        frame[column] = as_timestamps(frame[column], source_names[column], path)
    if "trip_distance" in frame:
        frame["trip_distance"] = pd.to_numeric(frame["trip_distance"], errors="coerce").astype(
            "float64"
        )
    return frame


def check_month_of_file(path: Path, taxi: str, month: str) -> None:
    """Refuse a file most of whose pickups fall outside ``month``: the server sent another
    month's file (TLC's own files hold a few stray rides, never most)."""
    import pyarrow.parquet as pq

    schema = SCHEMAS[taxi]
    parquet = _open_parquet(Path(path))
    columns = _resolve_columns(parquet.schema_arrow.names, schema, taxi, Path(path))
    pickup_column = next(k for k, v in columns.items() if v == "pickup_datetime")
    table = pq.read_table(path, columns=[pickup_column])
    pickup = as_timestamps(table.column(0).to_pandas(), pickup_column, Path(path))
    start, end = month_bounds(month)
    stamps = pickup.to_numpy("datetime64[us]")
    inside = float(np.mean((stamps >= start) & (stamps < end))) if len(stamps) else 0.0
    if inside < 0.5:
        raise DataError(
            f"{path}: only {inside:.0%} of its pickups fall in {month}; it is not the {taxi} "
            f"file for {month}"
        )
