"""The service under hostile clients and a model that changes on disk: every answer is a 200
or a 4xx, never a 500, and the service keeps answering /health."""

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time

import pytest

from tests.helpers import copy_months, train_with_cli
from tests.serve.test_service import LESSON_FILES, Service, free_port

# Reads no real file but the lesson months: CI's newcomer run with them skips these.
pytestmark = pytest.mark.lesson_months_only

GOOD = {"PULocationID": 43, "DOLocationID": 151, "trip_distance": 1.8}


@pytest.fixture(scope="module")
def models(tlc_dir, tmp_path_factory):
    root = tmp_path_factory.mktemp("serve-hostile")
    data = copy_months(tlc_dir, root / "data", *LESSON_FILES)
    train_with_cli(data, root / "models", "lesson", "homework", "rich", named=True)
    return root / "models"


@pytest.fixture(scope="module")
def service(models):
    running = Service(models / "lesson.bin", free_port())
    yield running
    log = running.output()
    running.stop()
    assert "Traceback" not in log and " 500 " not in log, log


@pytest.mark.parametrize("path", ["/health", "/model"])
def test_head_is_answered_like_get(service, path):
    status, body = service.request("HEAD", path)
    assert status == 200 and body == b""


@pytest.mark.parametrize(
    ("content_type", "body", "status"),
    [
        # A body declared as anything but JSON is not scored, even when it holds JSON.
        ("text/plain", json.dumps(GOOD).encode(), 415),
        ("application/x-www-form-urlencoded", json.dumps(GOOD).encode(), 415),
        ("application/xml", b"<ride><PULocationID>43</PULocationID></ride>", 415),
        ("multipart/form-data; boundary=x", b"--x\r\n\r\n--x--", 415),
        ("application/json; charset=latin-1", b'{"PULocationID": 1, "x\xe9": 1}', 422),
        ("application/merge-patch+json", json.dumps(GOOD).encode(), 200),
        ("application/json", b"\xff\xfe{\x00", 422),
        ("application/json", b'{"PULocationID": 1e999}', 422),
        ("application/json", b"[" * 5000 + b"]" * 5000, 422),
    ],
)
def test_odd_content_types_and_bodies(service, content_type, body, status):
    got, answer = service.request("POST", "/predict", body, {"Content-Type": content_type})
    assert got == status, answer
    if status == 415:
        assert "send JSON (Content-Type: application/json)" in answer["detail"]
    assert service.request("GET", "/health")[0] == 200


def test_three_hundred_tricklers_do_not_starve_a_worker_of_256_files(models):
    """300 clients that open a connection and send their headers a byte at a time, against
    one worker allowed 256 open files: /health is still answered at once (the connections
    waiting longest are closed to make room), and normal requests meanwhile."""
    running = Service(models / "lesson.bin", free_port(), files=256)
    stop, sockets = threading.Event(), []

    def trickle():
        try:
            slow = socket.create_connection(("127.0.0.1", running.port), timeout=5)
        except OSError:
            return
        sockets.append(slow)
        for byte in b"POST /predict HTTP/1.1\r\nHost: x\r\nContent-Length: 9999\r\n" * 50:
            if stop.wait(0.5):
                return
            try:
                slow.send(bytes([byte]))
            except OSError:
                return

    tricklers = [threading.Thread(target=trickle, daemon=True) for _ in range(300)]
    try:
        for trickler in tricklers:
            trickler.start()
        time.sleep(3)  # every trickler connected (or was closed) and holds on
        for _ in range(5):
            started = time.monotonic()
            assert running.request("GET", "/health")[0] == 200
            assert running.request("POST", "/predict", GOOD)[0] == 200
            assert time.monotonic() - started < 2, "a worker full of tricklers starved /health"
    finally:
        stop.set()
        for trickler in tricklers:
            trickler.join(timeout=10)
        for slow in sockets:
            slow.close()
        log = running.output()
        running.stop()
    assert "Traceback" not in log, log


def test_a_client_sending_headers_a_byte_at_a_time_holds_up_nobody(service):
    stop = threading.Event()

    def trickle():
        with socket.create_connection(("127.0.0.1", service.port), timeout=5) as slow:
            for byte in b"POST /predict HTTP/1.1\r\nHost: x\r\nContent-Length: 9999\r\n":
                if stop.is_set():
                    return
                try:
                    slow.send(bytes([byte]))
                except OSError:
                    return
                time.sleep(0.05)

    trickler = threading.Thread(target=trickle)
    trickler.start()
    try:
        time.sleep(0.3)
        started = time.monotonic()
        for _ in range(20):
            assert service.request("POST", "/predict", GOOD)[0] == 200
        assert time.monotonic() - started < 10
    finally:
        stop.set()
        trickler.join(timeout=10)


def test_many_clients_at_once_all_get_answers(service):
    from concurrent.futures import ThreadPoolExecutor

    bodies = [GOOD, [GOOD] * 50, b"{", {"PULocationID": "x"}, [GOOD] * 10_001] * 8
    with ThreadPoolExecutor(16) as pool:
        statuses = list(pool.map(lambda b: service.request("POST", "/predict", b)[0], bodies))
    assert set(statuses) <= {200, 422} and statuses.count(200) == 16


def test_a_model_replaced_on_disk_under_two_workers_changes_no_answer(models, tmp_path):
    """Every worker serves the model checked at start, even one that restarts after the file
    on disk was replaced by another model (or by garbage)."""
    model = tmp_path / "served.bin"
    shutil.copyfile(models / "lesson.bin", model)
    shutil.copyfile(models / "lesson.json", tmp_path / "served.json")
    running = Service(model, free_port(), workers=2)
    try:
        _, first = running.request("POST", "/predict", GOOD)
        shutil.copyfile(models / "homework.bin", model)
        shutil.copyfile(models / "homework.json", tmp_path / "served.json")
        workers = [
            int(pid)
            for pid in subprocess.run(
                ["pgrep", "-P", str(running.process.pid)], capture_output=True, text=True
            ).stdout.split()
        ]
        assert len(workers) >= 2, workers
        os.kill(workers[0], signal.SIGKILL)  # uvicorn starts a new worker in its place
        model.write_bytes(b"garbage")
        answers = []
        give_up = time.monotonic() + 30
        while time.monotonic() < give_up and len(answers) < 200:
            answers.append(running.request("POST", "/predict", GOOD))
        assert {status for status, _ in answers} == {200}
        assert {a["model_version"] for _, a in answers} == {first["model_version"]}
        assert {a["duration"] for _, a in answers} == {first["duration"]}
    finally:
        log = running.output()
        running.stop()
    assert "Traceback" not in log and " 500 " not in log, log


def test_serve_leaves_no_copy_of_the_model_behind(models, tmp_path, monkeypatch):
    # A temporary folder of its own: other test sessions serve beside this one in CI, and
    # their copies come and go in the shared one.
    own = tmp_path / "tmp"
    own.mkdir()
    monkeypatch.setenv("TMPDIR", str(own))
    running = Service(models / "lesson.bin", free_port())
    copies = [n for n in os.listdir(own) if n.startswith("ride-duration-serve-")]
    running.stop()
    assert copies  # it made its copy here while it ran
    assert not [n for n in os.listdir(own) if n.startswith("ride-duration-serve-")]
    assert sys.executable  # the service ran with this interpreter


ODD_PICKUPS = [
    "0001-01-01T00:00:00",
    "9999-12-31T23:59:59",
    "1900-01-01T08:00:00",
    "2021-03-14T02:30:00-05:00",
    "2021-01-01T00:00:00Z",
    "2021-02-01T08:15:00.123456",
]
ODD_ZONES = [(-1, -1), (0, 0), (1_000_000, 264), (43, 151)]


def test_a_rich_model_answers_odd_times_and_zones_as_its_pipeline(models):
    import datetime as dt

    import numpy as np

    from ride_duration import load_model

    rides = [
        {"PULocationID": pu, "DOLocationID": do, "trip_distance": miles, "pickup_datetime": when}
        for when in ODD_PICKUPS
        for pu, do in ODD_ZONES
        for miles in (0.0, 1.8, 1e9)
    ]
    running = Service(models / "rich.bin", free_port())
    try:
        status, answer = running.request("POST", "/predict", rides)
        assert running.request("GET", "/health")[0] == 200
    finally:
        log = running.output()
        running.stop()
    assert status == 200, answer
    assert "Traceback" not in log and " 500 " not in log, log
    parsed = [
        r
        | {
            "pickup_datetime": dt.datetime.fromisoformat(
                r["pickup_datetime"].replace("Z", "+00:00")
            )
        }
        for r in rides
    ]
    expected = load_model(models / "rich.bin").predict(parsed)
    assert np.isfinite(answer["durations"]).all()
    np.testing.assert_allclose(answer["durations"], expected, atol=1e-9, rtol=0)
