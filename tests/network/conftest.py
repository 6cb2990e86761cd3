"""A real HTTP server on 127.0.0.1 serving the shared TLC files, with fault modes."""

from __future__ import annotations

import threading
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest


class TLCMirror:
    """Serves ``/trip-data/<name>`` and ``/misc/<name>`` from a folder. ``modes[name]`` picks a
    fault: "ok", "403", "404", "500-then-ok", "short-once" (first body cut short under a full
    Content-Length), "drop-always" (every body cut short), "html" (an HTML page, status 200)."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.modes: dict[str, str] = {}
        self.hits: Counter = Counter()
        mirror = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # keep test output clean
                pass

            def do_GET(self):
                mirror.handle(self)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def handle(self, request: BaseHTTPRequestHandler) -> None:
        name = request.path.rsplit("/", 1)[-1]
        self.hits[name] += 1
        mode = self.modes.get(name, "ok")
        path = self.folder / name
        if mode in ("403", "404") or not path.is_file():
            request.send_error(int(mode) if mode in ("403", "404") else 404)
            return
        if mode == "500-then-ok" and self.hits[name] == 1:
            request.send_error(500)
            return
        if mode == "html":
            body = b"<!DOCTYPE html><html><body>Access denied</body></html>"
            request.send_response(200)
            request.send_header("Content-Type", "text/html")
            request.send_header("Content-Length", str(len(body)))
            request.end_headers()
            request.wfile.write(body)
            return
        body = path.read_bytes()
        request.send_response(200)
        request.send_header("Content-Length", str(len(body)))
        request.end_headers()
        if mode == "drop-always" or (mode == "short-once" and self.hits[name] == 1):
            request.wfile.write(body[: len(body) // 3])
            request.wfile.flush()
            request.close_connection = True
            return
        request.wfile.write(body)


@pytest.fixture
def mirror(tlc_dir):
    server = TLCMirror(tlc_dir)
    server.thread.start()
    yield server
    server.server.shutdown()
    server.server.server_close()
    server.thread.join(timeout=5)
