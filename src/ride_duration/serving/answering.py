"""What ``POST /predict`` answers, once its rides are read: the predictions (with intervals
and explanations when asked) as the answer's JSON, the rides recorded in the prediction log
and counted for ``/metrics``. The route (``service``) and the one-ride fast path
(``fastpath``) both answer through ``answer``."""

from __future__ import annotations

import itertools
import secrets
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
from fastapi.exceptions import RequestValidationError

from ..features.columns import RideColumns
from ..modeling.explain import explain_columns
from ..modeling.model import NO_INTERVALS, Model
from .explained import explanations_json
from .schemas import ANSWER

REQUEST_ID = "x-request-id"
MAX_REQUEST_ID = 128


def missing_fields(model: Model, rides: list[dict], batch: bool) -> list[dict]:
    """The fields this model needs that rides leave out, as FastAPI names validation errors."""
    needed = [
        field
        for field, needs in (
            ("trip_distance", model.needs_distance),
            ("pickup_datetime", model.needs_pickup),
        )
        if needs
    ]
    return [
        {
            "loc": ["body", *([i] if batch else []), field],
            "msg": "Field required: this model needs it",
            "type": "missing",
        }
        for i, ride in enumerate(rides)
        for field in needed
        if ride.get(field) is None
    ]


def _intervals(
    model: Model, durations, level: float, rides: RideColumns
) -> tuple[np.ndarray, np.ndarray]:
    if model.intervals is None:
        raise RequestValidationError(
            [{"loc": ["query", "interval"], "msg": NO_INTERVALS, "type": "unavailable"}]
        )
    return model.predict_intervals(durations, level, rides)


@dataclass
class Answer:
    """What a request is answered (``body``, without the version) and what the prediction
    log and the metrics take of it."""

    body: dict
    durations: object  # a list for one ride, an array for a batch
    record: object  # (log, received, request_id, version, level) -> None
    written: bytes = b""  # members of the body already in JSON ("name":value,...)


def _predict_ride(model: Model, ride: dict, level: float | None) -> Answer:
    duration = model.predict_rides([ride])[0]
    body, low, high = {"duration": duration}, None, None
    if level is not None:
        lower, upper = _intervals(model, [duration], level, RideColumns.of([ride]))
        low, high = float(lower[0]), float(upper[0])
        body["interval"] = [low, high]

    def record(log, received, request_id, version, level):
        log.record_ride(received, request_id, version, ride, duration, level, low, high)

    return Answer(body, [duration], record)


def _predict_batch(
    model: Model, rides: list[dict], raw: bytes, level: float | None, explain: bool
) -> Answer:
    # The rides are read into arrays once, for the scorer and the log (a scan of the bytes
    # tells whether any pickup time is there to read).
    columns = RideColumns.of(rides, pickups=b"pickup_datetime" in raw)
    explained = explain_columns(model, columns) if explain else None
    durations = model.predict_columns(columns) if explained is None else explained.predicted
    if durations is None:
        durations = np.array(model.predict_rides(rides))
    body, lower, upper = {"durations": durations.tolist()}, None, None
    if level is not None:
        lower, upper = _intervals(model, durations, level, columns)
        body["intervals"] = [[low, high] for low, high in zip(lower.tolist(), upper.tolist())]

    def record(log, received, request_id, version, level):
        log.record_batch(received, request_id, version, columns, durations, level, lower, upper)

    answer = Answer(body, durations, record)
    if explained is not None:  # the same JSON as the parts' dicts, written from arrays
        answer.written = b'"explanations":' + explanations_json(explained, len(columns))
    elif explain:
        answer.body["explanations"] = [e.as_list() for e in model.explain_rides(rides)]
    return answer


def request_ids():
    """A request id for requests that bring none: this worker's random token and a count."""
    token = secrets.token_hex(4)
    return (f"{token}-{n}" for n in itertools.count(1))


def request_id(given: str | None, made) -> str:
    """The request's own ``X-Request-ID`` when it is a short printable one, else one made."""
    if given and len(given) <= MAX_REQUEST_ID and given.isascii() and given.isprintable():
        return given
    return next(made)


class Recording(NamedTuple):
    """Where a request's rides are recorded and counted (``log`` and ``measured`` None when
    off), and what the log keeps of the request itself."""

    log: object
    measured: object
    received: float  # the request's arrival, seconds since the epoch
    request_id: str


def answer(
    served, rides: list[dict], raw: bytes, batch: bool, level, explain: bool, to: Recording
) -> bytes:
    """The answer's JSON for checked rides of the model ``served`` (``served.model``), the
    rides recorded and counted as ``to`` says."""
    log, measured, received, request_id = to
    model = served.model
    if batch:
        scored = _predict_batch(model, rides, raw, level, explain)
    else:
        scored = _predict_ride(model, rides[0], level)
        if explain:
            scored.body["explanation"] = model.explain_rides(rides)[0].as_list()
    # Serialised by pydantic's encoder: FastAPI's response encoding of a batch costs more
    # than predicting it.
    body = ANSWER.dump_json(scored.body | {"model_version": served.version})
    if scored.written:
        body = body[:-1] + b"," + scored.written + b"}"
    if log is not None:
        scored.record(log, received, request_id, served.version, level)
    if measured is not None:
        measured.scored(scored.durations)
    return body
