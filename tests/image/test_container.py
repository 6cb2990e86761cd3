"""The service's image, built from the Dockerfile and run for real where a Docker daemon
answers: healthy by its own HEALTHCHECK, predicting what `load_model` predicts for the lesson
and the rich model, as a non-root user, refusing bad requests with 422, and stopping on
SIGTERM well within `docker stop`'s 10 s. Containers use the host's network on a free
127.0.0.1 port and are always removed. Without a daemon every test here skips, saying how to
get one."""

import http.client
import json
import shutil
import socket
import time

import numpy as np
import pytest

from ride_duration import load_model
from tests.helpers import REPO, copy_months, train_with_cli
from tools import docker_image

pytestmark = pytest.mark.image
REPORT: dict = {}  # printed in the session's summary (tests/conftest.py)
CONTEXT = ["Dockerfile", ".dockerignore", "requirements-runtime.txt", "pyproject.toml", "README.md"]


@pytest.fixture(scope="session")
def docker():
    client = docker_image.docker_client()
    if problem := docker_image.daemon_problem(client):
        pytest.skip(f"the image tier: {problem}")
    return client


@pytest.fixture(scope="session")
def built(docker, tlc_dir, tmp_path_factory):
    """(image tag, models folder): the image built from this checkout with a lesson model in
    it, and the lesson and rich models to mount."""
    context = tmp_path_factory.mktemp("image-context")
    for name in CONTEXT:
        shutil.copy(REPO / name, context / name)
    shutil.copytree(REPO / "src", context / "src", ignore=shutil.ignore_patterns("*.pyc"))
    data = copy_months(
        tlc_dir,
        context / "data",
        "green_tripdata_2021-01.parquet",
        "green_tripdata_2021-02.parquet",
    )
    train_with_cli(data, context / "models", "lesson", "rich")
    shutil.rmtree(data)
    base = docker_image.base_image(docker)
    started = time.monotonic()
    result = docker_image.build(docker, context, "ride-duration:test", base)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    size = docker_image.run(
        docker, "image", "inspect", "ride-duration:test", "--format", "{{.Size}}"
    )
    REPORT.update(base=base, size_mb=int(size.stdout) / 1e6, build_s=time.monotonic() - started)
    return "ride-duration:test", context / "models"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def request(port, method, path, body=None):
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        data = None if body is None else json.dumps(body).encode()
        connection.request(method, path, body=data, headers={"Content-Type": "application/json"})
        response = connection.getresponse()
        return response.status, json.loads(response.read() or b"null")
    finally:
        connection.close()


class Container:
    def __init__(self, docker, image, models, model_name):
        self.docker, self.port = docker, free_port()
        started = time.monotonic()
        run = docker_image.run(
            docker, "run", "-d", "--network", "host",
            "-e", f"RIDE_DURATION_PORT={self.port}",
            "--health-interval", "1s", "--health-start-period", "0s", "--health-timeout", "3s",
            "-v", f"{models}:/models:ro",
            image, "ride-duration", "serve", "--host", "127.0.0.1",
            "--model", f"/models/{model_name}.bin",
            timeout=60,
        )  # fmt: skip
        assert run.returncode == 0, run.stderr
        self.id = run.stdout.strip()
        self.healthy_after = self._wait_healthy(started)

    def _wait_healthy(self, started) -> float:
        while time.monotonic() - started < 90:
            status = self.inspect("{{.State.Health.Status}}")
            if status == "healthy":
                return time.monotonic() - started
            assert self.inspect("{{.State.Running}}") == "true", self.logs()
            time.sleep(0.2)
        raise AssertionError(f"not healthy in 90 s:\n{self.logs()}")

    def inspect(self, template: str) -> str:
        return docker_image.run(self.docker, "inspect", "-f", template, self.id).stdout.strip()

    def logs(self) -> str:
        result = docker_image.run(self.docker, "logs", self.id)
        return result.stdout[-2000:] + result.stderr[-2000:]

    def remove(self):
        docker_image.run(self.docker, "rm", "-f", self.id, timeout=60)


@pytest.fixture(scope="module", params=["lin_reg", "rich_ridge"])
def container(request, docker, built):
    image, models = built
    running = Container(docker, image, models, request.param)
    REPORT.setdefault("healthy_s", {})[request.param] = running.healthy_after
    try:
        yield running, models / f"{request.param}.bin"
    finally:
        running.remove()


RIDES = [
    {"PULocationID": 43, "DOLocationID": 151, "trip_distance": 1.8,
     "pickup_datetime": "2021-02-01T08:15:00"},
    {"PULocationID": 74, "DOLocationID": 75, "trip_distance": 0.9,
     "pickup_datetime": "2021-02-06T23:15:00"},
    {"PULocationID": 999, "DOLocationID": -1, "trip_distance": 1e6,
     "pickup_datetime": "2021-02-03T12:00:00"},
]  # fmt: skip


def test_predictions_equal_load_model(container):
    running, model = container
    rich = model.stem.startswith("rich")
    rides = (
        RIDES if rich else [{k: v for k, v in r.items() if k != "pickup_datetime"} for r in RIDES]
    )
    pipeline = load_model(model)
    expected = pipeline.predict(
        rides if rich else [{"PU_DO": f"{r['PULocationID']}_{r['DOLocationID']}",
                             "trip_distance": r["trip_distance"]} for r in rides]
    )  # fmt: skip
    status, answer = request(running.port, "POST", "/predict", rides)
    assert status == 200, answer
    np.testing.assert_allclose(answer["durations"], expected, atol=1e-9, rtol=0)
    status, one = request(running.port, "POST", "/predict?interval=0.8", rides[0])
    assert status == 200 and one["interval"][0] <= one["duration"] <= one["interval"][1]


def test_health_and_a_bad_request(container):
    running, _ = container
    status, health = request(running.port, "GET", "/health")
    assert status == 200 and health["status"] == "ok"
    assert running.inspect("{{.State.Health.Status}}") == "healthy"
    status, answer = request(running.port, "POST", "/predict", {"PULocationID": "43"})
    assert status == 422 and answer["detail"][0]["loc"][-1] == "PULocationID"


def test_runs_as_a_non_root_user(container):
    running, _ = container
    uid = docker_image.run(running.docker, "exec", running.id, "id", "-u").stdout.strip()
    assert uid.isdigit() and int(uid) != 0


def test_docker_stop_ends_it_on_sigterm(docker, built):
    image, models = built
    running = Container(docker, image, models, "lin_reg")
    try:
        started = time.monotonic()
        stopped = docker_image.run(docker, "stop", "-t", "10", running.id, timeout=30)
        took = time.monotonic() - started
        assert stopped.returncode == 0, stopped.stderr
        assert took < 10, took  # docker stop kills at 10 s: SIGTERM ended it before
        assert running.inspect("{{.State.ExitCode}}") != "137"
        assert "Shutting down" in running.logs()
        REPORT["stop_s"] = took
    finally:
        running.remove()
