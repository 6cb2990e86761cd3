"""What the service's pages and document need beyond FastAPI's defaults, and the limits it
puts on requests before they reach a route."""

from __future__ import annotations

import time
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import ValidationError

from .schemas import EXPLAIN, JSON, LEVEL, MAX_BATCH, RIDE


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


def not_json(request: Request) -> JSONResponse | None:
    """415 for a body declared as anything but JSON (a form, text, XML): it must not be
    scored as if it were. A body without a Content-Type is read as JSON, as before."""
    declared = request.headers.get("content-type")
    if declared is None:
        return None
    media = declared.split(";", 1)[0].strip().lower()
    if media == JSON or (media.startswith("application/") and media.endswith("+json")):
        return None
    return JSONResponse(
        {"detail": f"the body is {media or 'of no type'}; send JSON (Content-Type: {JSON})"},
        status_code=415,
    )


def query_level(request: Request) -> float | None:
    """``?interval=LEVEL``, checked as FastAPI would check a declared query parameter (read
    by hand: FastAPI's dependency solving costs a third of a single ride's request)."""
    return _query(request, "interval", LEVEL, None)


def query_explain(request: Request) -> bool:
    """``?explain=true`` (or 1, yes, on; false, 0, no, off), checked as ``query_level``."""
    return _query(request, "explain", EXPLAIN, False)


def _query(request: Request, name: str, adapter, missing):
    text = request.query_params.get(name)
    if text is None:
        return missing
    try:
        return adapter.validate_strings(text)
    except ValidationError as exc:
        raise RequestValidationError(
            [{**e, "loc": ["query", name]} for e in exc.errors(include_url=False)]
        ) from None


DOCS_ASSETS = "/docs-assets"
REDOC_LOGO = b"https://cdn.redoc.ly/redoc/logo-mini.svg"
EMPTY_IMAGE = b"data:image/svg+xml,%3Csvg xmlns='http://www.w3.org/2000/svg'/%3E"


def add_offline_docs(app: FastAPI) -> None:
    """/docs (Swagger UI) and /redoc with their scripts and styles served by the app itself,
    from the pinned fastapi-offline package: FastAPI's own pages load them from a CDN, which
    an offline machine or a proxy leaves blank."""
    import fastapi_offline
    from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
    from fastapi.staticfiles import StaticFiles

    assets = Path(fastapi_offline.__file__).parent / "static"
    # ReDoc's bundle shows Redocly's logo from their CDN in its footer: served here with an
    # empty image in its place, so that /redoc asks nothing of another host.
    redoc_js = (assets / "redoc.standalone.js").read_bytes().replace(REDOC_LOGO, EMPTY_IMAGE)

    @app.get(f"{DOCS_ASSETS}/redoc.standalone.js", include_in_schema=False)
    def redoc_bundle():
        from fastapi.responses import Response

        return Response(redoc_js, media_type="text/javascript")

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


class Measured:
    """ASGI middleware: each HTTP request's route, method, status and time to its answer,
    counted for ``/metrics`` (``metrics.ServiceMetrics.request``)."""

    def __init__(self, app, metrics):
        from .metrics import route_of

        self.app, self.metrics, self.route_of = app, metrics, route_of

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        start = time.perf_counter()
        status = 500  # unless an answer starts: a route that raised is counted as a 5xx

        async def sending(message):
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            self.metrics.request(
                self.route_of(scope["path"]), scope["method"], status, time.perf_counter() - start
            )
