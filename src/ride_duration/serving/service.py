"""The model as a web service: ``ride-duration serve`` (FastAPI on uvicorn).

``POST /predict`` takes one ride, ``{"PULocationID": 43, "DOLocationID": 151,
"trip_distance": 1.8}`` (and ``pickup_datetime`` for a rich model), and answers
``{"duration": <minutes>, "model_version": ...}``; a JSON array of rides gets
``{"durations": [...], "model_version": ...}``. ``POST /predict?interval=0.8`` adds each
prediction's central 80% interval, ``"interval": [lower, upper]`` (``"intervals"`` for a
batch); any level in (0, 1). ``GET /health`` and ``GET /model`` (the
sidecar's metadata) come with it, ``GET /metrics`` for Prometheus (``metrics``), and OpenAPI
docs at ``/docs``. Every scored ride is recorded in the prediction log (``recording``), with
the request's ``X-Request-ID`` (or one made here, sent back in the answer's header).

What a request may hold, and the answers' shapes, are in ``schemas``; the docs pages and the
limits a request meets first (body size, content type) in ``http``. Anything a client gets
wrong is a 4xx with a JSON body naming the field.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from pydantic import ValidationError

from ..modeling.artifact import read_metadata, read_model_bytes, sidecar_path, unpickle_model
from .answering import (
    REQUEST_ID,
    Recording,
    answer,
    missing_fields,
    request_id,
    request_ids,
)
from .fastpath import OneRide
from .http import (
    BodyLimit,
    Measured,
    add_offline_docs,
    not_json,
    query_explain,
    query_level,
    with_ride_schema,
)
from .options import DEFAULT_POLL_SECONDS
from .recording import PredictionLog
from .schemas import (
    JSON,
    MAX_BODY_BYTES,
    QUERY_PARAMETERS,
    REQUEST_SCHEMA,
    RIDE,
    RIDES,
    Invalid,
    Prediction,
    Predictions,
    Refusal,
)
from .source import FileSource, RegistrySource, Served

MODEL_ENV = "RIDE_DURATION_MODEL"
POLL_ENV = "RIDE_DURATION_POLL_SECONDS"
FOLDER_ENV = "RIDE_DURATION_SERVE_DIR"
SERVE_LOG_ENV = "RIDE_DURATION_SERVE_LOG_DIR"  # the workers' prediction log; empty: none
METRICS_ENV = "RIDE_DURATION_METRICS"  # "0": no /metrics


class _Service(FastAPI):
    """FastAPI, with one ride's ``POST /predict`` answered before its middleware and
    routing when it can be (``fastpath``); everything else goes through FastAPI."""

    one_ride: OneRide | None = None

    async def __call__(self, scope, receive, send):
        if self.one_ride is not None and OneRide.applies(scope):
            receive = await self.one_ride(scope, receive, send)
            if receive is None:
                return
        await super().__call__(scope, receive, send)


def create_app(source, log_dir: Path | str | None = None, metrics: bool = True) -> FastAPI:
    """The service for a model source (``source``), or for one saved model file, loaded once
    (its sha256 checked against its sidecar); recording its predictions under ``log_dir``
    (None: not recorded) and counting its requests for ``/metrics`` unless ``metrics`` is
    False."""
    import contextlib

    from .metrics import ServiceMetrics

    if not hasattr(source, "current"):
        source = FileSource(source)
    log = PredictionLog(Path(log_dir)) if log_dir is not None else None
    measured = ServiceMetrics(source, log) if metrics else None

    @contextlib.asynccontextmanager
    async def following(app):
        source.start()
        if log is not None:
            log.start()
        if measured is not None:
            measured.start()
        try:
            yield
        finally:
            source.stop()
            if log is not None:
                log.close()  # what is queued is written before the worker exits
            if measured is not None:
                measured.stop()

    app = _Service(
        title="ride-duration",
        summary="Predict NYC taxi ride durations (minutes) from pickup, dropoff and distance.",
        version=source.current.version,
        docs_url=None,
        redoc_url=None,
        lifespan=following,
    )
    add_offline_docs(app)
    with_ride_schema(app)
    made = request_ids()
    _add_predict(app, source, log, measured, made)
    app.one_ride = OneRide(source, log, measured, made)
    if measured is not None:
        _add_metrics(app, measured)

    # HEAD answers as GET does (load balancers probe with it), documented once, under GET.
    @app.head("/health", include_in_schema=False)
    @app.get("/health")
    def health():
        return {"status": "ok", "model_version": source.current.version}

    @app.head("/model", include_in_schema=False)
    @app.get("/model")
    def model_card():
        """The saved model's sidecar: taxi type, months, features, metrics, versions (and
        for a registered model, its name, version and alias)."""
        served: Served = source.current
        card = {k: v for k, v in served.metadata.items() if k != "pending"}
        if "intervals" in card:  # the method, bands and factors; the tables stay on disk
            intervals = card["intervals"]
            card["intervals"] = {
                k: v
                for k, v in intervals.items()
                if k not in ("probabilities", "quantiles", "untimed")
            }
            if "scales" in intervals:
                card["intervals"]["scales"] = {
                    k: v for k, v in intervals["scales"].items() if k not in ("lower", "upper")
                }
        registry = {"registry": served.registry} if served.registry else {}
        return card | registry | {"model_version": served.version}

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError):
        # Field, message and type only: echoing the input back could echo a NaN, which JSON
        # cannot carry.
        errors = [{k: e[k] for k in ("loc", "msg", "type") if k in e} for e in exc.errors()]
        return JSONResponse({"detail": errors}, status_code=422)

    app.add_middleware(BodyLimit, limit=MAX_BODY_BYTES)
    if measured is not None:
        app.add_middleware(Measured, metrics=measured)  # outermost: it times everything
    return app


def _add_metrics(app: FastAPI, measured) -> None:
    from .metrics import TEXT_FORMAT

    @app.get(
        "/metrics",
        response_class=Response,
        responses={200: {"content": {TEXT_FORMAT.split(";")[0]: {}}}},
    )
    def metrics():
        """The service's metrics in Prometheus' text format: requests by route and status,
        their latency, rides scored, the predicted minutes, the model version served and the
        prediction log's queue, writes and drops (summed over every worker)."""
        return Response(measured.exposition(), media_type=TEXT_FORMAT)


def _add_predict(app: FastAPI, source, log: PredictionLog | None, measured, made) -> None:

    @app.post(
        "/predict",
        response_model=Prediction | Predictions,
        openapi_extra={"requestBody": REQUEST_SCHEMA, "parameters": QUERY_PARAMETERS},
        responses={
            413: {"model": Refusal, "description": "The body is over 4 MiB"},
            415: {"model": Refusal, "description": "The body is declared as other than JSON"},
            422: {"model": Invalid, "description": "A ride is not valid: the field is named"},
        },
    )
    async def predict(request: Request):
        """One ride → ``duration``; a JSON array of rides → ``durations``, in order; with
        ``?interval=0.8``, each prediction's 80% interval too; with ``?explain=true``, the
        parts each prediction is the sum of."""
        received = time.time()
        interval, explain = query_level(request), query_explain(request)
        if refused := not_json(request):
            return refused
        raw = await request.body()
        served: Served = source.current  # once: a swap mid-request changes nothing here
        model = served.model
        batch = raw.lstrip()[:1] == b"["
        try:
            rides = RIDES.validate_json(raw) if batch else [RIDE.validate_json(raw)]
        except ValidationError as exc:
            raise RequestValidationError(
                [{**e, "loc": ["body", *e["loc"]]} for e in exc.errors(include_url=False)]
            ) from None
        if missing := missing_fields(model, rides, batch):
            raise RequestValidationError(missing)
        given = request_id(request.headers.get(REQUEST_ID), made)
        recording = Recording(log, measured, received, given)
        body = answer(served, rides, raw, batch, interval, explain, recording)
        return Response(body, media_type=JSON, headers={"X-Request-ID": given})


def snapshot_model(model_path: Path | str, folder: Path) -> Path:
    """Check a saved model (sidecar, sha256, what its pickle holds) and copy the checked bytes
    and their sidecar entry into ``folder``; return the copy's path, named as the original."""
    model_path = Path(model_path)
    data = read_model_bytes(model_path)
    metadata = read_metadata(model_path, data)
    unpickle_model(data, model_path)
    copy = Path(folder) / model_path.name
    copy.write_bytes(data)
    sidecar_path(copy).write_text(json.dumps(metadata))
    return copy


def app_from_environment() -> FastAPI:
    """The app for the model named by ``RIDE_DURATION_MODEL`` (for uvicorn's workers): a
    checked copy of a file, or a registered model's alias, followed."""
    named = os.environ[MODEL_ENV]
    log_dir = os.environ.get(SERVE_LOG_ENV) or None
    metrics = os.environ.get(METRICS_ENV, "1") != "0"
    if not named.startswith("models:/"):
        return create_app(named, log_dir, metrics)
    import tempfile

    poll = float(os.environ.get(POLL_ENV, DEFAULT_POLL_SECONDS))
    folder = tempfile.mkdtemp(prefix="worker-", dir=os.environ.get(FOLDER_ENV))
    return create_app(RegistrySource(named, None, Path(folder), poll), log_dir, metrics)
