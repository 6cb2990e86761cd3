"""The prediction log's writer: every scored ride, recorded off the request path.

``PredictionLog.record`` copies a request's rides and answers into column buffers (NumPy
arrays: a few tens of nanoseconds a ride; keeping the rides' dicts instead would leave the
garbage collector a million objects to walk); a request that would overfill them is not
recorded, and counted, never delayed. A thread writes the buffers out every
``flush_seconds`` (sooner once ``file_rides`` are waiting) as one Parquet file per date under
the log folder, written under a hidden temporary name and renamed when complete
(``data.recorded``). Each worker process writes its own files (its pid and a random token in
their names). Closing the log (the service's shutdown, on SIGTERM) writes what is buffered.
A worker killed outright (SIGKILL, out of memory) loses what it had not written: the rides of
at most its last ``flush_seconds`` (and at most ``max_queued``), plus the file being written.
"""

from __future__ import annotations

import datetime as dt
import logging
import math
import os
import secrets
import threading
from pathlib import Path

import numpy as np
import pyarrow as pa

from ..data.recorded import SCHEMA, partition_dir
from ..features.columns import NAT, RideColumns, pickup_micros

log = logging.getLogger("ride_duration.serve")

FLUSH_SECONDS = 1.0
FILE_RIDES = 100_000
MAX_QUEUED = 1_000_000  # rides; about 60 MB of buffers, then requests go unrecorded (counted)


# The per-ride columns, their buffers' types and their value when missing.
COLUMNS = {
    "pu": (np.int32, -1),
    "do": (np.int32, -1),
    "distance": (np.float64, math.nan),
    "pickup": (np.int64, NAT),
    "duration": (np.float64, math.nan),
    "lower": (np.float64, math.nan),
    "upper": (np.float64, math.nan),
}


class _Buffers:
    """Rides recorded and not yet written: per request (its time, id, version, level, and
    how many rides it had) and per ride, the inputs as the model read them and the answers.
    A batch's columns are NumPy arrays (no Python object per ride); single rides are
    appended to lists, turned into arrays when a batch follows them or when written."""

    def __init__(self):
        self.received: list[float] = []
        self.request_id: list[str] = []
        self.version: list[str] = []
        self.level: list[float | None] = []
        self.counts: list[int] = []
        self.rides = 0
        self.chunks: dict[str, list[np.ndarray]] = {column: [] for column in COLUMNS}
        self.singles: dict[str, list] = {column: [] for column in COLUMNS}

    def seal(self) -> None:
        """Turn the single rides' lists into arrays, after the chunks before them."""
        for column, values in self.singles.items():
            if values:
                self.chunks[column].append(np.array(values, COLUMNS[column][0]))
                self.singles[column] = []

    def column(self, name: str) -> np.ndarray:
        self.seal()
        chunks = self.chunks[name]
        return chunks[0] if len(chunks) == 1 else np.concatenate(chunks)


class PredictionLog:
    """The rides a worker scores, buffered by ``record`` and written by a thread of its own."""

    def __init__(
        self,
        folder: Path,
        flush_seconds: float = FLUSH_SECONDS,
        file_rides: int = FILE_RIDES,
        max_queued: int = MAX_QUEUED,
    ):
        self.folder = Path(folder)
        self.flush_seconds, self.file_rides, self.max_queued = (
            flush_seconds,
            file_rides,
            max_queued,
        )
        self.queued = 0  # rides recorded, not yet in a complete file
        self.dropped = 0  # rides not recorded: the buffers were full, or a write failed
        self.written = 0  # rides in complete files
        self.files = 0
        self._buffers = _Buffers()
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = False
        self._thread: threading.Thread | None = None
        self._name = f"part-{os.getpid()}-{secrets.token_hex(3)}"
        self._sequence = 0
        self._failing = False

    def start(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        self._thread = threading.Thread(target=self._run, name="prediction-log", daemon=True)
        self._thread.start()

    def record_ride(self, received, request_id, version, ride, duration, level, lower, upper):
        """Record a one-ride request and its answer (on the request path: no I/O)."""
        with self._lock:
            if self.queued + 1 > self.max_queued:
                self.dropped += 1
                return
            b = self._buffers
            singles = b.singles
            distance = ride.get("trip_distance")
            singles["pu"].append(ride.get("PULocationID", -1))
            singles["do"].append(ride.get("DOLocationID", -1))
            singles["distance"].append(math.nan if distance is None else distance)
            singles["pickup"].append(pickup_micros(ride.get("pickup_datetime")))
            singles["duration"].append(duration)
            singles["lower"].append(math.nan if lower is None else lower)
            singles["upper"].append(math.nan if upper is None else upper)
            full = self._add_request(b, received, request_id, version, level, 1)
        if full:
            self._wake.set()

    def record_batch(
        self,
        received,
        request_id,
        version,
        rides: RideColumns,
        durations: np.ndarray,
        level,
        lower: np.ndarray | None,
        upper: np.ndarray | None,
    ):
        """Record a batch and its answers: its arrays are kept as they are (no copy)."""
        n = len(rides)
        with self._lock:
            if self.queued + n > self.max_queued:
                self.dropped += n
                return
            b = self._buffers
            b.seal()
            missing = np.full(n, math.nan) if lower is None else None
            for column, values in (
                ("pu", rides.pu),
                ("do", rides.do),
                ("distance", rides.distance),
                ("pickup", rides.pickup),
                ("duration", durations),
                ("lower", missing if lower is None else lower),
                ("upper", missing if upper is None else upper),
            ):
                b.chunks[column].append(values)
            full = self._add_request(b, received, request_id, version, level, n)
        if full:
            self._wake.set()

    def _add_request(self, b, received, request_id, version, level, n) -> bool:
        b.received.append(received)
        b.request_id.append(request_id)
        b.version.append(version)
        b.level.append(level)
        b.counts.append(n)
        b.rides += n
        self.queued += n
        return b.rides >= self.file_rides

    def close(self) -> None:
        """Write what is buffered and stop the writer."""
        self._stop = True
        self._wake.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        self._flush()

    def _run(self) -> None:
        while not self._stop:
            self._wake.wait(self.flush_seconds)
            self._wake.clear()
            self._flush()

    def _flush(self) -> None:
        with self._lock:
            buffers, self._buffers = self._buffers, _Buffers()
        n = buffers.rides
        if not n:
            return
        try:
            for date, table in _by_date(buffers):
                self._write(date, table)
        except OSError as exc:
            # A full disk or a folder taken away must not stop the service: the rides are
            # counted as dropped, and the first failure of a run of them is logged.
            with self._lock:
                self.dropped += n
                self.queued -= n
            if not self._failing:
                log.warning("prediction log: cannot write under %s (%s)", self.folder, exc)
            self._failing = True
            return
        self._failing = False
        with self._lock:
            self.written += n
            self.queued -= n

    def _write(self, date: dt.date, table: pa.Table) -> None:
        import pyarrow.parquet as pq

        folder = partition_dir(self.folder, date)
        folder.mkdir(parents=True, exist_ok=True)
        self._sequence += 1
        final = folder / f"{self._name}-{self._sequence:06d}.parquet"
        temp = folder / f".{final.name}.tmp"
        try:
            # lz4, dictionaries for the strings only and statistics for the time only: the
            # cheapest encoding that still compresses well (a third of zstd's time).
            pq.write_table(
                table,
                temp,
                compression="lz4",
                use_dictionary=["request_id", "model_version"],
                write_statistics=["time"],
            )
            os.replace(temp, final)
        finally:
            temp.unlink(missing_ok=True)
        self.files += 1


def _by_date(b: _Buffers):
    """The buffered rides as tables of the log's schema, one per date (UTC) of their
    requests."""
    counts = np.array(b.counts, np.int64)
    received = np.asarray(b.received)
    request = np.repeat(np.arange(len(counts)), counts)
    table = _table(b, request)
    days = (received // 86_400).astype(np.int64)
    if days.min() == days.max():
        yield _date(int(days[0])), table
        return
    ride_days = days[request]
    for day in np.unique(days):
        yield _date(int(day)), table.filter(pa.array(ride_days == day))


def _date(day: int) -> dt.date:
    return dt.date(1970, 1, 1) + dt.timedelta(days=day)


def _table(b: _Buffers, request: np.ndarray) -> pa.Table:
    """One table of the log's schema. The per-ride columns are the buffers' memory as is; what
    is the same for a request's rides (its time, id, version, level) is one value per request,
    taken for each of its rides."""
    taken = pa.array(request.astype(np.int32))

    def per_request(values, type_):
        return pa.array(values, type_).take(taken)

    def numbers(name: str) -> pa.Array:
        values = b.column(name)
        # NaN, a float column's missing value in the buffers, is null in the file.
        return pa.array(values, from_pandas=values.dtype == np.float64)

    pickup = b.column("pickup")
    micros = (np.asarray(b.received) * 1e6).astype(np.int64)
    columns = [
        per_request(micros, pa.int64()).cast(SCHEMA.field("time").type),
        per_request(b.request_id, pa.string()),
        per_request(b.version, pa.string()),
        numbers("pu"),
        numbers("do"),
        numbers("distance"),
        pa.array(pickup, pa.int64(), mask=pickup == NAT).cast(pa.timestamp("us")),
        numbers("duration"),
        per_request(b.level, pa.float64()),
        numbers("lower"),
        numbers("upper"),
    ]
    return pa.Table.from_arrays(columns, schema=SCHEMA)
