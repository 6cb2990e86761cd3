"""The loop by itself, end to end: a real `prefect server` on a free loopback port, `ride-duration
loop serve` with an interval of a few seconds, and a loopback TLC mirror that "publishes" one
month after another while it runs. Through Prefect's API: one completed flow run per month with
the right decision and its artifacts; the registry's champion moves exactly when a decision
says so; a SIGTERM mid-run leaves a crashed run, and the restarted schedule decides that month
with nothing registered twice. Every server and process is stopped, bounded in time."""

import json
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.helpers import LESSON_MONTHS, copy_months
from tests.network.conftest import serving
from tests.serve.test_service import free_port

pytest.importorskip("prefect", reason="Prefect is not installed: pip install -e '.[orchestrate]'")
pytest.importorskip("mlflow", reason="MLflow is not installed: pip install -e '.[mlflow]'")

MONTHS = ("2021-03", "2021-04")
FILES = tuple(f"green_tripdata_{m}.parquet" for m in MONTHS)
PREFECT = Path(sys.executable).with_name("prefect")
NAME = "nyc-taxi-regressor"
pytestmark = pytest.mark.tlc_files(*FILES)


def stop(process: subprocess.Popen, sig=signal.SIGTERM, seconds: float = 30) -> int:
    if process.poll() is None:
        os.killpg(process.pid, sig)
        try:
            process.wait(timeout=seconds)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)
    return process.returncode


def api(url: str, path: str, body: dict | None = None):
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(
        url + path, data=data, headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=30) as answer:
        return json.loads(answer.read() or b"null")


@pytest.fixture
def prefect_server(tmp_path):
    """`prefect server start` on a free port, its database and home in a temp folder."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k != "PREFECT_API_URL"}
    env |= {"PREFECT_HOME": str(tmp_path / "prefect-home")}
    env |= {"PREFECT_SERVER_ANALYTICS_ENABLED": "false", "PREFECT_UI_ENABLED": "false"}
    log = open(tmp_path / "prefect-server.log", "w+")  # noqa: SIM115
    process = subprocess.Popen(
        [str(PREFECT), "server", "start", "--host", "127.0.0.1", "--port", str(port)],
        stdout=log,
        stderr=subprocess.STDOUT,
        env=env,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}/api"
    try:
        give_up = time.monotonic() + 120
        while True:
            assert process.poll() is None, (tmp_path / "prefect-server.log").read_text()
            try:
                if api(url, "/health") is True:
                    break
            except OSError:
                pass
            assert time.monotonic() < give_up, "prefect server did not start in 120 s"
            time.sleep(0.3)
        yield url
    finally:
        stop(process)
        log.close()


class Schedule:
    """`ride-duration loop serve --interval 2` reporting to the server."""

    def __init__(self, root: Path, url: str, mirror_url: str):
        self.root, self.url = root, url
        self.command = [
            sys.executable,
            "-m",
            "ride_duration",
            "loop",
            "serve",
            "--interval",
            "2",
            "--rmse-ratio",
            "1.05",
            "--data-dir",
            str(root / "data"),
            "--model-dir",
            str(root / "models"),
            "--reports-dir",
            str(root / "reports"),
            "--base-url",
            mirror_url,
            "--tracking-uri",
            f"sqlite:///{root / 'mlflow.db'}",
        ]
        self.env = os.environ | {
            "PREFECT_API_URL": url,
            "PREFECT_HOME": str(root / "prefect-client"),
            "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        }
        self.process = None

    def start(self) -> None:
        self.log = open(self.root / f"loop-{time.monotonic_ns()}.log", "w+")  # noqa: SIM115
        self.process = subprocess.Popen(
            self.command,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            env=self.env,
            start_new_session=True,
        )

    def stop(self, sig=signal.SIGTERM) -> int:
        return stop(self.process, sig)  # the log stays open, to be read

    def runs(self, *states: str) -> list[dict]:
        body = {"flow_runs": {"state": {"type": {"any_": list(states)}}}, "limit": 200}
        return api(self.url, "/flow_runs/filter", body)

    def decided(self) -> dict[str, str]:
        """month -> the completed run's message, for the months decided (not the waits)."""
        out = {}
        for run in self.runs("COMPLETED"):
            message = run["state"]["message"] or ""
            if message[:7] in MONTHS + ("2021-02",) and "not published" not in message:
                out[message[:7]] = message
        return out

    def wait_for(self, month: str, seconds: float = 120) -> str:
        give_up = time.monotonic() + seconds
        while time.monotonic() < give_up:
            assert self.process.poll() is None, self.output()
            if month in (found := self.decided()):
                return found[month]
            time.sleep(0.5)
        raise AssertionError(f"{month} was not decided in {seconds} s: {self.output()[-3000:]}")

    def output(self) -> str:
        self.log.flush()
        self.log.seek(0)
        return self.log.read()


def registry(uri: str):
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    versions = client.search_model_versions(f"name='{NAME}'")
    champion = client.get_model_version_by_alias(NAME, "champion").version
    return versions, str(champion)


def test_the_schedule_decides_each_month_as_it_is_published(prefect_server, tlc_dir, tmp_path):
    data = copy_months(tlc_dir, tmp_path / "data", LESSON_MONTHS[0])
    published = copy_months(tlc_dir, tmp_path / "tlc", *LESSON_MONTHS)
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    with serving(published) as mirror:
        schedule = Schedule(tmp_path, prefect_server, mirror.url)
        schedule.start()
        try:
            champions = {}
            first = schedule.wait_for("2021-02")
            assert first.startswith("2021-02: first champion"), first
            champions["2021-02"] = registry(uri)[1]
            # Nothing newer is out: the next runs complete, saying so.
            give_up = time.monotonic() + 60
            while not any(
                r["state"]["message"] == "2021-03: not published yet; nothing to do"
                for r in schedule.runs("COMPLETED")
            ):
                assert time.monotonic() < give_up, schedule.output()
                time.sleep(0.5)
            shutil.copyfile(tlc_dir / FILES[0], published / FILES[0])  # TLC publishes March
            assert schedule.wait_for("2021-03").startswith("2021-03: within thresholds")
            champions["2021-03"] = registry(uri)[1]
            # Publish April and kill the schedule while its run works on it.
            shutil.copyfile(tlc_dir / FILES[1], published / FILES[1])
            give_up = time.monotonic() + 120
            while not [r for r in schedule.runs("RUNNING") if r["state"]["name"] == "Running"]:
                assert time.monotonic() < give_up, schedule.output()
                time.sleep(0.2)
            time.sleep(1.0)  # inside the month's tasks
            schedule.stop(signal.SIGKILL)  # the schedule and its run, killed
        finally:
            if schedule.process.poll() is None:
                schedule.stop(signal.SIGKILL)
        assert "2021-04" not in schedule.decided()
        # Restarted, the schedule marks the killed run crashed and decides April, once,
        # registering nothing twice; SIGTERM then stops it cleanly.
        schedule.start()
        try:
            april = schedule.wait_for("2021-04")
            crashed = schedule.runs("CRASHED")
        finally:
            assert schedule.stop(signal.SIGTERM) == 0, schedule.output()[-3000:]
    assert len(crashed) == 1 and "schedule was killed" in crashed[0]["state"]["message"]
    assert "Traceback" not in schedule.output()
    # The champion moved exactly when a decision said so.
    assert april.startswith("2021-04: promoted"), april
    versions, champion = registry(uri)
    assert (champions["2021-02"], champions["2021-03"], champion) == ("1", "1", "2")
    for month in ("2021-02", "2021-04"):
        made = [v for v in versions if v.tags.get("retrain.month") == month]
        assert len(made) == 1, (month, [v.version for v in made])
    # Each decided month has its artifacts.
    keys = [f"retrain-green-{m}" for m in ("2021-02", *MONTHS)]
    found = api(prefect_server, "/artifacts/filter", {"artifacts": {"key": {"any_": keys}}})
    assert {a["key"] for a in found} >= set(keys)
    assert (data / FILES[1]).is_file()
