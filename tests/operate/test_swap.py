"""A served alias moved by any MLflow client (a plain MlflowClient, not `--register`): the
service swaps in only a version that passes what a start-up load checks. A version of another
taxi type, or whose file fails its sidecar, is refused, logged once, and not downloaded again
until the alias moves; a good version is then swapped in without a restart."""

import json
import shutil
import time
from pathlib import Path

import pytest

from tests.helpers import run_cli, simple_rides, write_month
from tests.operate.conftest import new_project
from tests.serve.test_service import Service, free_port

pytestmark = pytest.mark.lesson_months_only

RIDE = {"PULocationID": 43, "DOLocationID": 151, "trip_distance": 1.8}
NAME = "nyc-taxi-regressor"


def tracked_training(project, data: Path, models: Path, *args: str) -> dict:
    result = project.cli(
        "train",
        "--offline",
        "--quiet",
        "--json",
        "--track",
        "--data-dir",
        str(data),
        "--model-dir",
        str(models),
        *args,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def version_of(client, run: dict, location: str | None = None) -> str:
    """A new version of the served model made as any client would make one."""
    model_id = run["mlflow_model_uri"].removeprefix("models:/")
    source = location or client.get_logged_model(model_id).artifact_location
    return str(client.create_model_version(NAME, source, run_id=run["mlflow_run_id"]).version)


def poll_until(condition, seconds: float = 30):
    give_up = time.monotonic() + seconds
    while time.monotonic() < give_up:
        if value := condition():
            return value
        time.sleep(0.2)
    raise AssertionError(f"not within {seconds} s")


@pytest.fixture(scope="module")
def registry(tlc_dir, tmp_path_factory):
    """A store whose nyc-taxi-regressor has a green champion (version 1), and a tracked run of
    a yellow model that anyone could register under it."""
    root = tmp_path_factory.mktemp("swap")
    project = new_project(root, tlc_dir)
    green = tracked_training(project, project.data, project.models, "--register")
    assert project.cli("promote").returncode == 0
    yellow_data = root / "yellow"
    for month in (1, 2):
        write_month(yellow_data, "yellow", f"2021-0{month}", simple_rides(month, n=200))
    yellow = tracked_training(project, yellow_data, root / "yellow-models", "--taxi", "yellow")
    return project, green, yellow


def test_only_a_version_that_passes_the_start_up_checks_is_swapped_in(registry, tmp_path):
    project, green, yellow = registry
    client = project.client()

    # A green version whose model file was changed after it was logged.
    logged = client.get_logged_model(green["mlflow_model_uri"].removeprefix("models:/"))
    tampered = tmp_path / "tampered"
    shutil.copytree(Path(logged.artifact_location.removeprefix("file://")), tampered)
    (bin_file,) = tampered.glob("artifacts/*.bin")
    bin_file.write_bytes(bin_file.read_bytes()[:-1] + b"\x00")

    service = Service(
        f"models:/{NAME}@champion",
        free_port(),
        args=["--poll-seconds", "0.3"],
        env={"MLFLOW_TRACKING_URI": project.uri},
    )
    try:
        status, first = service.request("POST", "/predict", RIDE)
        assert status == 200 and first["model_version"].startswith(f"{NAME}/1/")

        for refused, why in (
            (version_of(client, yellow), "is a yellow taxi model"),
            (version_of(client, green, tampered.as_uri()), "does not match its sidecar"),
        ):
            client.set_registered_model_alias(NAME, "champion", refused)
            poll_until(lambda why=why: why in service.output())
            time.sleep(2)  # several polls more: the refusal is neither repeated nor undone
            assert service.output().count(f"moved to version {refused}, which is refused") == 1
            status, answer = service.request("POST", "/predict", RIDE)
            assert status == 200 and answer == first  # still the green version 1

        good = version_of(client, green)
        client.set_registered_model_alias(NAME, "champion", good)
        swapped = poll_until(
            lambda: service.request("GET", "/model")[1]["registry"]["version"] == good
        )
        assert swapped
        status, answer = service.request("POST", "/predict", RIDE)
        assert answer["model_version"].startswith(f"{NAME}/{good}/")
        assert answer["duration"] == first["duration"]
    finally:
        log = service.output()
        service.stop()
    assert "Traceback" not in log, log


def test_a_start_up_on_a_version_of_another_taxi_type_is_refused(registry):
    project, _, yellow = registry
    client = project.client()
    client.set_registered_model_alias(NAME, "stray", version_of(client, yellow))
    result = run_cli(
        "serve",
        "--model",
        f"models:/{NAME}@stray",
        "--port",
        str(free_port()),
        env={"MLFLOW_TRACKING_URI": project.uri},
        process=True,
        timeout=120,
    )
    assert result.returncode == 2, result.stderr
    assert "is a yellow taxi model" in result.stderr and "Traceback" not in result.stderr
