"""A real MLflow tracking server on a free loopback port: train, register and promote through
it, then serve its champion alias and move the alias under load: every answer is a 200, and
the service moves to the new version without a restart."""

import contextlib
import http.client
import json
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from ride_duration.modeling.model import load
from tests.helpers import assert_clean_failure, run_cli
from tests.serve.test_service import free_port

# Only the lesson months are copied: CI's newcomer run needs not repeat these.
pytestmark = pytest.mark.lesson_months_only

MLFLOW = Path(sys.executable).with_name("mlflow")
RIDE = {
    "PULocationID": 43,
    "DOLocationID": 151,
    "trip_distance": 1.8,
    "pickup_datetime": "2021-02-01T08:15:00",
}


def get(port: int, path: str, body=None):
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        connection.request("POST" if body else "GET", path, body=body)
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def wait_for(port: int, process: subprocess.Popen, log: Path, seconds: float = 120) -> None:
    give_up = time.monotonic() + seconds
    while time.monotonic() < give_up:
        assert process.poll() is None, log.read_text()[-3000:]
        try:
            if get(port, "/health")[0] == 200:
                return
        except OSError:
            time.sleep(0.2)
    raise AssertionError(f"nothing answered on port {port} in {seconds} s: {log.read_text()}")


def stop(process: subprocess.Popen) -> None:
    process.send_signal(signal.SIGINT)
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=10)


@contextlib.contextmanager
def mlflow_server(root: Path):
    """A real `mlflow server` over a SQLite store in ``root`` on a free loopback port: its URL,
    the server stopped on the way out."""
    port, log = free_port(), root / "server.log"
    with open(log, "w") as out:
        process = subprocess.Popen(
            [
                str(MLFLOW),
                "server",
                "--backend-store-uri",
                f"sqlite:///{root / 'mlflow.db'}",
                "--artifacts-destination",
                str(root / "artifacts"),
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--workers",
                "1",
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        wait_for(port, process, log)
        yield f"http://127.0.0.1:{port}"
    finally:
        stop(process)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with mlflow_server(tmp_path_factory.mktemp("mlflow-server")) as uri:
        yield uri


@pytest.fixture(scope="module")
def registered(server, project):
    """Two versions through the server: the lesson model (champion) and rich (challenger)."""
    env = {"MLFLOW_TRACKING_URI": server}
    for features in ("lesson", "rich"):
        result = run_cli(
            "train",
            "--offline",
            "--quiet",
            "--features",
            features,
            "--track",
            "--register",
            "--data-dir",
            str(project.data),
            "--model-dir",
            str(project.models),
            env=env,
        )
        assert result.returncode == 0, result.stderr
        if features == "lesson":
            assert run_cli("promote", env=env).returncode == 0
    return server


def load_until(port, stop_at, answers, budget=200_000, seconds=120):
    """POST one ride over a keep-alive connection until ``stop_at`` is set, at most ``budget``
    requests and ``seconds`` (bounds that the test's own deadline stays well inside: a client
    that ran out before the swap would prove nothing)."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    body = json.dumps(RIDE).encode()
    give_up = time.monotonic() + seconds
    try:
        for _ in range(budget):
            if stop_at.is_set() or time.monotonic() > give_up:
                return
            try:
                connection.request("POST", "/predict", body=body)
                response = connection.getresponse()
                payload = response.read()
            except OSError as exc:
                answers.append((None, str(exc)))
                connection.close()
                continue
            answers.append(
                (response.status, json.loads(payload) if response.status == 200 else payload)
            )
    finally:
        connection.close()


def test_serve_follows_the_champion_alias_under_load(registered, project, tmp_path):
    port, log = free_port(), tmp_path / "serve.log"
    with open(log, "w") as out:
        service = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "ride_duration",
                "serve",
                "--model",
                "models:/nyc-taxi-regressor@champion",
                "--tracking-uri",
                registered,
                "--port",
                str(port),
                "--workers",
                "2",
                "--poll-seconds",
                "0.5",
                "--no-access-log",
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_for(port, service, log)
        status, card = get(port, "/model")
        assert status == 200 and json.loads(card)["registry"]["version"] == "1"
        stop_at, per_client = threading.Event(), [[] for _ in range(4)]
        clients = [
            threading.Thread(target=load_until, args=(port, stop_at, answers))
            for answers in per_client
        ]
        for client in clients:
            client.start()
        time.sleep(1.5)
        promoted = run_cli("promote", "2", env={"MLFLOW_TRACKING_URI": registered})
        assert promoted.returncode == 0, promoted.stderr
        give_up = time.monotonic() + 60
        while time.monotonic() < give_up and not all(
            sum(
                a[1]["model_version"].startswith("nyc-taxi-regressor/2/")
                for a in answers
                if a[0] == 200
            )
            >= 20
            for answers in per_client
        ):
            time.sleep(0.2)
        stop_at.set()
        for client in clients:
            client.join(timeout=30)
    finally:
        stop(service)
    output = log.read_text()
    assert "Traceback" not in output, output
    answers = [a for client in per_client for a in client]
    assert answers and all(status == 200 for status, _ in answers), [
        a for a in answers if a[0] != 200
    ][:3]
    expected = {
        "1": load(project.models / "lin_reg.bin")[0].predict_rides([RIDE])[0],
        "2": load(project.models / "rich_ridge.bin")[0].predict_rides([RIDE])[0],
    }
    for client in per_client:
        versions = [answer["model_version"].split("/")[1] for _, answer in client]
        # Each client sees version 1, then version 2, never back.
        assert versions == sorted(versions) and versions[-1] == "2", (versions[-3:], output)
        for _, answer in client:
            version = answer["model_version"].split("/")[1]
            assert answer["duration"] == pytest.approx(expected[version], abs=1e-9)


def test_an_alias_that_does_not_exist_stops_before_binding(registered):
    result = run_cli(
        "serve",
        "--model",
        "models:/nyc-taxi-regressor@nope",
        "--tracking-uri",
        registered,
        "--port",
        str(free_port()),
        timeout=120,
    )
    assert_clean_failure(result, "has no alias 'nope'")
