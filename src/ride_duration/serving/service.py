"""The model as a web service: ``ride-duration serve`` (FastAPI on uvicorn).

``POST /predict`` takes one ride, ``{"PULocationID": 43, "DOLocationID": 151,
"trip_distance": 1.8}`` (and ``pickup_datetime`` for a rich model), and answers
``{"duration": <minutes>, "model_version": ...}``; a JSON array of rides gets
``{"durations": [...], "model_version": ...}``. ``POST /predict?interval=0.8`` adds each
prediction's central 80% interval, ``"interval": [lower, upper]`` (``"intervals"`` for a
batch); any level in (0, 1). ``GET /health`` and ``GET /model`` (the
sidecar's metadata) come with it, and OpenAPI docs at ``/docs``.

Input policy: unknown fields are refused (a misspelt ``PULocationId`` must not pass for a
missing zone); zone IDs are JSON integers from -1 to 1,000,000 (not strings, floats or
booleans; missing: -1, as in training); distances are finite miles from 0 to a billion (TLC
records hold absurd distances, which a model must still answer); a batch holds at most 10,000
rides and a body at most 4 MiB. Anything else is the client's error: 4xx with a JSON body
naming the field.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from pathlib import Path
from typing import Annotated

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, with_config
from typing_extensions import TypedDict  # pydantic needs this one before Python 3.12

from ..config import MAX_MILES, MAX_ZONE_ID
from ..modeling.artifact import read_metadata, read_model_bytes, sidecar_path, unpickle_model
from ..modeling.model import NO_INTERVALS, Model
from .options import DEFAULT_POLL_SECONDS
from .source import FileSource, RegistrySource, Served

MODEL_ENV = "RIDE_DURATION_MODEL"
POLL_ENV = "RIDE_DURATION_POLL_SECONDS"
FOLDER_ENV = "RIDE_DURATION_SERVE_DIR"
MAX_BATCH = 10_000
MAX_BODY_BYTES = 4 << 20
JSON = "application/json"


@with_config(ConfigDict(extra="forbid"))
class Ride(TypedDict, total=False):
    """One ride, as the course's web service takes it. (A TypedDict: a batch validates into
    dicts several times faster than into model objects.)"""

    PULocationID: Annotated[int, Field(ge=-1, le=MAX_ZONE_ID, strict=True)]
    DOLocationID: Annotated[int, Field(ge=-1, le=MAX_ZONE_ID, strict=True)]
    trip_distance: Annotated[float, Field(ge=0, le=MAX_MILES, allow_inf_nan=False)] | None
    pickup_datetime: dt.datetime | None


RIDE = TypeAdapter(Ride)
RIDES = TypeAdapter(Annotated[list[Ride], Field(max_length=MAX_BATCH)])
ANSWER = TypeAdapter(dict)
RIDE_REF = {"$ref": "#/components/schemas/Ride"}
# One ride or a batch, both referring to the one Ride schema among the document's components
# (a schema pasted in with its own $defs leaves references no OpenAPI viewer resolves).
REQUEST_SCHEMA = {
    "required": True,
    "content": {
        "application/json": {
            "schema": {
                "anyOf": [
                    RIDE_REF,
                    {"type": "array", "items": RIDE_REF, "maxItems": MAX_BATCH, "title": "Rides"},
                ]
            },
            "example": {"PULocationID": 43, "DOLocationID": 151, "trip_distance": 1.8},
        }
    },
}


def with_ride_schema(app: FastAPI) -> None:
    """Add the Ride schema to the OpenAPI document's components, where the request body's
    references point."""
    build = app.openapi

    def openapi() -> dict:
        if app.openapi_schema is None:
            document = build()
            ride = RIDE.json_schema(ref_template="#/components/schemas/{model}")
            document.setdefault("components", {}).setdefault("schemas", {})["Ride"] = ride
            app.openapi_schema = document
        return app.openapi_schema

    app.openapi = openapi


class Prediction(BaseModel):
    duration: float
    interval: tuple[float, float] | None = Field(
        None, description="[lower, upper] minutes, when the request asks ?interval=LEVEL"
    )
    model_version: str


class Predictions(BaseModel):
    durations: list[float]
    intervals: list[tuple[float, float]] | None = Field(
        None, description="[lower, upper] per ride, when the request asks ?interval=LEVEL"
    )
    model_version: str


LEVEL_DESCRIPTION = (
    "also answer the central interval of this coverage, e.g. 0.8 (the 10th to the 90th "
    "percentile)"
)
LEVEL = TypeAdapter(Annotated[float, Field(gt=0, lt=1, allow_inf_nan=False)])
QUERY_PARAMETERS = [
    {
        "name": "interval",
        "in": "query",
        "required": False,
        "description": LEVEL_DESCRIPTION,
        "schema": {"type": "number", "exclusiveMinimum": 0, "exclusiveMaximum": 1},
    }
]


def query_level(request: Request) -> float | None:
    """``?interval=LEVEL``, checked as FastAPI would check a declared query parameter (read
    by hand: FastAPI's dependency solving costs a third of a single ride's request)."""
    text = request.query_params.get("interval")
    if text is None:
        return None
    try:
        return LEVEL.validate_strings(text)
    except ValidationError as exc:
        raise RequestValidationError(
            [{**e, "loc": ["query", "interval"]} for e in exc.errors(include_url=False)]
        ) from None


class Refusal(BaseModel):
    detail: str


class FieldError(BaseModel):
    loc: list[str | int]
    msg: str
    type: str


class Invalid(BaseModel):
    detail: list[FieldError]


DOCS_ASSETS = "/docs-assets"


def add_offline_docs(app: FastAPI) -> None:
    """/docs (Swagger UI) and /redoc with their scripts and styles served by the app itself,
    from the pinned fastapi-offline package: FastAPI's own pages load them from a CDN, which
    an offline machine or a proxy leaves blank."""
    import fastapi_offline
    from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
    from fastapi.staticfiles import StaticFiles

    assets = Path(fastapi_offline.__file__).parent / "static"
    app.mount(DOCS_ASSETS, StaticFiles(directory=assets), name="docs-assets")

    @app.get("/docs", include_in_schema=False)
    def swagger(request: Request):
        root = request.scope.get("root_path", "")
        return get_swagger_ui_html(
            openapi_url=f"{root}{app.openapi_url}",
            title=f"{app.title} - Swagger UI",
            swagger_js_url=f"{root}{DOCS_ASSETS}/swagger-ui-bundle.js",
            swagger_css_url=f"{root}{DOCS_ASSETS}/swagger-ui.css",
            swagger_favicon_url=f"{root}{DOCS_ASSETS}/favicon.png",
        )

    @app.get("/redoc", include_in_schema=False)
    def redoc(request: Request):
        root = request.scope.get("root_path", "")
        return get_redoc_html(
            openapi_url=f"{root}{app.openapi_url}",
            title=f"{app.title} - ReDoc",
            redoc_js_url=f"{root}{DOCS_ASSETS}/redoc.standalone.js",
            redoc_favicon_url=f"{root}{DOCS_ASSETS}/favicon.png",
            with_google_fonts=False,
        )


class BodyLimit:
    """ASGI middleware: a request body over ``limit`` bytes gets 413, counted as it arrives
    (a client may send no Content-Length, or a false one)."""

    def __init__(self, app, limit: int):
        self.app, self.limit = app, limit

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        declared = dict(scope.get("headers", [])).get(b"content-length", b"")
        if declared.isdigit() and int(declared) > self.limit:
            return await _too_large(send, self.limit)
        received = 0

        async def counted():
            nonlocal received
            message = await receive()
            received += len(message.get("body", b""))
            if received > self.limit:
                raise _TooLarge
            return message

        try:
            return await self.app(scope, counted, send)
        except _TooLarge:
            return await _too_large(send, self.limit)


class _TooLarge(Exception):
    pass


async def _too_large(send, limit: int) -> None:
    response = JSONResponse(
        {"detail": f"the request body is over {limit:,} bytes; send at most {MAX_BATCH:,} rides"},
        status_code=413,
    )
    await response({"type": "http"}, None, send)


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
            422: {"model": Invalid, "description": "A ride is not valid: the field is named"},
        },
    )
    async def predict(request: Request):
        """One ride → ``duration``; a JSON array of rides → ``durations``, in order; with
        ``?interval=0.8``, each prediction's 80% interval too."""
        interval = query_level(request)
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
