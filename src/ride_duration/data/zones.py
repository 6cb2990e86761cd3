"""Taxi zones: the zone lookup file, and zone IDs as integers, codes and string categories."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import DataError

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
