"""One ride's POST /predict answered before FastAPI's stack (``serving.fastpath``): the same
bytes and headers as the route, recorded and counted the same, and everything it does not
take (invalid rides, other content types, bodies in pieces, a disconnect) handed on to the
route with the body it already read."""

from __future__ import annotations

import asyncio
import json
import time

import pandas as pd
import pytest
from fastapi.testclient import TestClient
from starlette.requests import ClientDisconnect

from ride_duration.modeling.train import TrainOptions, train
from ride_duration.serving import fastpath, service
from ride_duration.serving.service import create_app

RIDE = {"PULocationID": 1, "DOLocationID": 2, "trip_distance": 1.5}


@pytest.fixture
def app(tiny_months, tmp_path, monkeypatch):
    options = TrainOptions(data_dir=tiny_months, model_dir=tmp_path / "models", offline=True,
                           quiet=True)  # fmt: skip
    train(options)
    calls = {"fast": 0, "route": 0}

    def counted(name, real):
        def answer(*args):
            calls[name] += 1
            return real(*args)

        return answer

    monkeypatch.setattr(fastpath, "answer", counted("fast", fastpath.answer))
    monkeypatch.setattr(service, "answer", counted("route", service.answer))
    made = create_app(tmp_path / "models" / "lin_reg.bin", tmp_path / "log", True)
    made.calls, made.log_dir = calls, tmp_path / "log"
    return made


def test_the_fast_answer_is_the_routes_to_the_byte(app):
    with TestClient(app) as client:
        headers = {"X-Request-ID": "same-id"}
        fast = client.post("/predict", json=RIDE, headers=headers)
        routed = client.post("/predict?explain=false", json=RIDE, headers=headers)
        assert app.calls == {"fast": 1, "route": 1}
        assert fast.status_code == routed.status_code == 200
        assert fast.content == routed.content
        assert dict(fast.headers) == dict(routed.headers)
        made = client.post("/predict", json=RIDE)  # no id given: one is made, as the route does
        assert made.headers["x-request-id"] and made.headers["x-request-id"] != "same-id"
        # Counted as the route is counted (the counts are folded each second).
        line = 'ride_duration_http_requests_total{method="POST",route="/predict",status="200"} 3.0'
        give_up = time.monotonic() + 5
        while line not in client.get("/metrics").text and time.monotonic() < give_up:
            time.sleep(0.1)
        assert line in client.get("/metrics").text
    # Recorded as the route records: the three rides, with their request ids.
    log = pd.concat(pd.read_parquet(f) for f in sorted(app.log_dir.rglob("*.parquet")))
    assert len(log) == 3 and (log["request_id"] == "same-id").sum() == 2


@pytest.mark.parametrize(
    "body, content_type, status",
    [
        (b'{"PULocationID": 1, "DOLocationID": 2}', "application/json", 422),  # no distance
        (b'{"PULocationID": 1, "DOLocationID": 2, "trip_distance": NaN}', "application/json", 422),
        (b'{"PULocationID": "one"', "application/json", 422),
        (json.dumps(RIDE).encode(), "text/plain", 415),
        (json.dumps([RIDE, RIDE]).encode(), "application/json", 200),
        (json.dumps(RIDE).encode(), "application/json; charset=utf-8", 200),
    ],
)
def test_what_it_does_not_take_is_the_routes_answer(app, body, content_type, status):
    with TestClient(app) as client:
        answer = client.post("/predict", content=body, headers={"Content-Type": content_type})
        assert answer.status_code == status, answer.text
        if status == 422:
            assert app.calls == {"fast": 0, "route": 0}  # refused by the route's checks
            assert answer.json()["detail"]


def _call(app, messages: list[dict], headers: list[tuple[bytes, bytes]]) -> list[dict]:
    """One request straight through ASGI: its body as the given messages."""
    sent, pending = [], list(messages)

    async def receive():
        return pending.pop(0) if pending else {"type": "http.disconnect"}

    async def send(message):
        sent.append(message)

    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST",
        "scheme": "http", "path": "/predict", "raw_path": b"/predict", "query_string": b"",
        "root_path": "", "headers": headers, "client": ("127.0.0.1", 1), "server": ("t", 80),
    }  # fmt: skip
    asyncio.run(app(scope, receive, send))
    return sent


def test_a_body_in_pieces_is_read_whole_and_a_disconnect_handed_on(app):
    body = json.dumps(RIDE).encode()
    length = [(b"content-length", str(len(body)).encode())]
    with TestClient(app):  # started: the model source and the log are running
        pieces = [
            {"type": "http.request", "body": body[:10], "more_body": True},
            {"type": "http.request", "body": body[10:], "more_body": False},
        ]
        sent = _call(app, pieces, length)
        assert sent[0]["status"] == 200 and json.loads(sent[1]["body"])["duration"] > 0
        assert app.calls["fast"] == 1
        # No Content-Length (chunked): the route reads it.
        sent = _call(app, pieces, [(b"transfer-encoding", b"chunked")])
        assert sent[0]["status"] == 200 and app.calls == {"fast": 1, "route": 1}
        # The client leaves mid-body: handed on, and the route sees the disconnect.
        with pytest.raises(ClientDisconnect):
            _call(app, pieces[:1], length)
        assert app.calls == {"fast": 1, "route": 1}
