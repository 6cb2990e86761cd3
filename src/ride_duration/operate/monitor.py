"""Watch a model on a new month: its errors, and how far the month's rides and predictions
have drifted from the model's training months (the reference). Thresholds say when to act:
``monitor`` exits 3 when one is crossed, so that a scheduler can retrain."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields

import numpy as np

from ..config import PLAUSIBLE_MILES
from ..data.dataset import load_prepared, month_bounds, parse_months
from ..errors import RideDurationError
from ..features import complete_rows, required_columns
from ..modeling.model import load
from .drift import counts_of, jensen_shannon, normed_wasserstein, psi

ZONES = ("PULocationID", "DOLocationID")
NUMBERS = {  # what is drawn, and the histogram's bins
    "prediction": np.linspace(0, 60, 61),
    "duration": np.linspace(0, 60, 61),
    "trip_distance": np.linspace(0, 30, 61),
}


@dataclass(frozen=True)
class Thresholds:
    """When the month counts as changed; each has a --flag of the same name."""

    rmse_ratio: float = 1.10  # the month's RMSE over the model's validation RMSE
    prediction_drift: float = 0.15  # the predictions' Wasserstein distance / reference std
    input_drift: float = 0.20  # the same for duration and distance
    category_psi: float = 0.25  # PSI of pickup zone, dropoff zone or hour of the week
    missing_increase: float = 0.05  # rise of a field's share of missing values

    @classmethod
    def names(cls) -> list[str]:
        return [f.name for f in fields(cls)]


@dataclass
class Sample:
    """One side of the comparison: rides, their actual and predicted minutes."""

    frame: object
    predicted: np.ndarray
    report: object

    @property
    def actual(self) -> np.ndarray:
        return self.frame["duration"].to_numpy()


def _sample(model, taxi: str, months: list[str], data_dir) -> Sample:
    import pandas as pd

    frames, report = [], None
    for month in months:
        frame, part = load_prepared(taxi, month, data_dir, timestamps="pickup")
        frames.append(frame)
        report = part if report is None else report + part
    frame = frames[0] if len(frames) == 1 else pd.concat(frames, ignore_index=True)
    frame, _ = complete_rows(frame, required_columns(model.features, frame))
    if len(frame) == 0:
        raise RideDurationError(f"{taxi} {', '.join(months)}: no ride has every feature recorded")
    return Sample(frame, model.predict_frame(frame), report)


def hour_of_week(pickup) -> np.ndarray:
    """0 (Monday 00h) to 167 (Sunday 23h); -1 where the time is missing."""
    minutes = np.asarray(pickup, dtype="datetime64[m]")
    missing = np.isnat(minutes)
    hours = minutes.astype("datetime64[h]").astype(np.int64)
    # 1970-01-01 was a Thursday: hour 0 of the epoch is hour 72 of its week.
    out = (hours + 72) % 168
    out[missing] = -1
    return out


def _numbers(sample: Sample) -> dict:
    distance = sample.frame["trip_distance"].to_numpy() if "trip_distance" in sample.frame else None
    values = {"prediction": sample.predicted, "duration": sample.actual}
    if distance is not None:
        # Implausible distances (over 100 miles) would dominate any spread: they are counted
        # among the missing values instead.
        values["trip_distance"] = distance[(distance >= 0) & (distance <= PLAUSIBLE_MILES)]
    return values


def _zone_counts(column) -> dict:
    """{zone label: rides} from a categorical column, counted on its codes."""
    counts = column.value_counts(sort=False)
    return {str(label): int(n) for label, n in counts.items() if n}


def _categories(sample: Sample) -> dict:
    out = {zone: _zone_counts(sample.frame[zone]) for zone in ZONES}
    out["hour_of_week"] = counts_of(hour_of_week(sample.frame["pickup_datetime"]))
    return out


def _missing(sample: Sample) -> dict:
    frame, report = sample.frame, sample.report
    shares = {zone: float((frame[zone] == "-1").mean()) for zone in ZONES}
    if "trip_distance" in frame:
        distance = frame["trip_distance"].to_numpy()
        bad = ~(np.isfinite(distance) & (distance >= 0) & (distance <= PLAUSIBLE_MILES))
        shares["trip_distance"] = float(np.mean(bad))
    shares["timestamps"] = report.dropped_missing_time / max(report.rows_read, 1)
    return shares


def _errors(actual: np.ndarray, predicted: np.ndarray) -> dict:
    error = np.asarray(actual, float) - np.asarray(predicted, float)
    return {
        "rides": int(len(error)),
        "rmse": float(np.sqrt(np.mean(error**2))) if len(error) else float("nan"),
        "mae": float(np.mean(np.abs(error))) if len(error) else float("nan"),
    }


def per_day(sample: Sample, month: str) -> list[dict]:
    """RMSE and MAE of each day of the month (rides picked up outside it are left out)."""
    start, end = month_bounds(month)
    pickup = np.asarray(sample.frame["pickup_datetime"], dtype="datetime64[us]")
    inside = (pickup >= start) & (pickup < end)
    day = (pickup[inside].astype("datetime64[D]") - start.astype("datetime64[D]")).astype(int)
    error = (sample.actual - sample.predicted)[inside]
    days = int((end - start).astype("timedelta64[D]").astype(int))
    rides = np.bincount(day, minlength=days)
    squared = np.bincount(day, weights=error**2, minlength=days)
    absolute = np.bincount(day, weights=np.abs(error), minlength=days)
    dates = np.arange(start.astype("datetime64[D]"), start.astype("datetime64[D]") + days)
    return [
        {
            "date": str(date),
            "rides": int(n),
            "rmse": float(np.sqrt(s / n)) if n else None,
            "mae": float(a / n) if n else None,
        }
        for date, n, s, a in zip(dates, rides, squared, absolute)
    ]


def _drift(reference: Sample, current: Sample) -> dict:
    drift = {}
    ref_numbers, cur_numbers = _numbers(reference), _numbers(current)
    for name, values in ref_numbers.items():
        bins = NUMBERS[name]
        drift[name] = {
            "wasserstein_normed": normed_wasserstein(values, cur_numbers[name]),
            "reference_mean": float(np.mean(values)) if len(values) else None,
            "current_mean": float(np.mean(cur_numbers[name])) if len(cur_numbers[name]) else None,
            "bins": bins.tolist(),
            "reference_hist": _density(values, bins),
            "current_hist": _density(cur_numbers[name], bins),
        }
    ref_counts, cur_counts = _categories(reference), _categories(current)
    for name, counts in ref_counts.items():
        drift[name] = {
            "psi": psi(counts, cur_counts[name]),
            "jensen_shannon": jensen_shannon(counts, cur_counts[name]),
            "reference_counts": {str(k): v for k, v in counts.items()},
            "current_counts": {str(k): v for k, v in cur_counts[name].items()},
        }
    return drift


def _density(values, bins) -> list[float]:
    counts, _ = np.histogram(values, bins=bins)
    return (counts / max(len(values), 1)).tolist()


def crossed(result: dict, limits: Thresholds) -> list[str]:
    """The thresholds this month crosses, each as 'what: value > limit'."""
    out = []
    ratio = result["current"]["rmse"] / result["reference"]["val_rmse"]
    if ratio > limits.rmse_ratio:
        out.append(f"rmse_ratio: {ratio:.3f} > {limits.rmse_ratio:g}")
    drift = result["drift"]
    for name, limit, key, field in (
        ("prediction", limits.prediction_drift, "prediction_drift", "wasserstein_normed"),
        ("duration", limits.input_drift, "input_drift", "wasserstein_normed"),
        ("trip_distance", limits.input_drift, "input_drift", "wasserstein_normed"),
        ("PULocationID", limits.category_psi, "category_psi", "psi"),
        ("DOLocationID", limits.category_psi, "category_psi", "psi"),
        ("hour_of_week", limits.category_psi, "category_psi", "psi"),
    ):
        value = drift.get(name, {}).get(field)
        if value is not None and value > limit:
            out.append(f"{key} ({name}): {value:.3f} > {limit:g}")
    ref_missing, cur_missing = result["missing"]["reference"], result["missing"]["current"]
    for name, share in cur_missing.items():
        if share - ref_missing.get(name, 0.0) > limits.missing_increase:
            out.append(
                f"missing_increase ({name}): {share - ref_missing.get(name, 0.0):.3f} > "
                f"{limits.missing_increase:g}"
            )
    return out


def check_model_taxi(metadata: dict, taxi: str, label) -> None:
    """Refuse to watch a model on another taxi type's rides."""
    if metadata["taxi"] != taxi:
        raise RideDurationError(
            f"{label} is a {metadata['taxi']} taxi model; it cannot be monitored on {taxi} rides"
        )


def monitor(model_path, month: str, data_dir, taxi: str | None = None, limits=None) -> dict:
    """Score ``month`` with the saved model and compare it with the model's training months."""
    limits = limits or Thresholds()
    model, metadata = load(model_path)
    taxi = taxi or metadata["taxi"]
    check_model_taxi(metadata, taxi, model_path)
    reference_months = parse_months(metadata["train_month"])
    reference = _sample(model, taxi, reference_months, data_dir)
    current = _sample(model, taxi, [month], data_dir)
    result = {
        "taxi": taxi,
        "month": month,
        "model": {
            "name": metadata["name"],
            "features": metadata["features"]["set"],
            "train_month": metadata["train_month"],
            "bin_sha256": metadata["bin_sha256"],
        },
        "reference": _errors(reference.actual, reference.predicted)
        | {"months": reference_months, "val_rmse": metadata["metrics"]["val_rmse"]},
        "current": _errors(current.actual, current.predicted) | {"rows": current.report.as_dict()},
        "per_day": per_day(current, month),
        "drift": _drift(reference, current),
        "missing": {"reference": _missing(reference), "current": _missing(current)},
        "thresholds": asdict(limits),
    }
    result["crossed"] = crossed(result, limits)
    result["status"] = "alert" if result["crossed"] else "ok"
    return result


def headline(result: dict) -> dict:
    """The monitoring numbers worth a metric each (for MLflow and the backfill figure)."""
    drift = result["drift"]
    numbers = {
        "rmse": result["current"]["rmse"],
        "mae": result["current"]["mae"],
        "rmse_ratio": result["current"]["rmse"] / result["reference"]["val_rmse"],
        "rides": result["current"]["rides"],
    }
    for name, entry in drift.items():
        key = "wasserstein_normed" if "wasserstein_normed" in entry else "psi"
        if entry.get(key) is not None and np.isfinite(entry[key]):
            numbers[f"drift.{name}"] = entry[key]
    return numbers


def needed_months(model_metadata: dict, month: str) -> list[str]:
    """The months ``monitor`` reads: the model's training months and the month watched."""
    return [*parse_months(model_metadata["train_month"]), month]
