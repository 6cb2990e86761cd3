"""The data layer in one import, for notebooks and users: read a TLC month, the 1-60 minute
and distance rules, the zone lookup. Each piece lives in its own module: ``months`` (the
calendar and file names), ``reading`` (schemas, parquet), ``timestamps``, ``zones`` and
``prepare`` (the rules and their report)."""

from .months import (
    FIRST_MONTH,
    check_taxi,
    file_name,
    missing_file_hint,
    month_bounds,
    month_order_note,
    month_path,
    parse_month,
    parse_months,
)
from .prepare import (
    TIMESTAMPS,
    PrepareReport,
    duration_minutes,
    load_months,
    load_prepared,
    plausible_distance,
    prepare,
)
from .reading import (
    SCHEMAS,
    TaxiSchema,
    check_month_of_file,
    raw_column_count,
    read_month,
    read_month_batches,
    validate_month_file,
)
from .zones import factorize_ids, location_ids, read_zones, zone_columns, zone_ids

__all__ = [
    "FIRST_MONTH",
    "SCHEMAS",
    "TIMESTAMPS",
    "PrepareReport",
    "TaxiSchema",
    "check_month_of_file",
    "check_taxi",
    "duration_minutes",
    "factorize_ids",
    "file_name",
    "load_months",
    "load_prepared",
    "location_ids",
    "missing_file_hint",
    "month_bounds",
    "month_order_note",
    "month_path",
    "parse_month",
    "parse_months",
    "plausible_distance",
    "prepare",
    "raw_column_count",
    "read_month",
    "read_month_batches",
    "read_zones",
    "validate_month_file",
    "zone_columns",
    "zone_ids",
]
