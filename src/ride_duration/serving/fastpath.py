"""One ride's ``POST /predict`` answered before FastAPI's middleware and routing.

A single ride takes some 50 µs to read, predict, record and count, and FastAPI's stack
around it (its error and telemetry middleware, the router, the endpoint's wrappers) took a
third of the worker's time per request, more than the prediction. The common request (one
ride, as JSON, no query string, a small body with its length declared) is answered here,
through the same ``answering.answer`` the route calls, with the same body and headers, and
counted for ``/metrics`` as ``Measured`` counts the route. Anything else, and any ride that
is not valid, goes on to FastAPI unchanged, the body already read replayed to it: its
answers (422, 413, 415, batches, intervals, explanations) are the route's own.
"""

from __future__ import annotations

import time

from pydantic import ValidationError

from .answering import REQUEST_ID, Recording, answer, missing_fields, request_id
from .schemas import JSON, RIDE

# A ride is under 200 bytes; a bigger body (or one that does not declare its length) is
# left to the route and its limits.
MAX_FAST_BODY = 4096
_JSON = JSON.encode()
_REQUEST_ID = REQUEST_ID.encode()


def _replaying(messages: list[dict], receive):
    """``receive`` with the messages already read given back first."""
    pending = list(messages)

    async def replayed():
        return pending.pop(0) if pending else await receive()

    return replayed


class OneRide:
    """The fast path of the service for a model ``source``: ``await one_ride(scope,
    receive, send)`` answers and returns None, or returns the ``receive`` to hand on."""

    def __init__(self, source, log, measured, made):
        self.source, self.log, self.measured, self.made = source, log, measured, made

    @staticmethod
    def applies(scope) -> bool:
        return (
            scope["type"] == "http"
            and scope["path"] == "/predict"
            and scope["method"] == "POST"
            and not scope.get("query_string")
        )

    async def __call__(self, scope, receive, send):
        start, received = time.perf_counter(), time.time()
        headers = dict(scope["headers"])
        declared = headers.get(b"content-type")
        length = headers.get(b"content-length", b"")
        if (declared is not None and declared.split(b";", 1)[0].strip().lower() != _JSON) or not (
            length.isdigit() and int(length) <= MAX_FAST_BODY
        ):
            return receive
        messages, raw = [], b""
        while True:
            message = await receive()
            messages.append(message)
            if message["type"] != "http.request":
                return _replaying(messages, receive)
            raw += message.get("body", b"")
            if not message.get("more_body") or len(raw) > MAX_FAST_BODY:
                break
        served = self.source.current  # once: a swap mid-request changes nothing here
        try:
            ride = RIDE.validate_json(raw) if raw.lstrip()[:1] == b"{" else None
        except ValidationError:
            ride = None
        if ride is None or len(raw) > MAX_FAST_BODY or missing_fields(served.model, [ride], False):
            return _replaying(messages, receive)
        given = headers.get(_REQUEST_ID)
        chosen = request_id(given.decode("latin-1") if given else None, self.made)
        status = 500  # unless the answer starts
        try:
            recording = Recording(self.log, self.measured, received, chosen)
            body = answer(served, [ride], raw, False, None, False, recording)
            await send(
                {
                    "type": "http.response.start",
                    "status": 200,
                    "headers": [
                        (b"content-length", str(len(body)).encode()),
                        (b"content-type", _JSON),
                        (_REQUEST_ID, chosen.encode()),
                    ],
                }
            )
            status = 200
            await send({"type": "http.response.body", "body": body})
        finally:
            if self.measured is not None:
                self.measured.request("/predict", "POST", status, time.perf_counter() - start)
        return None
