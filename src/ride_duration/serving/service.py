"""The model as a web service: ``ride-duration serve`` (FastAPI on uvicorn).

``POST /predict`` takes one ride, ``{"PULocationID": 43, "DOLocationID": 151,
"trip_distance": 1.8}`` (and ``pickup_datetime`` for a rich model), and answers
``{"duration": <minutes>, "model_version": ...}``; a JSON array of rides gets
``{"durations": [...], "model_version": ...}``. ``POST /predict?interval=0.8`` adds each
prediction's central 80% interval, ``"interval": [lower, upper]`` (``"intervals"`` for a
batch); any level in (0, 1). ``GET /health`` and ``GET /model`` (the
sidecar's metadata) come with it, and OpenAPI docs at ``/docs``.

What a request may hold, and the answers' shapes, are in ``schemas``; the docs pages and the
limits a request meets first (body size, content type) in ``http``. Anything a client gets
wrong is a 4xx with a JSON body naming the field.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from pydantic import ValidationError

from ..modeling.artifact import read_metadata, read_model_bytes, sidecar_path, unpickle_model
from ..modeling.model import NO_INTERVALS, Model
from .http import BodyLimit, add_offline_docs, not_json, query_level, with_ride_schema
from .options import DEFAULT_POLL_SECONDS
from .schemas import (
    ANSWER,
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


def create_app(source) -> FastAPI:
    """The service for a model source (``source``), or for one saved model file, loaded once
    (its sha256 checked against its sidecar)."""
    import contextlib

    if not hasattr(source, "current"):
        source = FileSource(source)

    @contextlib.asynccontextmanager
    async def following(app):
        source.start()
        try:
            yield
        finally:
            source.stop()

    app = FastAPI(
        title="ride-duration",
        summary="Predict NYC taxi ride durations (minutes) from pickup, dropoff and distance.",
        version=source.current.version,
        docs_url=None,
        redoc_url=None,
        lifespan=following,
    )
    add_offline_docs(app)
    with_ride_schema(app)
    _add_predict(app, source)

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
        if "intervals" in card:  # the method and its bands; the quantile table stays on disk
            card["intervals"] = {
                k: v
                for k, v in card["intervals"].items()
                if k not in ("probabilities", "quantiles")
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
    return app


def _missing_fields(model: Model, rides: list[dict], batch: bool) -> list[dict]:
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


def _intervals(model: Model, durations: list[float], level: float, batch: bool) -> dict:
    if model.intervals is None:
        raise RequestValidationError(
            [{"loc": ["query", "interval"], "msg": NO_INTERVALS, "type": "unavailable"}]
        )
    lower, upper = model.predict_intervals(durations, level)
    pairs = [[low, high] for low, high in zip(lower.tolist(), upper.tolist())]
    return {"intervals": pairs} if batch else {"interval": pairs[0]}


def _add_predict(app: FastAPI, source) -> None:
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
        ``?interval=0.8``, each prediction's 80% interval too."""
        interval = query_level(request)
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
        if missing := _missing_fields(model, rides, batch):
            raise RequestValidationError(missing)
        durations = model.predict_rides(rides)
        answer = {"durations": durations} if batch else {"duration": durations[0]}
        if interval is not None:
            answer |= _intervals(model, durations, interval, batch)
        # Serialised by pydantic's encoder: FastAPI's response encoding of a batch costs more
        # than predicting it.
        answer |= {"model_version": served.version}
        return Response(ANSWER.dump_json(answer), media_type=JSON)


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
    if not named.startswith("models:/"):
        return create_app(named)
    import tempfile

    poll = float(os.environ.get(POLL_ENV, DEFAULT_POLL_SECONDS))
    folder = tempfile.mkdtemp(prefix="worker-", dir=os.environ.get(FOLDER_ENV))
    return create_app(RegistrySource(named, None, Path(folder), poll))
