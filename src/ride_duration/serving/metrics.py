"""The service's Prometheus metrics, served at ``GET /metrics`` in Prometheus' text format.

A request only adds to counts held by its worker (a lock and a few integer additions); a
thread of the worker folds them into prometheus-client's metrics every ``FOLD_SECONDS``, and a
scrape folds its own worker's first. Updating prometheus-client's shared-memory values on each
request would cost more than scoring a ride. With several workers, every worker's values live
in prometheus-client's multiprocess files (``PROMETHEUS_MULTIPROC_DIR``, a new folder for each
start of the service), and a scrape answered by any worker sums them: counters and histograms
add up, and another worker's counts are at most ``FOLD_SECONDS`` old. A killed worker's
counts stay in the sums; the gauges of workers that are gone are dropped.

Names follow Prometheus' conventions (base units, ``_total`` counters, ``_info`` for the
model served); ``deploy/prometheus`` has the alert rules that read them.
"""

from __future__ import annotations

import bisect
import os
import threading
from collections import defaultdict
from pathlib import Path

import numpy as np

MULTIPROCESS_ENV = "PROMETHEUS_MULTIPROC_DIR"
FOLD_SECONDS = 1.0
PREFIX = "ride_duration_"
LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
MINUTES_BUCKETS = (1, 2, 5, 10, 15, 20, 25, 30, 40, 50, 60)
# Requests are counted by route; any other path is "other" (a scan of random paths must not
# make a series per path).
ROUTES = frozenset(
    ["/predict", "/health", "/model", "/metrics", "/docs", "/redoc", "/openapi.json"]
)
OTHER = "other"
TEXT_FORMAT = "text/plain; version=0.0.4; charset=utf-8"


def route_of(path: str) -> str:
    if path in ROUTES:
        return path
    return "/docs-assets" if path.startswith("/docs-assets/") else OTHER


class _Counts:
    """What a worker counted since the last fold."""

    def __init__(self):
        self.requests: dict[tuple[str, str, str], int] = defaultdict(int)
        self.latency: dict[str, list[int]] = {}
        self.latency_sum: dict[str, float] = defaultdict(float)
        self.minutes = np.zeros(len(MINUTES_BUCKETS) + 1, dtype=np.int64)
        self.minutes_sum = 0.0
        self.rides = 0


class ServiceMetrics:
    """One worker's metrics. ``source``: what it serves (its ``current`` is read at each fold,
    so a hot swap shows in ``ride_duration_model_info``); ``log``: its prediction log, if any."""

    def __init__(self, source, log=None):
        from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

        self.multiprocess = bool(os.environ.get(MULTIPROCESS_ENV))
        # In multiprocess mode the values live in files and a scrape reads them all; else this
        # worker's own registry holds them.
        self._registry = None if self.multiprocess else CollectorRegistry()
        self.source, self.log = source, log
        self._counts, self._lock = _Counts(), threading.Lock()
        self._served = None
        self._log_seen = (0, 0)  # (written, dropped) already folded
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        r = {"registry": self._registry}
        self.requests = Counter(
            PREFIX + "http_requests",
            "HTTP requests answered, by route, method and status",
            ["route", "method", "status"],
            **r,
        )
        self.latency = Histogram(
            PREFIX + "http_request_duration_seconds",
            "Time from a request's arrival to its answer, by route",
            ["route"],
            buckets=LATENCY_BUCKETS,
            **r,
        )
        self.rides = Counter(PREFIX + "rides_scored", "Rides scored (a batch counts each)", **r)
        self.minutes = Histogram(
            PREFIX + "predicted_duration_minutes",
            "The predicted ride durations",
            buckets=MINUTES_BUCKETS,
            **r,
        )
        self.model_info = Gauge(
            PREFIX + "model_info",
            "The model version served (1; 0 once swapped out), its taxi type and feature set",
            ["version", "taxi", "features"],
            multiprocess_mode="livemax",
            **r,
        )
        self.reference_mean = Gauge(
            PREFIX + "reference_predicted_duration_mean_minutes",
            "The mean predicted duration on the served model's training rides (the live mean's "
            "reference)",
            multiprocess_mode="livemostrecent",
            **r,
        )
        self.log_queue = Gauge(
            PREFIX + "prediction_log_queue_rides",
            "Rides recorded and not yet written to the prediction log",
            multiprocess_mode="livesum",
            **r,
        )
        self.log_written = Counter(
            PREFIX + "prediction_log_written_rides", "Rides written to the prediction log", **r
        )
        self.log_dropped = Counter(
            PREFIX + "prediction_log_dropped_rides",
            "Rides answered but not recorded (the log's queue was full, or a write failed)",
            **r,
        )

    # The request path: counts only.

    def request(self, route: str, method: str, status: int, seconds: float) -> None:
        with self._lock:
            counts = self._counts
            counts.requests[(route, method, str(status))] += 1
            buckets = counts.latency.get(route)
            if buckets is None:
                buckets = counts.latency[route] = [0] * (len(LATENCY_BUCKETS) + 1)
            buckets[bisect.bisect_left(LATENCY_BUCKETS, seconds)] += 1
            counts.latency_sum[route] += seconds

    def scored(self, durations: list[float]) -> None:
        if len(durations) == 1:
            d = durations[0]
            with self._lock:
                counts = self._counts
                counts.minutes[bisect.bisect_left(MINUTES_BUCKETS, d)] += 1
                counts.minutes_sum += d
                counts.rides += 1
            return
        values = np.asarray(durations, dtype=float)
        histogram = np.bincount(
            np.searchsorted(MINUTES_BUCKETS, values, side="left"),
            minlength=len(MINUTES_BUCKETS) + 1,
        )
        total = float(values.sum())
        with self._lock:
            counts = self._counts
            counts.minutes += histogram
            counts.minutes_sum += total
            counts.rides += len(values)

    # Folding into prometheus-client, and the scrape.

    def fold(self) -> None:
        with self._lock:
            counts, self._counts = self._counts, _Counts()
        for labels, n in counts.requests.items():
            self.requests.labels(*labels).inc(n)
        for route, buckets in counts.latency.items():
            _add_observations(self.latency.labels(route), buckets, counts.latency_sum[route])
        if counts.rides:
            self.rides.inc(counts.rides)
            _add_observations(self.minutes, counts.minutes.tolist(), counts.minutes_sum)
        self._fold_served()
        self._fold_log()

    def _fold_served(self) -> None:
        served = self.source.current
        if served is self._served:
            return
        if self._served is not None:
            self.model_info.labels(*_info_labels(self._served)).set(0)
        self.model_info.labels(*_info_labels(served)).set(1)
        mean = served.metadata.get("metrics", {}).get("train_mean_predicted")
        if mean is not None:
            self.reference_mean.set(mean)
        self._served = served

    def _fold_log(self) -> None:
        log = self.log
        if log is None:
            return
        written, dropped = log.written, log.dropped
        seen_written, seen_dropped = self._log_seen
        if written > seen_written:
            self.log_written.inc(written - seen_written)
        if dropped > seen_dropped:
            self.log_dropped.inc(dropped - seen_dropped)
        self._log_seen = (written, dropped)
        self.log_queue.set(log.queued)

    def exposition(self) -> bytes:
        """Every worker's metrics in Prometheus' text format (this worker's folded first)."""
        from prometheus_client import CollectorRegistry, generate_latest

        self.fold()
        if not self.multiprocess:
            return generate_latest(self._registry)
        from prometheus_client import multiprocess

        _forget_dead_workers(os.environ[MULTIPROCESS_ENV])
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return generate_latest(registry)

    def start(self) -> None:
        self.fold()  # the model served shows from the first scrape
        self._thread = threading.Thread(target=self._run, name="metrics-fold", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        self.fold()

    def _run(self) -> None:
        while not self._stop.wait(FOLD_SECONDS):
            self.fold()


def _info_labels(served) -> tuple[str, str, str]:
    metadata = served.metadata
    return served.version, metadata.get("taxi", ""), metadata.get("features", {}).get("set", "")


def _add_observations(histogram, buckets: list[int], total: float) -> None:
    """Add many observations, already counted per bucket, to a prometheus-client histogram.
    prometheus-client observes one value at a time (three shared-memory writes each); this
    adds each bucket's count at once, to the values ``Histogram.observe`` adds to (its
    per-bucket counts and its sum, non-cumulative, as that version keeps them; a test checks
    that the exposition equals observing the values one by one)."""
    for value, n in zip(histogram._buckets, buckets):
        if n:
            value.inc(n)
    histogram._sum.inc(total)


def _forget_dead_workers(folder: str) -> None:
    """Drop the live gauges of workers that are gone (killed, or replaced by uvicorn)."""
    from prometheus_client import multiprocess

    pids = set()
    for path in Path(folder).glob("gauge_live*_*.db"):
        pid = path.stem.rsplit("_", 1)[-1]
        if pid.isdigit():
            pids.add(int(pid))
    for pid in pids:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            multiprocess.mark_process_dead(pid, folder)
        except PermissionError:
            pass
