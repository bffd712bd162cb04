"""Per-request HTTP metrics: count and duration by method, route template and status.

Labels come from the route template the router matched (`scope["route"].path`, e.g.
`/v1/messages/{message_id}/ack`), never the raw path, and unknown methods fold into
`OTHER`, so a client cannot grow the number of series. Each label combination's children
are bound once and cached: the hot path is a dict lookup, one inc and one observe.
"""

from __future__ import annotations

import time

from prometheus_client import Counter, Histogram
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from agentplaza.metrics import HTTP_REQUEST_SECONDS, HTTP_REQUESTS

OTHER = "other"
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


def route_template(scope: Scope) -> str:
    """The matched route's template (what Starlette's router leaves in the scope), or OTHER."""
    path = getattr(scope.get("route"), "path", None)
    return path if isinstance(path, str) else OTHER


class HttpMetrics:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self._counters: dict[tuple[str, str, int], Counter] = {}
        self._timers: dict[tuple[str, str], Histogram] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500  # what the client gets if the app raises before answering

        async def send_recording_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_recording_status)
        finally:
            method = scope["method"] if scope["method"] in _METHODS else OTHER
            self.observe(method, route_template(scope), status, time.perf_counter() - started)

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        counter = self._counters.get((method, route, status))
        if counter is None:
            counter = self._counters[(method, route, status)] = HTTP_REQUESTS.labels(
                method, route, str(status)
            )
        timer = self._timers.get((method, route))
        if timer is None:
            timer = self._timers[(method, route)] = HTTP_REQUEST_SECONDS.labels(method, route)
        counter.inc()
        timer.observe(seconds)
