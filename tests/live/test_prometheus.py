"""The live loop end to end: the service with two workers, Prometheus scraping it with the
project's rules, Alertmanager posting to a webhook. Rides of the month after the model's
training month flow, then rides of two years on: Prometheus sees every request of both
workers, the drift alert goes pending then firing, Alertmanager delivers it, and
``monitor --live`` on the recorded rides passes the first and alerts on the second. Every
loop is bounded in count and time; every server is stopped."""

from __future__ import annotations

import datetime as dt
import itertools
import time

import pytest

from tests.helpers import run_cli
from tests.live.conftest import month_rides
from tests.live.stack import Stack
from tests.serve.test_service import Service, free_port

DRIFT = "RideDurationPredictionsDrift"
BATCH = 50


def send(service, rides, seconds: float, until=None) -> tuple[int, int]:
    """Batches of rides for ``seconds`` (or until ``until()`` holds): (requests, rides)."""
    requests = sent = 0
    deadline = time.monotonic() + seconds
    for start in itertools.cycle(range(0, len(rides) - BATCH, BATCH)):
        if time.monotonic() > deadline or (until is not None and until()):
            break
        status, _ = service.request("POST", "/predict", rides[start : start + BATCH])
        assert status == 200
        requests, sent = requests + 1, sent + BATCH
    return requests, sent


@pytest.mark.tlc_files("green_tripdata_2023-01.parquet")
def test_prometheus_sees_both_workers_and_the_drift_alert_reaches_the_webhook(
    live_models, tlc_dir, tmp_path
):
    normal = month_rides(tlc_dir, "2021-02", 6_000, pickups=False)
    shifted = month_rides(tlc_dir, "2023-01", 6_000, pickups=False)
    service = Service(
        live_models / "models" / "lin_reg.bin",
        free_port(),
        workers=2,
        args=("--log-dir", str(tmp_path / "logs"), "--no-access-log"),
    )
    stack = None
    try:
        stack = Stack(tmp_path / "stack", f"127.0.0.1:{service.port}")
        requests, rides = send(service, normal, seconds=8)
        # Prometheus' sum over the one target equals every request sent, whichever of the
        # two workers answered it (and the scrapes, which any worker answers, add up too).
        query = 'sum(ride_duration_http_requests_total{route="/predict"})'
        give_up = time.monotonic() + 20
        while stack.value(query) != requests and time.monotonic() < give_up:
            time.sleep(0.5)
        assert stack.value(query) == requests
        assert stack.value("sum(ride_duration_rides_scored_total)") == rides
        assert stack.value("ride_duration_model_info") == 1
        assert stack.alert_state(DRIFT) is None
        boundary = dt.datetime.now(dt.timezone.utc)

        states = []

        def delivered() -> bool:
            state = stack.alert_state(DRIFT)
            if not states or states[-1] != state:
                states.append(state)
            return bool(stack.webhook.alerts(DRIFT))

        send(service, shifted, seconds=60, until=delivered)
        assert [s for s in states if s] == ["pending", "firing"], states
        (alert,) = stack.webhook.alerts(DRIFT)[:1]
        assert alert["labels"]["severity"] == "warning"
        assert "moved" in alert["annotations"]["summary"]
        shift = stack.value("ride_duration:predicted_duration_mean:relative_shift_quick")
        assert shift is not None and shift < -0.10  # shorter rides: a lower mean
        for other in ("RideDurationHighErrorShare", "RideDurationPredictionLogDrops"):
            assert stack.alert_state(other) is None
        output = service.output()
    finally:
        if stack is not None:
            stack.stop()
        service.stop()  # SIGINT: the workers write what they hold
    assert "Traceback" not in output, output

    def monitored(*window: str) -> int:
        result = run_cli(
            "monitor",
            "--live",
            str(tmp_path / "logs"),
            *window,
            "--model",
            str(live_models / "models" / "lin_reg.bin"),
            "--data-dir",
            str(live_models / "data"),
            "--offline",
            "--reports-dir",
            str(tmp_path / "reports"),
        )
        assert result.returncode in (0, 3), result.stderr
        return result.returncode

    assert monitored("--until", boundary.isoformat()) == 0
    assert monitored("--since", boundary.isoformat()) == 3
