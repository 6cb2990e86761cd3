"""A worker killed outright under load (SIGKILL), then the service stopped (SIGTERM): every
Parquet file of the log reads, and the rides recorded are the rides answered, less at most
what the killed worker answered in its last flush interval (the README's bound)."""

from __future__ import annotations

import http.client
import json
import os
import signal
import threading
import time
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from ride_duration.serving.recording import FLUSH_SECONDS
from tests.live.conftest import month_rides
from tests.serve.test_service import Service, free_port

# Reads no real file but the lesson months: CI's newcomer run with them skips these.
pytestmark = pytest.mark.lesson_months_only

BATCH, CLIENTS = 20, 2


def workers(service_pid: int) -> list[int]:
    """The uvicorn workers of a service: its spawned children (not the resource tracker)."""
    children = Path(f"/proc/{service_pid}/task/{service_pid}/children").read_text().split()
    found = []
    for child in map(int, children):
        command = Path(f"/proc/{child}/cmdline").read_bytes().replace(b"\0", b" ")
        if b"spawn_main" in command and b"resource_tracker" not in command:
            found.append(child)
    return found


def test_a_killed_worker_loses_at_most_its_last_flush(live_models, tlc_dir, tmp_path):
    rides = month_rides(tlc_dir, "2021-02", 2_000, pickups=False)
    bodies = [json.dumps(rides[i : i + BATCH]).encode() for i in range(0, len(rides), BATCH)]
    logs = tmp_path / "logs"
    service = Service(
        live_models / "models" / "lin_reg.bin",
        free_port(),
        workers=2,
        args=("--log-dir", str(logs), "--no-access-log"),
    )
    answered: list[tuple[str, float]] = []  # (request id, when its answer came)
    stop, lock = threading.Event(), threading.Lock()

    def client(offset: int) -> None:
        connection = None
        for n in range(100_000):  # bounded in count as in time
            if stop.is_set():
                break
            if connection is None:
                connection = http.client.HTTPConnection("127.0.0.1", service.port, timeout=10)
            try:
                connection.request(
                    "POST",
                    "/predict",
                    bodies[(offset + n) % len(bodies)],
                    {"Content-Type": "application/json"},
                )
                response = connection.getresponse()
                response.read()
            except (OSError, http.client.HTTPException):  # the killed worker's connection
                connection.close()
                connection = None
                continue
            assert response.status == 200
            with lock:
                answered.append((response.getheader("X-Request-ID"), time.monotonic()))
        if connection is not None:
            connection.close()

    threads = [threading.Thread(target=client, args=(i * 7,)) for i in range(CLIENTS)]
    try:
        for thread in threads:
            thread.start()
        time.sleep(3)
        before = workers(service.process.pid)
        assert len(before) == 2, before
        os.kill(before[0], signal.SIGKILL)
        killed_at = time.monotonic()
        give_up = killed_at + 30
        while len(workers(service.process.pid)) < 2 or before[0] in workers(service.process.pid):
            assert time.monotonic() < give_up, "uvicorn did not replace the killed worker"
            time.sleep(0.2)
        time.sleep(2)  # the replacement answers too
    finally:
        stop.set()
        for thread in threads:
            thread.join(30)
        service.process.send_signal(signal.SIGTERM)
        service.process.wait(timeout=30)
        output = service.output()
        service.stop()
    assert "Traceback" not in output, output

    files = sorted(logs.rglob("*.parquet"))
    assert files and all(not f.name.startswith(".") for f in files)
    tables = [pq.read_table(f) for f in files]  # every file reads
    recorded: dict[str, int] = {}
    for table in tables:
        for request_id in table.column("request_id").to_pylist():
            recorded[request_id] = recorded.get(request_id, 0) + 1
    ids = {request_id for request_id, _ in answered}
    assert set(recorded) <= ids  # nothing recorded that was not answered
    assert all(n == BATCH for n in recorded.values())  # whole requests, every ride of them
    lost = [(request_id, when) for request_id, when in answered if request_id not in recorded]
    # Only the killed worker's rides are lost (its request ids share its token), and only
    # those it answered in its last flush interval (plus the write under way).
    tokens = {request_id.split("-")[0] for request_id, _ in lost}
    assert len(tokens) <= 1, tokens
    assert all(killed_at - when <= FLUSH_SECONDS + 1.0 for _, when in lost), (
        killed_at,
        [killed_at - when for _, when in lost][:5],
    )
    others = [r for r, _ in answered if r.split("-")[0] not in tokens]
    assert others and all(r in recorded for r in others)  # the other workers lost nothing
    assert len(answered) > 100
