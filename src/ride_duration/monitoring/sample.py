"""The two sides a monitor compares: a ``Sample`` of rides (the model's training months, the
reference; a new month or the live traffic, the current), and what is drawn and measured of
each pair (``Comparison``): distributions of numbers, shares of categories, missing values."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np
import pandas as pd

from ..config import PLAUSIBLE_MILES
from ..data.prepare import PrepareReport
from ..data.zones import zone_ids
from ..modeling.evaluate import Evaluation
from .drift import counts_of, jensen_shannon, normed_wasserstein, psi

ZONES = ("PULocationID", "DOLocationID")
BINS = {  # what is drawn of each number, and the histogram's bins
    "prediction": np.linspace(0, 60, 61),
    "duration": np.linspace(0, 60, 61),
    "trip_distance": np.linspace(0, 30, 61),
}


@dataclass
class Sample:
    """Rides on one side of the comparison, as arrays: zone IDs (-1 missing), distances and
    pickup times (missing: NaN, NaT), the predicted minutes and, where the outcome is known,
    the actual ones with the rides' evaluation and the data rules' report."""

    zones: dict[str, np.ndarray]
    distance: np.ndarray | None
    pickup: np.ndarray | None  # None: not known (live rides sent without one)
    predicted: np.ndarray
    actual: np.ndarray | None = None
    evaluation: Evaluation | None = None
    report: PrepareReport | None = None

    @classmethod
    def of_frame(cls, frame: pd.DataFrame, predicted, evaluation=None, report=None) -> Sample:
        """A sample of prepared rides (``dataset.prepare``'s columns)."""
        return cls(
            zones={zone: zone_ids(frame[zone]) for zone in ZONES},
            distance=frame["trip_distance"].to_numpy("float64", na_value=np.nan)
            if "trip_distance" in frame
            else None,
            pickup=frame["pickup_datetime"].to_numpy("datetime64[us]"),
            predicted=np.asarray(predicted, dtype=float),
            actual=frame["duration"].to_numpy() if "duration" in frame else None,
            evaluation=evaluation,
            report=report,
        )

    @property
    def rides(self) -> int:
        return len(self.predicted)

    def numbers(self) -> dict[str, np.ndarray]:
        """The numbers whose distributions are compared; implausible distances (over 100
        miles) would dominate any spread, so they count among the missing values instead."""
        values = {"prediction": self.predicted}
        if self.actual is not None:
            values["duration"] = self.actual
        if self.distance is not None:
            distance = self.distance
            values["trip_distance"] = distance[(distance >= 0) & (distance <= PLAUSIBLE_MILES)]
        return values

    def categories(self) -> dict[str, dict]:
        """{category: rides} of the pickup and dropoff zones and the hour of the week."""
        out = {zone: _id_counts(ids) for zone, ids in self.zones.items()}
        if self.pickup is not None:
            hours = counts_of(hour_of_week(self.pickup))
            out["hour_of_week"] = {str(k): v for k, v in hours.items()}
        return out

    def missing(self) -> dict[str, float]:
        """Shares of rides with a field missing: zones, implausible distances, timestamps
        (rides dropped for a missing time, of those read)."""
        shares = {
            zone: float(np.mean(ids == -1)) if len(ids) else 0.0 for zone, ids in self.zones.items()
        }
        if self.distance is not None:
            distance = self.distance
            bad = ~(np.isfinite(distance) & (distance >= 0) & (distance <= PLAUSIBLE_MILES))
            shares["trip_distance"] = float(np.mean(bad)) if len(bad) else 0.0
        if self.report is not None:
            shares["timestamps"] = self.report.dropped_missing_time / max(self.report.rows_read, 1)
        elif self.pickup is not None:
            shares["timestamps"] = float(np.mean(np.isnat(self.pickup))) if self.rides else 0.0
        return shares


def _id_counts(ids: np.ndarray) -> dict[str, int]:
    """{zone label: rides}, counted on the integer IDs (a month has a few hundred zones)."""
    if not len(ids):
        return {}
    if ids.min() >= -1 and ids.max() < 1 << 21:
        counts = np.bincount(ids + 1)
        present = np.flatnonzero(counts)
        return {str(int(i) - 1): int(counts[i]) for i in present}
    return {str(k): v for k, v in counts_of(ids).items()}


def hour_of_week(pickup) -> np.ndarray:
    """0 (Monday 00h) to 167 (Sunday 23h); -1 where the time is missing."""
    minutes = np.asarray(pickup, dtype="datetime64[m]")
    missing = np.isnat(minutes)
    hours = minutes.astype("datetime64[h]").astype(np.int64)
    # 1970-01-01 was a Thursday: hour 0 of the epoch is hour 72 of its week.
    out = (hours + 72) % 168
    out[missing] = -1
    return out


def _density(values, bins) -> list[float]:
    counts, _ = np.histogram(values, bins=bins)
    return (counts / max(len(values), 1)).tolist()


@dataclass(frozen=True)
class NumberDrift:
    """How a number's distribution moved: the normed Wasserstein distance, both means, and
    both histograms over ``bins`` (what the report draws)."""

    wasserstein_normed: float
    reference_mean: float | None
    current_mean: float | None
    bins: list[float]
    reference_hist: list[float]
    current_hist: list[float]


@dataclass(frozen=True)
class CategoryDrift:
    """How a category's shares moved: PSI, the Jensen-Shannon distance, both counts."""

    psi: float
    jensen_shannon: float
    reference_counts: dict[str, int]
    current_counts: dict[str, int]


def _mean(values) -> float | None:
    return float(np.mean(values)) if len(values) else None


@dataclass(frozen=True)
class Comparison:
    """A reference and a current sample, and what is measured of the pair; each summary is
    computed once, when first read. ``val_rmse`` is the model's validation RMSE."""

    reference: Sample
    current: Sample
    val_rmse: float | None = None

    @property
    def live(self) -> bool:
        """True when the current rides have no known outcome (the service's traffic)."""
        return self.current.actual is None

    @cached_property
    def numbers(self) -> dict[str, NumberDrift]:
        current = self.current.numbers()
        out = {}
        for name, values in self.reference.numbers().items():
            if name not in current:
                continue
            bins = BINS[name]
            out[name] = NumberDrift(
                normed_wasserstein(values, current[name]),
                _mean(values),
                _mean(current[name]),
                bins.tolist(),
                _density(values, bins),
                _density(current[name], bins),
            )
        return out

    @cached_property
    def categories(self) -> dict[str, CategoryDrift]:
        current = self.current.categories()
        return {
            name: CategoryDrift(
                psi(counts, current[name]),
                jensen_shannon(counts, current[name]),
                counts,
                current[name],
            )
            for name, counts in self.reference.categories().items()
            if name in current
        }

    @cached_property
    def missing(self) -> dict[str, dict[str, float]]:
        return {"reference": self.reference.missing(), "current": self.current.missing()}
