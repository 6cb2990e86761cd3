"""The real service: `ride-duration serve` in a subprocess on a free 127.0.0.1 port, called
over HTTP, stopped afterwards. Predictions equal the pipeline's; bad input is the client's
error (4xx naming the field), never a 500 nor a traceback in the log."""

import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time

import numpy as np
import pytest

from ride_duration import load_model
from ride_duration.data.dataset import load_prepared, zone_ids
from ride_duration.features.rich import RAW_COLUMNS
from ride_duration.modeling.model import load
from tests.helpers import assert_clean_failure, copy_months, run_cli, train_with_cli

# Reads no real file but the lesson months: CI's newcomer run with them skips these.
pytestmark = pytest.mark.lesson_months_only

LESSON_FILES = ("green_tripdata_2021-01.parquet", "green_tripdata_2021-02.parquet")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Service:
    """``ride-duration serve`` in a process of its own (``args``: more of its flags; ``env``:
    its environment's changes; ``files``: a limit on its open files, soft and hard)."""

    def __init__(self, model, port, workers=1, args=(), env=None, files=None):
        self.port = port
        # A file without a name: the server's output, gone when the test closes it.
        self.log = tempfile.TemporaryFile("w+")  # noqa: SIM115

        def limited():
            if files is not None:
                import resource

                resource.setrlimit(resource.RLIMIT_NOFILE, (files, files))

        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "ride_duration",
                "serve",
                "--model",
                str(model),
                "--port",
                str(port),
                "--workers",
                str(workers),
                *args,
            ],
            stdout=self.log,
            stderr=subprocess.STDOUT,
            env={**os.environ, **(env or {})},
            preexec_fn=limited if files is not None else None,
        )
        give_up = time.monotonic() + 60
        while True:
            try:
                if self.request("GET", "/health")[0] == 200:
                    break
            except OSError:
                pass
            assert self.process.poll() is None, self.output()
            assert time.monotonic() < give_up, "the service did not start in 60 s"
            time.sleep(0.1)

    def request(self, method, path, body=None, headers=None):
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        try:
            data = body if isinstance(body, (bytes, type(None))) else json.dumps(body).encode()
            connection.request(method, path, body=data, headers=headers or {})
            response = connection.getresponse()
            payload = response.read()
            kind = response.getheader("Content-Type", "")
            return response.status, json.loads(payload) if "json" in kind and payload else payload
        finally:
            connection.close()

    def output(self) -> str:
        self.log.flush()
        self.log.seek(0)
        return self.log.read()

    def stop(self):
        self.process.send_signal(signal.SIGINT)
        try:
            self.process.wait(timeout=20)
        finally:
            self.process.kill()
            self.log.close()


@pytest.fixture(scope="module")
def models(tlc_dir, tmp_path_factory):
    root = tmp_path_factory.mktemp("serve")
    data = copy_months(tlc_dir, root / "data", *LESSON_FILES)
    train_with_cli(data, root / "models", "lesson", "rich")
    return root


@pytest.fixture(scope="module", params=["lesson", "rich"])
def service(request, models):
    name = {"lesson": "lin_reg", "rich": "rich_ridge"}[request.param]
    running = Service(models / "models" / f"{name}.bin", free_port())
    running.kind = request.param
    running.model = models / "models" / f"{name}.bin"
    yield running
    log = running.output()
    running.stop()
    assert "Traceback" not in log and " 500 " not in log, log


def validation_rides(tlc_dir, n=300):
    frame = load_prepared("green", "2021-02", tlc_dir)[0].iloc[:n]
    rides = []
    for pu, do, miles, when in zip(
        zone_ids(frame["PULocationID"]),
        zone_ids(frame["DOLocationID"]),
        frame["trip_distance"],
        frame["pickup_datetime"],
    ):
        rides.append(
            {
                "PULocationID": int(pu),
                "DOLocationID": int(do),
                "trip_distance": float(miles),
                "pickup_datetime": when.isoformat(),
            }
        )
    return frame, rides


def pipeline_predictions(service, frame, rides):
    pipeline = load_model(service.model)
    if service.kind == "rich":
        return pipeline.predict(frame[list(RAW_COLUMNS)])
    return pipeline.predict(
        [
            {
                "PU_DO": f"{r['PULocationID']}_{r['DOLocationID']}",
                "trip_distance": r["trip_distance"],
            }
            for r in rides
        ]
    )


def body_of(service, ride):
    return (
        ride
        if service.kind == "rich"
        else {k: v for k, v in ride.items() if k != "pickup_datetime"}
    )


def test_one_ride_and_a_batch_equal_the_pipeline(service, tlc_dir):
    frame, rides = validation_rides(tlc_dir)
    expected = pipeline_predictions(service, frame, rides)
    status, answer = service.request("POST", "/predict", body_of(service, rides[0]))
    assert status == 200, answer
    assert answer["duration"] == pytest.approx(expected[0], abs=1e-9)
    assert answer["model_version"].startswith(service.model.stem + "-")
    status, answer = service.request("POST", "/predict", [body_of(service, r) for r in rides])
    assert status == 200, answer
    np.testing.assert_allclose(answer["durations"], expected, atol=1e-9, rtol=0)


def test_intervals_when_asked_and_the_course_shape_otherwise(service, tlc_dir):
    """?interval=LEVEL adds [lower, upper] around each duration, equal to the saved model's
    own intervals; without it the answer keeps the course's two keys."""
    frame, rides = validation_rides(tlc_dir)
    model, _ = load(service.model)
    one = body_of(service, rides[0])
    status, plain = service.request("POST", "/predict", one)
    assert status == 200 and set(plain) == {"duration", "model_version"}
    status, answer = service.request("POST", "/predict?interval=0.8", one)
    assert status == 200, answer
    lower, upper = model.predict_intervals([answer["duration"]], 0.8, [one])
    assert answer["interval"] == pytest.approx([lower[0], upper[0]], abs=1e-9)
    assert answer["interval"][0] <= answer["duration"] <= answer["interval"][1]
    batch = [body_of(service, r) for r in rides]
    status, answer = service.request("POST", "/predict?interval=0.5", batch)
    assert status == 200 and len(answer["intervals"]) == len(rides)
    lower, upper = model.predict_intervals(answer["durations"], 0.5, batch)
    np.testing.assert_allclose(np.array(answer["intervals"]), np.c_[lower, upper], atol=1e-9)
    for level in ("0", "1", "1.5", "-1", "nan", "inf", "eighty"):
        status, answer = service.request("POST", f"/predict?interval={level}", one)
        assert status == 422 and answer["detail"][0]["loc"] == ["query", "interval"], answer


def test_health_model_and_docs(service):
    assert service.request("GET", "/health")[1]["status"] == "ok"
    status, meta = service.request("GET", "/model")
    assert status == 200 and meta["taxi"] == "green" and meta["train_month"] == "2021-01"
    assert meta["features"]["set"] == service.kind and "val_rmse" in meta["metrics"]
    # The intervals' method and the names of their scales' tables, not the tables.
    assert meta["intervals"]["scales"]["factors"][:2] == ["pu", "do"]
    assert not {"quantiles", "untimed", "lower", "upper"} & {
        *meta["intervals"],
        *meta["intervals"]["scales"],
    }
    status, page = service.request("GET", "/docs")
    assert status == 200 and b"swagger" in page.lower()
    status, spec = service.request("GET", "/openapi.json")
    assert "PULocationID" in json.dumps(spec)


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
def test_docs_load_with_no_request_leaving_the_machine(service, page):
    """Every script, stylesheet and icon the page names is a path on this server, and the
    server answers it: no CDN, so the page works offline."""
    import re

    status, html = service.request("GET", page)
    assert status == 200
    text = html.decode()
    assets = re.findall(r"""(?:src|href)\s*=\s*["']([^"']+)["']""", text)
    assets += re.findall(r"""url:\s*["']([^"']+)["']""", text)  # Swagger UI's openapi.json
    assert len(assets) >= 2, text
    for asset in assets:
        assert asset.startswith("/") and not asset.startswith("//"), asset
        got, body = service.request("GET", asset)
        assert got == 200 and len(body) > 0, asset
    assert "googleapis" not in text and "cdn." not in text


def test_the_openapi_document_lists_the_real_refusals(service):
    _, spec = service.request("GET", "/openapi.json")
    answers = spec["paths"]["/predict"]["post"]["responses"]
    assert {"200", "413", "422"} <= set(answers)
    status, refused = service.request("POST", "/predict", {"PULocationID": "x"})
    assert status == 422 and set(refused["detail"][0]) == {"loc", "msg", "type"}


def test_every_reference_in_the_openapi_document_resolves(service):
    """Swagger UI shows a red resolver error for a $ref that points nowhere (a schema pasted
    in with its own $defs): every one must resolve within the document."""
    _, spec = service.request("GET", "/openapi.json")

    def references(node):
        if isinstance(node, dict):
            yield from ([node["$ref"]] if "$ref" in node else [])
            for value in node.values():
                yield from references(value)
        elif isinstance(node, list):
            for value in node:
                yield from references(value)

    found = set(references(spec))
    assert "#/components/schemas/Ride" in found
    for reference in found:
        assert reference.startswith("#/"), reference
        node = spec
        for part in reference[2:].split("/"):
            assert part in node, f"{reference} does not resolve"
            node = node[part]
    batch = spec["paths"]["/predict"]["post"]["requestBody"]["content"]["application/json"]
    assert batch["schema"]["anyOf"][1]["items"] == {"$ref": "#/components/schemas/Ride"}
    level, explain = spec["paths"]["/predict"]["post"]["parameters"]
    assert level["name"] == "interval" and level["schema"]["exclusiveMaximum"] == 1
    assert explain["name"] == "explain" and explain["schema"]["type"] == "boolean"
    answers = spec["paths"]["/predict"]["post"]["responses"]["200"]["content"]
    assert "#/components/schemas/Part" in found and "application/json" in answers


def test_a_missing_zone_is_the_models_minus_one(service):
    ride = {"DOLocationID": 151, "trip_distance": 2.0, "pickup_datetime": "2021-02-01T08:00"}
    status, answer = service.request("POST", "/predict", body_of(service, ride))
    _, explicit = service.request("POST", "/predict", body_of(service, ride | {"PULocationID": -1}))
    assert status == 200 and answer["duration"] == explicit["duration"]


GOOD = {
    "PULocationID": 43,
    "DOLocationID": 151,
    "trip_distance": 1.8,
    "pickup_datetime": "2021-02-01T08:15:00",
}
BAD_BODIES = {
    "malformed json": (b'{"PULocationID": 4', 422, "body"),
    "empty body": (b"", 422, "body"),
    "a string": (b'"hello"', 422, "body"),
    "a number": (b"42", 422, "body"),
    "null": (b"null", 422, "body"),
    "zone as text": (GOOD | {"PULocationID": "forty-three"}, 422, "PULocationID"),
    "zone as a float": (GOOD | {"DOLocationID": 1.5}, 422, "DOLocationID"),
    "zone as a boolean": (GOOD | {"PULocationID": True}, 422, "PULocationID"),
    "zone out of range": (GOOD | {"PULocationID": 10**30}, 422, "PULocationID"),
    "negative distance": (GOOD | {"trip_distance": -1.0}, 422, "trip_distance"),
    "NaN distance": (b'{"PULocationID": 1, "trip_distance": NaN}', 422, "trip_distance"),
    "infinite distance": (b'{"PULocationID": 1, "trip_distance": Infinity}', 422, "trip_distance"),
    "absurd distance": (GOOD | {"trip_distance": 1e300}, 422, "trip_distance"),
    "distance over a billion miles": (GOOD | {"trip_distance": 2e9}, 422, "trip_distance"),
    "distance as text": (GOOD | {"trip_distance": "far"}, 422, "trip_distance"),
    "distance missing": (
        {k: v for k, v in GOOD.items() if k != "trip_distance"},
        422,
        "trip_distance",
    ),
    "unknown field": (GOOD | {"PULocationId": 43}, 422, "PULocationId"),
    "bad pickup time": (GOOD | {"pickup_datetime": "soon"}, 422, "pickup_datetime"),
    "batch of non-objects": ([1, 2], 422, "body"),
    "bad ride in a batch": ([GOOD, GOOD | {"trip_distance": -5}], 422, "trip_distance"),
    "batch too large": ([GOOD] * 10_001, 422, "10000"),
    "body too large": (b"[" + b" " * (5 << 20) + b"]", 413, "bytes"),
}


@pytest.mark.parametrize("case", BAD_BODIES, ids=list(BAD_BODIES))
def test_bad_input_is_the_clients_error(service, case):
    body, status, named = BAD_BODIES[case]
    if service.kind == "lesson" and isinstance(body, dict) and named != "pickup_datetime":
        body = {k: v for k, v in body.items() if k != "pickup_datetime"}
    got, answer = service.request("POST", "/predict", body)
    assert got == status, answer
    assert named in json.dumps(answer)


def test_only_rich_needs_the_pickup_time(service):
    ride = {k: v for k, v in GOOD.items() if k != "pickup_datetime"}
    status, answer = service.request("POST", "/predict", [GOOD, ride])
    if service.kind == "lesson":  # the lesson model ignores the time
        assert status == 200 and len(answer["durations"]) == 2
    else:
        assert status == 422 and answer["detail"][0]["loc"] == ["body", 1, "pickup_datetime"]


def test_wrong_method_and_path(service):
    assert service.request("GET", "/predict")[0] == 405
    assert service.request("POST", "/nowhere", GOOD)[0] == 404


def test_concurrent_requests_get_their_own_answers(service, tlc_dir):
    from concurrent.futures import ThreadPoolExecutor

    frame, rides = validation_rides(tlc_dir, n=64)
    expected = pipeline_predictions(service, frame, rides)
    with ThreadPoolExecutor(8) as pool:
        answers = list(
            pool.map(lambda r: service.request("POST", "/predict", body_of(service, r)), rides)
        )
    assert all(status == 200 for status, _ in answers)
    np.testing.assert_allclose([a["duration"] for _, a in answers], expected, atol=1e-9, rtol=0)


def test_a_tampered_model_stops_before_binding(models, tmp_path):
    model = tmp_path / "m.bin"
    model.write_bytes((models / "models/lin_reg.bin").read_bytes() + b"x")
    (tmp_path / "m.json").write_bytes((models / "models/lin_reg.json").read_bytes())
    port = free_port()
    result = run_cli("serve", "--model", str(model), "--port", str(port), timeout=60)
    assert_clean_failure(result, "does not match its sidecar")
    missing = run_cli("serve", "--model", str(tmp_path / "none.bin"), "--port", str(port))
    assert_clean_failure(missing, "model file not found")


def test_a_port_in_use_is_a_clean_error(models):
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        result = run_cli(
            "serve", "--model", str(models / "models/lin_reg.bin"), "--port", str(port)
        )
    assert_clean_failure(result, f"cannot listen on 127.0.0.1:{port}")
