"""A real HTTP server on 127.0.0.1 serving the shared TLC files, with fault modes."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
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
        self.heads: Counter = Counter()
        mirror = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # keep test output clean
                pass

            def do_GET(self):
                mirror.handle(self)

            def do_HEAD(self):  # is a month published? (the loop asks before it downloads)
                name = self.path.rsplit("/", 1)[-1]
                mirror.heads[name] += 1
                mode = mirror.modes.get(name, "ok")
                if mode in ("403", "404") or not (mirror.folder / name).is_file():
                    self.send_response(int(mode) if mode in ("403", "404") else 404)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                self.send_response(200)
                self.send_header("Content-Length", str((mirror.folder / name).stat().st_size))
                self.end_headers()

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
        if mode in ("slow", "trickle"):
            self.throttle(request, body, mode)
            return
        if mode == "drop-always" or (mode == "short-once" and self.hits[name] == 1):
            request.wfile.write(body[: len(body) // 3])
            request.wfile.flush()
            request.close_connection = True
            return
        request.wfile.write(body)

    def throttle(self, request, body: bytes, mode: str) -> None:
        """ "slow": the body in 64 KiB pieces, ``slow_pause`` s apart (about a second for a
        lesson month); "trickle": one byte every ``trickle_pause`` s. Either stops when the
        client goes away or after ``max_seconds``."""
        piece, pause = (1 << 16, self.slow_pause) if mode == "slow" else (1, self.trickle_pause)
        give_up = time.monotonic() + self.max_seconds
        try:
            for start in range(0, len(body), piece):
                if time.monotonic() > give_up:
                    break
                request.wfile.write(body[start : start + piece])
                request.wfile.flush()
                time.sleep(pause)
        except OSError:  # the client hung up: that is what these modes test
            pass
        request.close_connection = True

    slow_pause = 0.05
    trickle_pause = 0.3
    max_seconds = 20.0


class RawServer:
    """A loopback TCP server that answers each connection with ``reply`` (raw bytes), for
    answers that are not valid HTTP. It serves at most ``limit`` connections."""

    def __init__(self, reply: bytes, limit: int = 10):
        self.reply, self.limit, self.connections = reply, limit, 0
        self.socket = socket.create_server(("127.0.0.1", 0))
        self.socket.settimeout(0.2)
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self.serve, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.socket.getsockname()[1]}"

    def serve(self) -> None:
        while not self.stopping.is_set() and self.connections < self.limit:
            try:
                connection, _ = self.socket.accept()
            except TimeoutError:
                continue
            self.connections += 1
            with connection:
                connection.settimeout(2)
                try:
                    connection.recv(65536)  # the request
                    connection.sendall(self.reply)
                except OSError:
                    pass


@pytest.fixture
def raw_server():
    servers = []

    def start(reply: bytes, limit: int = 10) -> RawServer:
        server = RawServer(reply, limit)
        server.thread.start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stopping.set()
        server.thread.join(timeout=5)
        server.socket.close()


@contextlib.contextmanager
def serving(folder: Path):
    """A mirror of ``folder`` on a free loopback port, stopped afterwards."""
    server = TLCMirror(folder)
    server.thread.start()
    try:
        yield server
    finally:
        server.server.shutdown()
        server.server.server_close()
        server.thread.join(timeout=5)


@pytest.fixture
def mirror(tlc_dir):
    with serving(tlc_dir) as server:
        yield server
