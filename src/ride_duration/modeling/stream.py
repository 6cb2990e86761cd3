"""Fit on many months in bounded memory, here or on a Dask cluster.

Each batch of rides (a row group of a month file) is prepared with the same rules as a whole
month, and contributes a ``Part``: the names of the columns it has (as DictVectorizer would
name them), the sufficient statistics over those columns, and the data rules' report. Parts add
up onto the union of their columns, sorted as DictVectorizer sorts them, so N months give the
statistics of their concatenation and the exact solver finds its optimum. What a run holds in
memory is one batch and statistics whose size depends on the categories, not the rides.
Validation is streamed too: each batch adds its squared errors.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import scipy.sparse as sp

from ..data.dataset import PrepareReport, plausible_distance, prepare, read_month_batches
from ..features import (
    build_design,
    complete_rows,
    feature_set,
    needed_timestamps,
    required_columns,
)
from .intervals import FOLDS, Intervals, calibration_folds, calibration_step, coverage_sums
from .model import Model
from .statistics import Statistics, statistics

BATCH_ROWS = 1 << 20


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


def prepared_batches(taxi: str, month: str, data_dir: Path, features: str, rows: int):
    """(rides, report) per batch of a month, prepared as a whole month would be, with the
    rides the feature set cannot use dropped and counted."""
    for raw in read_month_batches(taxi, month, data_dir, rows):
        frame, report = prepare(raw, month, timestamps=needed_timestamps(features))
        del raw
        frame, dropped = complete_rows(frame, required_columns(features, frame))
        report.dropped_missing_feature += dropped
        report.rows_kept -= dropped
        yield frame, report


def month_part(
    taxi: str, month: str, data_dir: Path, features: str, median: float | None, rows: int
) -> Part:
    """The statistics of one month's training rides, a batch at a time. (A Dask task.)"""
    groups = len(feature_set(features).categorical)
    total = _empty_part(groups, PrepareReport.empty())
    for frame, report in prepared_batches(taxi, month, data_dir, features, rows):
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
    for frame, _ in prepared_batches(taxi, month, data_dir, features, rows):
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


@dataclass
class MonthErrors:
    """What a model's predictions on validation rides add up to."""

    sse: float = 0.0
    rides: int = 0
    baseline_sse: float = 0.0  # of predicting the training mean
    covered: int = 0  # rides inside their default-level interval
    width_sum: float = 0.0
    report: PrepareReport = field(default_factory=PrepareReport.empty)

    def __add__(self, other: MonthErrors) -> MonthErrors:
        return MonthErrors(
            self.sse + other.sse,
            self.rides + other.rides,
            self.baseline_sse + other.baseline_sse,
            self.covered + other.covered,
            self.width_sum + other.width_sum,
            self.report + other.report,
        )


def month_errors(taxi: str, month: str, data_dir: Path, model: Model, train_mean: float, rows: int):
    """A fitted model's errors on one validation month, a batch at a time. (A Dask task.)"""
    total = MonthErrors()
    for frame, report in prepared_batches(taxi, month, data_dir, model.features, rows):
        batch = MonthErrors(report=report)
        if not frame.empty:
            y = frame["duration"].to_numpy()
            predicted = model.predict_frame(frame)
            covered, width = coverage_sums(y, *model.predict_intervals(predicted))
            batch = MonthErrors(
                float(np.sum((predicted - y) ** 2)),
                len(y),
                float(np.sum((y - train_mean) ** 2)),
                covered,
                width,
                report,
            )
        total = total + batch
    return total


def _calibration_batches(taxi, month, data_dir: Path, model: Model, rows: int, step: int):
    """(design, durations, folds) of the calibration rides of each batch of a month."""
    offset = 0
    for frame, _ in prepared_batches(taxi, month, data_dir, model.features, rows):
        folds = calibration_folds(len(frame), offset, step)
        offset += len(frame)
        used = folds >= 0
        if used.any():
            y = frame["duration"].to_numpy()[used]
            yield model.design(frame.loc[used].reset_index(drop=True)), y, folds[used]


def month_fold_statistics(taxi, month, data_dir: Path, model: Model, rows: int, step: int):
    """The statistics of each calibration fold of a month (None for an empty fold), over the
    model's columns. (A Dask task.)"""
    totals = [None] * FOLDS
    for design, y, folds in _calibration_batches(taxi, month, data_dir, model, rows, step):
        for fold in range(FOLDS):
            mask = folds == fold
            stats = statistics(design.rows(mask), y[mask])
            totals[fold] = stats if totals[fold] is None else totals[fold] + stats
    return totals


def month_residuals(taxi, month, data_dir: Path, model: Model, fold_fits, rows: int, step: int):
    """(predicted, residuals) of each calibration ride by the model fitted without its fold
    (``fold_fits``: (coef, intercept) per fold). (A Dask task.)"""
    predicted, actual = [], []
    for design, y, folds in _calibration_batches(taxi, month, data_dir, model, rows, step):
        out = np.empty(len(y))
        for fold, (coef, intercept) in enumerate(fold_fits):
            mask = folds == fold
            out[mask] = design.rows(mask).dot(coef) + intercept
        predicted.append(out)
        actual.append(y)
    predicted = np.concatenate(predicted) if predicted else np.zeros(0)
    return predicted, (np.concatenate(actual) if actual else np.zeros(0)) - predicted


# A cluster without workers runs nothing: after this long with none, the run stops.
NO_WORKERS_SECONDS = 10.0
NO_WORKERS_ENV = "RIDE_DURATION_DASK_NO_WORKERS_SECONDS"
CONNECT_SECONDS = 10


def run_tasks(function, tasks: list[tuple], client=None, label: str = "", quiet: bool = True):
    """``function(*task)`` for every task, in order: here, or on a Dask cluster's workers."""
    import sys

    from tqdm import tqdm

    hidden = quiet or not sys.stderr.isatty()
    bar = tqdm(total=len(tasks), desc=label, unit="month", disable=hidden, leave=False)
    try:
        if client is None:
            results = []
            for task in tasks:
                results.append(function(*task))
                bar.update()
            return results
        from concurrent.futures import CancelledError

        from ..errors import RideDurationError

        futures = client.map(function, *zip(*tasks), pure=False)
        try:
            _wait_watching_workers(client, futures, bar)
            return client.gather(futures)
        except (CancelledError, OSError) as exc:  # the scheduler went away
            reason = str(exc).splitlines()[-1] if str(exc) else type(exc).__name__
            raise RideDurationError(f"lost the Dask scheduler ({reason})") from None
    finally:
        bar.close()


def _wait_watching_workers(client, futures, bar) -> None:
    """Wait for the futures, and stop with a clear error when the cluster has had no worker
    for ``NO_WORKERS_SECONDS`` or the scheduler is gone, instead of waiting forever."""
    import os
    import time

    from dask.distributed import wait

    from ..errors import RideDurationError

    patience = float(os.environ.get(NO_WORKERS_ENV, NO_WORKERS_SECONDS))
    remaining, alone_since = set(futures), None
    while remaining:
        try:
            done = wait(list(remaining), timeout=1, return_when="FIRST_COMPLETED").done
        except TimeoutError:
            done = set()
        except OSError as exc:  # distributed's CommClosedError is an OSError
            raise RideDurationError(f"lost the Dask scheduler ({exc})") from None
        bar.update(len(done))
        remaining -= done
        if any(future.status == "error" for future in done):
            return  # gather raises the task's own error
        if done or not remaining:
            alone_since = None
            continue
        if _worker_count(client) > 0:
            alone_since = None
        elif alone_since is None:
            alone_since = time.monotonic()
        elif time.monotonic() - alone_since > patience:
            raise RideDurationError(
                f"the Dask cluster at {client.scheduler.address} has had no workers for "
                f"{patience:g} s; start `dask worker {client.scheduler.address}`"
            )


def _worker_count(client) -> int:
    from ..errors import RideDurationError

    try:
        return len(client.scheduler_info(n_workers=-1)["workers"])
    except OSError as exc:
        raise RideDurationError(f"lost the Dask scheduler ({exc})") from None


def check_scheduler(address: str) -> str:
    """A scheduler address must be tcp://host:port or tls://host:port."""
    import urllib.parse

    from ..errors import RideDurationError

    try:
        parts = urllib.parse.urlsplit(address)
        port = parts.port
    except ValueError:
        port = None
        parts = None
    if not parts or parts.scheme not in ("tcp", "tls") or not parts.hostname or not port:
        raise RideDurationError(
            f"--scheduler {address!r}: write a Dask scheduler's address as tcp://host:8786"
        )
    return address


def dask_client(scheduler: str | None):
    """A client of the scheduler at ``scheduler``, or of a new LocalCluster sized to this
    machine (one single-threaded worker process per core); closes what it opened."""
    import contextlib
    import os

    from ..errors import RideDurationError

    try:
        from dask.distributed import Client, LocalCluster
    except ImportError:
        raise RideDurationError(
            "--engine dask needs dask and distributed: pip install -e '.[dask]'"
        ) from None

    @contextlib.contextmanager
    def connected():
        import logging

        # distributed logs every reconnection attempt with a traceback; what went wrong
        # reaches the user as one line instead.
        for name in [n for n in logging.root.manager.loggerDict if n.startswith("distributed")]:
            logging.getLogger(name).setLevel(logging.CRITICAL)
        if scheduler:
            try:
                client = Client(check_scheduler(scheduler), timeout=CONNECT_SECONDS)
            except RideDurationError:
                raise
            except Exception as exc:  # distributed raises OSError, TimeoutError, ValueError
                raise RideDurationError(
                    f"cannot reach the Dask scheduler at {scheduler} ({exc})"
                ) from None
            with client:
                yield client
        else:
            cores = os.cpu_count() or 1
            with (
                LocalCluster(
                    n_workers=cores, threads_per_worker=1, processes=True, dashboard_address=None
                ) as cluster,
                Client(cluster) as client,
            ):
                yield client

    return connected()


@dataclass
class StreamedFit:
    """A model fitted on streamed months: its training part, and its validation errors."""

    model: Model
    part: Part
    errors: MonthErrors


def fit_months(options, months: list[str], val_months: list[str], solve, client=None):
    """Stream the training months into statistics, solve once (``solve(options, stats)``),
    learn the intervals on the last training month, stream the validation months."""
    from functools import reduce

    rows = options.batch_rows or BATCH_ROWS
    taxi, data_dir = options.taxi, str(options.data_dir)
    median = None
    if feature_set(options.features).learns_distance_median:
        tasks = [(taxi, m, data_dir, options.features, rows) for m in months]
        counts = run_tasks(month_distances, tasks, client, "distances", options.quiet)
        median = median_of_counts(*reduce(add_counts, counts))
    tasks = [(taxi, m, data_dir, options.features, median, rows) for m in months]
    parts = run_tasks(month_part, tasks, client, "train", options.quiet)
    part = reduce(lambda a, b: a + b, parts)
    coef, intercept = solve(options, part.stats)
    model = Model(
        options.features, part.names, coef, intercept, options.model, options.alpha, median
    )
    if part.stats.n:
        step = calibration_step(parts[-1].stats.n)
        model = _calibrated(options, model, part, months[-1], solve, client, (rows, step))
    train_mean = part.stats.sum_y / part.stats.n if part.stats.n else 0.0
    tasks = [(taxi, m, data_dir, model, train_mean, rows) for m in val_months]
    errors = run_tasks(month_errors, tasks, client, "validate", options.quiet)
    return StreamedFit(model, part, reduce(lambda a, b: a + b, errors))


def _calibrated(options, model: Model, part: Part, month: str, solve, client, sizes):
    """The model with intervals learned from out-of-fold residuals on ``month`` (``sizes``:
    rides per batch, every how many rides one calibrates)."""
    task = (options.taxi, month, str(options.data_dir), model, *sizes)
    fold_stats = run_tasks(month_fold_statistics, [task], client, "calibrate", options.quiet)[0]
    fold_fits = [
        solve(options, part.stats - stats) if stats is not None else (model.coef, model.intercept)
        for stats in fold_stats
    ]
    task = (*task[:4], fold_fits, *sizes)
    predicted, residuals = run_tasks(month_residuals, [task], client, "calibrate", options.quiet)[0]
    return replace(model, intervals=Intervals.from_residuals(predicted, residuals))
