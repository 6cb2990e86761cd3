"""GET /metrics: Prometheus' text format and conventions, counts that equal what was asked and
answered, the model version served, and sums over several workers."""

from __future__ import annotations

import json
import time
from concurrent.futures import ThreadPoolExecutor
from types import SimpleNamespace

import pytest
from fastapi.testclient import TestClient
from prometheus_client import CollectorRegistry, Histogram, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from ride_duration.serving.metrics import MINUTES_BUCKETS, ServiceMetrics, _add_observations
from ride_duration.serving.service import create_app
from tests.live.conftest import month_rides
from tests.serve.test_service import Service, free_port

# Reads no real file but the lesson months: CI's newcomer run with them skips these.
pytestmark = pytest.mark.lesson_months_only


def families(text: str) -> dict:
    return {family.name: family for family in text_string_to_metric_families(text)}


def value(family, suffix: str = "", **labels) -> float:
    return sum(
        s.value
        for s in family.samples
        if s.name == family.name + suffix and all(s.labels.get(k) == v for k, v in labels.items())
    )


def test_the_metrics_count_what_was_asked_and_answered_in_prometheus_conventions(
    live_models, tlc_dir, tmp_path
):
    rides = month_rides(tlc_dir, "2021-02", 250, pickups=False)
    with TestClient(create_app(live_models / "models" / "lin_reg.bin", tmp_path)) as client:
        for ride in rides[:50]:
            assert client.post("/predict", json=ride).status_code == 200
        assert client.post("/predict", json=rides[50:]).status_code == 200
        assert client.post("/predict", json={"PULocationID": "x"}).status_code == 422
        assert client.post("/predict", content=b"a=1", headers={"Content-Type": "text/plain"})
        assert client.get("/no/such/page").status_code == 404
        assert client.get("/health").status_code == 200
        answer = client.get("/metrics")
    assert answer.headers["content-type"].startswith("text/plain; version=0.0.4")
    found = families(answer.text)
    requests = found["ride_duration_http_requests"]
    assert requests.type == "counter"
    assert value(requests, "_total", route="/predict", method="POST", status="200") == 51
    assert value(requests, "_total", route="/predict", status="422") == 1
    assert value(requests, "_total", route="/predict", status="415") == 1
    assert value(requests, "_total", route="other", status="404") == 1  # not one series a path
    latency = found["ride_duration_http_request_duration_seconds"]
    assert latency.type == "histogram"
    assert value(latency, "_count", route="/predict") == 53
    minutes = found["ride_duration_predicted_duration_minutes"]
    assert value(minutes, "_count") == 250 == value(found["ride_duration_rides_scored"], "_total")
    assert value(minutes, "_bucket", le="+Inf") == 250
    info = found["ride_duration_model_info"]
    (served,) = [s for s in info.samples if s.value == 1]
    assert served.labels == {
        "version": client.get("/health").json()["model_version"],
        "taxi": "green",
        "features": "lesson",
    }
    metadata = json.loads((live_models / "models" / "lin_reg.json").read_text())
    reference = found["ride_duration_reference_predicted_duration_mean_minutes"]
    assert value(reference) == pytest.approx(metadata["metrics"]["train_mean_predicted"])
    for name, family in found.items():  # Prometheus' naming conventions
        assert name.startswith("ride_duration_")
        if family.type == "counter":
            named = [s.name for s in family.samples if not s.name.endswith("_created")]
            assert all(n.endswith("_total") for n in named)
        if family.type == "histogram":
            assert name.endswith(("_seconds", "_minutes"))
    logged = found["ride_duration_prediction_log_written_rides"]
    assert value(logged, "_total") + value(found["ride_duration_prediction_log_queue_rides"]) == 250


def test_counts_added_at_once_equal_observing_each_value():
    values = [0.5, 1.0, 3.2, 17.0, 59.9, 60.0, 61.0, 1e9, 12.5, 12.5]
    one, many = CollectorRegistry(), CollectorRegistry()
    each = Histogram("m_minutes", "d", buckets=MINUTES_BUCKETS, registry=one)
    for v in values:
        each.observe(v)
    at_once = Histogram("m_minutes", "d", buckets=MINUTES_BUCKETS, registry=many)
    import bisect

    counts = [0] * (len(MINUTES_BUCKETS) + 1)
    for v in values:
        counts[bisect.bisect_left(MINUTES_BUCKETS, v)] += 1
    _add_observations(at_once, counts, sum(values))

    def lines(registry) -> list[str]:
        text = generate_latest(registry).decode()
        return [line for line in text.splitlines() if "_created" not in line]

    assert lines(one) == lines(many)


def test_a_hot_swap_shows_as_the_version_served():
    def served(version, mean):
        metadata = {"taxi": "green", "features": {"set": "lesson"}, "metrics": {}}
        metadata["metrics"]["train_mean_predicted"] = mean
        return SimpleNamespace(version=version, metadata=metadata)

    source = SimpleNamespace(current=served("m/1/a", 16.0))
    metrics = ServiceMetrics(source)
    metrics.fold()
    source.current = served("m/2/b", 14.5)
    found = families(metrics.exposition().decode())
    info = {s.labels["version"]: s.value for s in found["ride_duration_model_info"].samples}
    assert info == {"m/1/a": 0.0, "m/2/b": 1.0}
    assert value(found["ride_duration_reference_predicted_duration_mean_minutes"]) == 14.5


def test_two_workers_add_up_in_every_scrape(live_models, tlc_dir, tmp_path):
    """Each scrape is answered by one worker; its counts are the sums of both."""
    rides = month_rides(tlc_dir, "2021-02", 400, pickups=False)
    service = Service(
        live_models / "models" / "lin_reg.bin",
        free_port(),
        workers=2,
        args=("--log-dir", str(tmp_path / "logs"), "--no-access-log"),
    )
    try:
        tokens = set()
        for ride in rides[:300]:
            status, _ = service.request("POST", "/predict", ride)
            assert status == 200
        for start in range(300, 400, 25):
            assert service.request("POST", "/predict", rides[start : start + 25])[0] == 200
        # Which worker answered shows in the request ids it makes: a token of its own. The
        # kernel gives a new connection to whichever worker waits for one, and an idle worker
        # answers a ride in microseconds: so a batch of 10,000 rides keeps one worker busy
        # while seven single rides arrive on new connections, until both have answered
        # (bounded in count and time).
        big, requests, scored, give_up = rides * 25, 0, 0, time.monotonic() + 30
        with ThreadPoolExecutor(8) as pool:
            while len(tokens) < 2 and requests < 800 and time.monotonic() < give_up:
                busy = pool.submit(_answer_id, service, big)
                time.sleep(0.003)
                ids = list(pool.map(lambda _: _answer_id(service, rides[0]), range(7)))
                ids.append(busy.result())
                requests, scored = requests + len(ids), scored + 7 + len(big)
                tokens |= {request_id.split("-")[0] for request_id in ids}
        assert len(tokens) == 2, tokens
        expected = (304 + requests, 400 + scored)
        give_up, totals = time.monotonic() + 15, None
        while time.monotonic() < give_up:
            found = families(service.request("GET", "/metrics")[1].decode())
            totals = (
                value(found["ride_duration_http_requests"], "_total", route="/predict"),
                value(found["ride_duration_rides_scored"], "_total"),
            )
            if totals == expected:  # the other worker folds its counts each second
                break
            time.sleep(0.3)
        assert totals == expected
        info = [s for s in found["ride_duration_model_info"].samples if s.value == 1]
        assert len(info) == 1  # one version, whichever worker tells
        output = service.output()
    finally:
        service.stop()
    assert "Traceback" not in output, output


def _answer_id(service, ride) -> str:
    import http.client

    connection = http.client.HTTPConnection("127.0.0.1", service.port, timeout=30)
    try:
        connection.request(
            "POST", "/predict", json.dumps(ride), {"Content-Type": "application/json"}
        )
        response = connection.getresponse()
        response.read()
        return response.getheader("X-Request-ID")
    finally:
        connection.close()
