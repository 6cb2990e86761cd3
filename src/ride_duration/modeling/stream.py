"""Fit on many months in bounded memory, here or on a Dask cluster (see ``engine``).

Each batch of rides (a row group of a month file) is prepared with the same rules as a whole
month, and contributes a ``Part``: the names of the columns it has (as DictVectorizer would
name them), the sufficient statistics over those columns, and the data rules' report. Parts add
up onto the union of their columns, sorted as DictVectorizer sorts them, so N months give the
statistics of their concatenation and the exact solver finds its optimum. What a run holds in
memory is one batch and statistics whose size depends on the categories, not the rides.
Validation is streamed too (``evaluate``).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import reduce
from pathlib import Path

import numpy as np
import scipy.sparse as sp

from ..data.months import month_path
from ..data.prepare import PrepareReport, plausible_distance
from ..errors import DataError
from ..features import build_design, feature_set
from ..features.columns import RideColumns, frame_columns
from .engine import run_tasks
from .evaluate import Evaluation, evaluate
from .fit import solve_statistics
from .intervals import (
    FOLDS,
    Intervals,
    calibration_folds,
    calibration_step,
    too_few_to_calibrate,
)
from .model import Model
from .options import BATCH_ROWS
from .rides import month_rides
from .statistics import Statistics, statistics


@dataclass
class Part:
    """What some training rides contribute: column names, statistics, the rules' report."""

    names: list[str]
    stats: Statistics
    report: PrepareReport

    def __add__(self, other: Part) -> Part:
        names = sorted(set(self.names) | set(other.names))
        index = {name: i for i, name in enumerate(names)}
        stats = _onto(self, index) + _onto(other, index)
        return Part(names, stats, self.report + other.report)


def _onto(part: Part, index: dict) -> Statistics:
    """The part's statistics over the columns of ``index`` (a superset of its own)."""
    p, stats = len(index), part.stats
    where = np.array([index[name] for name in part.names], dtype=np.int64)
    gram = stats.gram.tocoo()
    moved = sp.csr_matrix((gram.data, (where[gram.row], where[gram.col])), shape=(p, p))
    sums, xty = np.zeros(p), np.zeros(p)
    sums[where], xty[where] = stats.sums, stats.xty
    groups = [where[group] for group in stats.groups]
    return Statistics(stats.n, stats.sum_y, stats.sum_yy, sums, xty, moved, groups)


def _empty_part(groups: int, report: PrepareReport) -> Part:
    empty = [np.zeros(0, np.int64) for _ in range(groups)]
    stats = Statistics(0, 0.0, 0.0, np.zeros(0), np.zeros(0), sp.csr_matrix((0, 0)), empty)
    return Part([], stats, report)


def month_part(
    taxi: str, month: str, data_dir: Path, features: str, median: float | None, rows: int
) -> Part:
    """The statistics of one month's training rides, a batch at a time. (A Dask task.)"""
    groups = len(feature_set(features).categorical)
    total = _empty_part(groups, PrepareReport.empty())
    for frame, report in month_rides(taxi, month, data_dir, features, rows=rows):
        total = total + _batch_part(frame, report, features, median, groups)
    return total


def _batch_part(frame, report, features: str, median, groups: int) -> Part:
    if frame.empty:
        return _empty_part(groups, report)
    design, names = build_design(features, frame, distance_median=median)
    return Part(names, statistics(design, frame["duration"].to_numpy()), report)


def month_distances(taxi: str, month: str, data_dir: Path, features: str, rows: int):
    """(values, counts) of the valid distances among a month's kept rides: what a feature
    set's training median is computed from, exactly, without holding the rides.
    (A Dask task.)"""
    values, counts = np.zeros(0), np.zeros(0)
    for frame, _ in month_rides(taxi, month, data_dir, features, rows=rows):
        distance = frame["trip_distance"].to_numpy("float64", na_value=np.nan)
        valid = distance[plausible_distance(distance)]
        values, counts = add_counts((values, counts), np.unique(valid, return_counts=True))
    return values, counts


def add_counts(a, b):
    values, inverse = np.unique(np.concatenate([a[0], b[0]]), return_inverse=True)
    return values, np.bincount(inverse, weights=np.concatenate([a[1], b[1]]))


def median_of_counts(values: np.ndarray, counts: np.ndarray) -> float:
    """The median of the values repeated ``counts`` times, as ``np.median`` computes it."""
    n = int(counts.sum())
    if n == 0:
        return 0.0
    cumulative = np.cumsum(counts)
    low, high = (
        values[np.searchsorted(cumulative, k, side="right")] for k in ((n - 1) // 2, n // 2)
    )
    return float((low + high) / 2)


def _calibration_batches(taxi, month, data_dir: Path, model: Model, rows: int, step: int):
    """(rides, design, durations, folds) of the calibration rides of each batch of a month."""
    offset = 0
    for frame, _ in month_rides(taxi, month, data_dir, model.features, rows=rows):
        folds = calibration_folds(len(frame), offset, step)
        offset += len(frame)
        used = folds >= 0
        if used.any():
            y = frame["duration"].to_numpy()[used]
            kept = frame.loc[used].reset_index(drop=True)
            yield kept, model.design(kept), y, folds[used]


def month_fold_statistics(taxi, month, data_dir: Path, model: Model, rows: int, step: int):
    """The statistics of each calibration fold of a month (None for an empty fold), over the
    model's columns. (A Dask task.)"""
    totals = [None] * FOLDS
    for _, design, y, folds in _calibration_batches(taxi, month, data_dir, model, rows, step):
        for fold in range(FOLDS):
            mask = folds == fold
            stats = statistics(design.rows(mask), y[mask])
            totals[fold] = stats if totals[fold] is None else totals[fold] + stats
    return totals


@dataclass
class Residuals:
    """The calibration rides' out-of-fold predictions and residuals, what the scales read of
    the rides, and each ride's fold: what ``Intervals.from_residuals`` takes."""

    predicted: np.ndarray
    residuals: np.ndarray
    rides: RideColumns
    folds: np.ndarray


def month_residuals(taxi, month, data_dir: Path, model: Model, fold_fits, rows: int, step: int):
    """The ``Residuals`` of each calibration ride by the model fitted without its fold
    (``fold_fits``: (coef, intercept) per fold). (A Dask task.)"""
    predicted, actual, rides, all_folds = [], [], [], []
    for frame, design, y, folds in _calibration_batches(taxi, month, data_dir, model, rows, step):
        out = np.empty(len(y))
        for fold, (coef, intercept) in enumerate(fold_fits):
            mask = folds == fold
            out[mask] = design.rows(mask).dot(coef) + intercept
        predicted.append(out)
        actual.append(y)
        rides.append(frame_columns(frame))
        all_folds.append(folds)
    predicted = np.concatenate(predicted)
    return Residuals(
        predicted,
        np.concatenate(actual) - predicted,
        RideColumns.concatenate(rides),
        np.concatenate(all_folds),
    )


@dataclass
class StreamedFit:
    """A model fitted on streamed months: its training part, and its validation errors."""

    model: Model
    part: Part
    validation: Evaluation


def fit_months(options, months: list[str], val_months: list[str], client=None) -> StreamedFit:
    """Stream the training months into statistics, solve once,
    learn the intervals on the last training month, stream the validation months."""
    rows = options.batch_rows or BATCH_ROWS
    taxi, data_dir = options.taxi, str(options.data_dir)
    median = None
    if feature_set(options.features).learns_distance_median:
        tasks = [(taxi, m, data_dir, options.features, rows) for m in months]
        counts = run_tasks(month_distances, tasks, client, "distances", options.quiet)
        median = median_of_counts(*reduce(add_counts, counts))
    tasks = [(taxi, m, data_dir, options.features, median, rows) for m in months]
    parts = run_tasks(month_part, tasks, client, "train", options.quiet)
    if problem := too_few_to_calibrate(parts[-1].stats.n):  # the last month calibrates
        raise DataError(f"{month_path(taxi, months[-1], data_dir)}: {problem}")
    part = reduce(lambda a, b: a + b, parts)
    coef, intercept = solve_statistics(options, part.stats)
    model = Model(
        options.features, part.names, coef, intercept, options.model, options.alpha, median
    )
    if part.stats.n:
        step = calibration_step(parts[-1].stats.n)
        model = _calibrated(options, model, part, months[-1], client, (rows, step))
    train_mean = part.stats.sum_y / part.stats.n if part.stats.n else 0.0
    validation = evaluate(
        model,
        taxi,
        val_months,
        data_dir,
        rows=rows,
        train_mean=train_mean,
        client=client,
        quiet=options.quiet,
    )
    return StreamedFit(model, part, validation)


def _calibrated(options, model: Model, part: Part, month: str, client, sizes):
    """The model with intervals learned from out-of-fold residuals on ``month`` (``sizes``:
    rides per batch, every how many rides one calibrates)."""
    task = (options.taxi, month, str(options.data_dir), model, *sizes)
    fold_stats = run_tasks(month_fold_statistics, [task], client, "calibrate", options.quiet)[0]
    fold_fits = [
        solve_statistics(options, part.stats - stats)
        if stats is not None
        else (model.coef, model.intercept)
        for stats in fold_stats
    ]
    task = (*task[:4], fold_fits, *sizes)
    found = run_tasks(month_residuals, [task], client, "calibrate", options.quiet)[0]
    intervals = Intervals.from_residuals(found.predicted, found.residuals, found.rides, found.folds)
    return replace(model, intervals=intervals)
