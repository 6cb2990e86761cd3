"""uvicorn's HTTP protocol (httptools), guarded against clients that hold connections without
finishing a request: a few hundred clients trickling their headers a byte at a time would
otherwise take every file descriptor of a worker, and no other client (a health check) could
connect.

A connection is *waiting* from the moment it opens (or finishes a response, kept alive) until
the head of its next request has arrived. Waiting connections are closed after
``HEAD_SECONDS``; and when there are more than the worker's budget of them (a quarter of its
file descriptors), the one that has waited longest is closed to make room for the newest.
A request whose head arrived is never closed by this.
"""

from __future__ import annotations

import contextlib
import resource
import time

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

HEAD_SECONDS = 10.0  # to send a request's head (the request line and headers)
MIN_WAITING, MAX_WAITING = 16, 1024


def waiting_budget() -> int:
    """How many waiting connections a worker keeps: a quarter of its file descriptors."""
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    limit = soft if soft != resource.RLIM_INFINITY else 4 * MAX_WAITING
    return max(MIN_WAITING, min(MAX_WAITING, limit // 4))


def raise_descriptor_limit() -> None:
    """The soft limit of open files up to the hard one, as servers do at start."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or soft < hard:
        # If the OS says no, the budget follows the soft limit.
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


_WAITING: dict[GuardedHttpToolsProtocol, float] = {}  # oldest first (dicts keep order)


class GuardedHttpToolsProtocol(HttpToolsProtocol):
    """``HttpToolsProtocol`` with a deadline and a budget for connections still waiting."""

    _head_timer = None

    def _wait(self) -> None:
        self._done_waiting()
        _WAITING[self] = time.monotonic()
        self._head_timer = self.loop.call_later(HEAD_SECONDS, self._too_slow)
        budget = waiting_budget()
        while len(_WAITING) > budget:
            oldest = next(iter(_WAITING))
            if oldest is self:
                break
            oldest._too_slow()

    def _done_waiting(self) -> None:
        _WAITING.pop(self, None)
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _too_slow(self) -> None:
        self._done_waiting()
        if self.transport is not None and not self.transport.is_closing():
            self.transport.close()

    def connection_made(self, transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._wait()

    def on_headers_complete(self) -> None:
        self._done_waiting()
        super().on_headers_complete()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        idle = self.cycle is None or self.cycle.response_complete  # no pipelined request
        if idle and self.transport is not None and not self.transport.is_closing():
            self._wait()  # kept alive: waiting for the next request's head

    def connection_lost(self, exc) -> None:
        self._done_waiting()
        super().connection_lost(exc)
