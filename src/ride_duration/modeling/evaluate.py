"""One way to score a model on rides: ``Evaluation``, what its predictions add up to.

Training's validation, ``predict --month``, ``compare``, ``monitor`` and ``retrain`` all score
through here, in memory (``evaluate_frame``) or a batch at a time (``evaluate_month``, also a
Dask task). An evaluation holds sums, not rows: the squared and absolute errors, the rides
inside their interval and the widths, the same per pickup day, and the data rules' report;
evaluations of batches, months or workers add up with ``+``, so a streamed month gives the
numbers of the month read whole.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from ..data.months import month_bounds
from ..data.prepare import PrepareReport
from .intervals import LEVEL, coverage_sums
from .model import Model
from .rides import month_rides


@dataclass(frozen=True)
class Day:
    """The errors of the rides picked up on one day."""

    rides: int = 0
    sse: float = 0.0
    sae: float = 0.0

    def __add__(self, other: Day) -> Day:
        return Day(self.rides + other.rides, self.sse + other.sse, self.sae + other.sae)

    @property
    def rmse(self) -> float | None:
        return float(np.sqrt(self.sse / self.rides)) if self.rides else None

    @property
    def mae(self) -> float | None:
        return self.sae / self.rides if self.rides else None


def _add(a, b):
    return None if a is None or b is None else a + b


@dataclass(frozen=True)
class Evaluation:
    """A model's predictions on some rides, as sums that add up over batches.

    ``baseline_sse`` is the squared error of predicting the training mean (when it was
    given); ``covered`` and ``width_sum`` are None for a model without intervals; ``days``
    maps each pickup date (YYYY-MM-DD) to its errors, when pickup times were read."""

    rides: int = 0
    sse: float = 0.0
    sae: float = 0.0
    predicted_sum: float = 0.0
    baseline_sse: float | None = None
    covered: int | None = None
    width_sum: float | None = None
    level: float = LEVEL
    days: dict[str, Day] = field(default_factory=dict)
    report: PrepareReport = field(default_factory=PrepareReport.empty)

    def __add__(self, other: Evaluation) -> Evaluation:
        days = dict(self.days)
        for date, day in other.days.items():
            days[date] = days[date] + day if date in days else day
        return Evaluation(
            self.rides + other.rides,
            self.sse + other.sse,
            self.sae + other.sae,
            self.predicted_sum + other.predicted_sum,
            _add(self.baseline_sse, other.baseline_sse),
            _add(self.covered, other.covered),
            _add(self.width_sum, other.width_sum),
            self.level,
            days,
            self.report + other.report,
        )

    def _mean(self, total: float | None) -> float | None:
        return None if total is None or not self.rides else total / self.rides

    @property
    def rmse(self) -> float:
        return float(np.sqrt(self.sse / self.rides)) if self.rides else float("nan")

    @property
    def mae(self) -> float:
        return self.sae / self.rides if self.rides else float("nan")

    @property
    def baseline_rmse(self) -> float | None:
        mean = self._mean(self.baseline_sse)
        return None if mean is None else float(np.sqrt(mean))

    @property
    def mean_predicted(self) -> float | None:
        return self._mean(self.predicted_sum)

    @property
    def coverage(self) -> float | None:
        """The share of rides inside their interval of ``level``."""
        return self._mean(self.covered)

    @property
    def mean_width(self) -> float | None:
        return self._mean(self.width_sum)

    def per_day(self, month: str) -> list[tuple[str, Day]]:
        """Every day of ``month`` with its errors (an empty ``Day`` where no ride was picked
        up); rides picked up outside the month are left out."""
        start, end = (bound.astype("datetime64[D]") for bound in month_bounds(month))
        return [(str(d), self.days.get(str(d), Day())) for d in np.arange(start, end)]


def daily_errors(pickup: np.ndarray, error: np.ndarray) -> dict[str, Day]:
    """Errors per pickup date, counted on day numbers (not strings) for millions of rides."""
    days = np.asarray(pickup, dtype="datetime64[D]")
    known = ~np.isnat(days)
    if not known.any():
        return {}
    numbers = days[known].astype(np.int64)
    first = numbers.min()
    index = numbers - first
    error = error[known]
    rides = np.bincount(index)
    sse = np.bincount(index, weights=error**2)
    sae = np.bincount(index, weights=np.abs(error))
    return {
        str(np.datetime64(int(first + i), "D")): Day(int(n), float(sse[i]), float(sae[i]))
        for i, n in enumerate(rides)
        if n
    }


def evaluate_frame(
    model: Model,
    frame: pd.DataFrame,
    *,
    predicted: np.ndarray | None = None,
    train_mean: float | None = None,
    level: float = LEVEL,
    report: PrepareReport | None = None,
    daily: bool = False,
) -> Evaluation:
    """The evaluation of ``model`` on prepared rides (with their ``duration``); give the
    ``predicted`` minutes when they are at hand already. ``daily`` counts the errors per day
    (the frame has the pickup times)."""
    actual = frame["duration"].to_numpy()
    if predicted is None:
        predicted = model.predict_frame(frame)
    predicted = np.asarray(predicted, dtype=float)
    error = actual - predicted
    covered = width = None
    if model.intervals is not None:
        bounds = model.predict_intervals(predicted, level, frame)
        covered, width = coverage_sums(actual, *bounds)
    days = daily_errors(frame["pickup_datetime"].to_numpy(), error) if daily else {}
    return Evaluation(
        rides=len(actual),
        sse=float(np.sum(error**2)),
        sae=float(np.sum(np.abs(error))),
        predicted_sum=float(np.sum(predicted)),
        baseline_sse=None if train_mean is None else float(np.sum((actual - train_mean) ** 2)),
        covered=covered,
        width_sum=width,
        level=level,
        days=days,
        report=report if report is not None else PrepareReport.empty(),
    )


def evaluate_month(
    model: Model,
    taxi: str,
    month: str,
    data_dir: Path,
    *,
    rows: int | None = None,
    train_mean: float | None = None,
    level: float = LEVEL,
    daily: bool = False,
) -> Evaluation:
    """The evaluation of ``model`` on one month, read whole (``rows`` None) or a batch at a
    time; ``daily`` reads the pickup times for the errors per day. (A Dask task.)"""
    total = None
    for frame, report in month_rides(taxi, month, str(data_dir), model.features, rows=rows):
        part = evaluate_frame(
            model, frame, train_mean=train_mean, level=level, report=report, daily=daily
        )
        total = part if total is None else total + part
    return total


def evaluate(
    model: Model,
    taxi: str,
    months: list[str],
    data_dir: Path,
    *,
    rows: int | None = None,
    train_mean: float | None = None,
    client=None,
    quiet: bool = True,
) -> Evaluation:
    """The evaluation of ``model`` on several months together, each a task of the engine
    (here, or on the Dask cluster of ``client``)."""
    from functools import reduce

    from .engine import run_tasks

    tasks = [(model, taxi, month, str(data_dir), rows, train_mean) for month in months]
    parts = run_tasks(_month_task, tasks, client, "validate", quiet)
    return reduce(lambda a, b: a + b, parts)


def _month_task(model, taxi, month, data_dir, rows, train_mean) -> Evaluation:
    return evaluate_month(model, taxi, month, data_dir, rows=rows, train_mean=train_mean)
