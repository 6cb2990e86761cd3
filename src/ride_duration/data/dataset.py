"""Read one month of TLC trip records and prepare it for modelling."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ..config import MAX_DURATION_MINUTES, MIN_DURATION_MINUTES, PLAUSIBLE_MILES, TAXI_TYPES
from ..errors import DataError, RideDurationError, UnreadableFile


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


def plausible_distance(distance: np.ndarray) -> np.ndarray:
    """Which recorded distances are plausible: finite, from 0 to ``PLAUSIBLE_MILES``."""
    return np.isfinite(distance) & (distance >= 0) & (distance <= PLAUSIBLE_MILES)


def month_bounds(month: str) -> tuple[np.datetime64, np.datetime64]:
    start = np.datetime64(month, "M")
    return start.astype("datetime64[us]"), (start + 1).astype("datetime64[us]")


def file_name(taxi: str, month: str) -> str:
    return f"{taxi}_tripdata_{month}.parquet"


def month_path(taxi: str, month: str, data_dir: Path) -> Path:
    return Path(data_dir) / file_name(check_taxi(taxi), parse_month(month))


def missing_file_hint(taxi: str, month: str) -> str:
    return (
        f"get it with `ride-duration download --taxi {taxi} --month {month}` or place the TLC "
        "file there by hand"
    )


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


ZONE_COLUMNS = ("LocationID", "Borough", "Zone", "service_zone")


def read_zones(path: Path) -> pd.DataFrame:
    """The taxi-zone lookup. Its "NA" and "N/A" zones are names, not missing values."""
    try:
        zones = pd.read_csv(path, keep_default_na=False)
    except (OSError, ValueError, UnicodeDecodeError) as exc:
        raise DataError(f"{path}: not a readable CSV file ({exc})") from None
    missing = [c for c in ZONE_COLUMNS if c not in zones]
    if missing:
        raise DataError(f"{path}: not the taxi zone lookup (no column {missing[0]!r})")
    if zones.empty:
        raise DataError(f"{path}: the zone lookup has no rows")
    return zones


def validate_zones_file(path: Path) -> None:
    read_zones(path)


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
        frame[column] = _as_timestamps(frame[column], source_names[column], path)
    if "trip_distance" in frame:
        frame["trip_distance"] = pd.to_numeric(frame["trip_distance"], errors="coerce").astype(
            "float64"
        )
    return frame


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


# Plausible trip times: what falls outside is a recording error, read as a missing time.
EARLIEST, LATEST = np.datetime64("2000-01-01", "us"), np.datetime64("2100-01-01", "us")
EPOCH_PER_SECOND = (1, 1e3, 1e6, 1e9)  # seconds, milliseconds, microseconds, nanoseconds


def _as_timestamps(values: pd.Series, column: str, path: Path) -> pd.Series:
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


def check_month_of_file(path: Path, taxi: str, month: str) -> None:
    """Refuse a file most of whose pickups fall outside ``month``: the server sent another
    month's file (TLC's own files hold a few stray rides, never most)."""
    import pyarrow.parquet as pq

    schema = SCHEMAS[taxi]
    parquet = _open_parquet(Path(path))
    columns = _resolve_columns(parquet.schema_arrow.names, schema, taxi, Path(path))
    pickup_column = next(k for k, v in columns.items() if v == "pickup_datetime")
    table = pq.read_table(path, columns=[pickup_column])
    pickup = _as_timestamps(table.column(0).to_pandas(), pickup_column, Path(path))
    start, end = month_bounds(month)
    stamps = pickup.to_numpy("datetime64[us]")
    inside = float(np.mean((stamps >= start) & (stamps < end))) if len(stamps) else 0.0
    if inside < 0.5:
        raise DataError(
            f"{path}: only {inside:.0%} of its pickups fall in {month}; it is not the {taxi} "
            f"file for {month}"
        )


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


def location_ids(values: pd.Series) -> np.ndarray:
    """Location IDs as int64 with -1 for missing; FHV stores them as floats with NaN."""
    if pd.api.types.is_integer_dtype(values.dtype) and not values.hasnans:
        return values.to_numpy(np.int64)
    numbers = pd.to_numeric(values, errors="coerce").to_numpy("float64", na_value=np.nan)
    return np.where(np.isnan(numbers), -1, numbers).astype(np.int64)


def zone_ids(values) -> np.ndarray:
    """Zone IDs as int64, -1 where missing, from raw values or from a prepared frame's
    categorical of ID strings (whose few hundred categories are converted, not the rows)."""
    if isinstance(values.dtype, pd.CategoricalDtype):
        categories = location_ids(pd.Series(values.cat.categories.astype("str"), dtype=object))
        codes = values.cat.codes.to_numpy()
        return np.append(categories, -1)[codes]  # code -1 (missing) takes the trailing -1
    return location_ids(pd.Series(values))


def factorize_ids(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(codes, uniques) of integer IDs; codes are int32. Location IDs are small, so a lookup
    table does it in one pass without hashing; other ranges fall back to pandas."""
    if len(values) and values.min() >= -1 and values.max() < 1 << 20:
        present = np.bincount(values + 1) > 0
        uniques = np.flatnonzero(present) - 1
        lookup = np.cumsum(present, dtype=np.int32) - 1
        return lookup[values + 1], uniques
    codes, uniques = pd.factorize(values)
    return codes.astype(np.int32), np.asarray(uniques)


def _string_categorical(codes: np.ndarray, labels: list[str]) -> pd.Categorical:
    return pd.Categorical.from_codes(codes, categories=pd.Index(labels, dtype="str"))


TIMESTAMPS = ("both", "pickup", "none")


def zone_columns(pu: np.ndarray, do: np.ndarray) -> dict[str, pd.Categorical]:
    """PULocationID, DOLocationID and PU_DO as categoricals of strings, from integer IDs:
    only the distinct IDs and pairs are turned into text."""
    pu_codes, pu_uniques = factorize_ids(pu)
    do_codes, do_uniques = factorize_ids(do)
    n_do = max(len(do_uniques), 1)
    pair_codes, pair_uniques = factorize_ids(pu_codes.astype(np.int64) * n_do + do_codes)
    pu_labels = [str(v) for v in pu_uniques]
    do_labels = [str(v) for v in do_uniques]
    pair_labels = [f"{pu_labels[p]}_{do_labels[d]}" for p, d in zip(*divmod(pair_uniques, n_do))]

    return {
        "PULocationID": _string_categorical(pu_codes, pu_labels),
        "DOLocationID": _string_categorical(do_codes, do_labels),
        "PU_DO": _string_categorical(pair_codes, pair_labels),
    }


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
