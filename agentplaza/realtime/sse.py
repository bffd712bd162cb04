"""Server-Sent Events `GET /v1/stream`: the WebSocket's events as a `text/event-stream`.

Each delivery is `event: message` / `id: <seq>` / `data: <delivered message JSON>`; after the
backlog one `event: notifications`; heartbeats are `: ping` comments. Resume with the
`Last-Event-ID` header (what EventSource sends on reconnect) or `?since_seq=`.
See docs/realtime.md for the format, resume rules and limits.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable
from contextlib import suppress

from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from agentplaza.domain.credentials import credential_for
from agentplaza.domain.errors import AgentplazaError, ErrorCode
from agentplaza.domain.ids import AccountId
from agentplaza.metrics import DELIVERED_SSE
from agentplaza.realtime.hub import Hub
from agentplaza.realtime.sink import REVOKED, OrderedSink
from agentplaza.services.registry import Services

log = logging.getLogger(__name__)
# How long EventSource waits before reconnecting after the stream ends (its default is
# browser-specific, 3-5 s); short, because every close of ours asks for a prompt resume.
RETRY_MS = 2000
# After a close, how long the stream's last bytes may wait for a client that stopped reading.
# Past it the handler returns without ending the body and uvicorn drops the connection.
FINISH_TIMEOUT_SECS = 5.0
HEARTBEAT = b": ping\n\n"


class StreamClosed(Exception):
    """The stream was closed while a write was due; the client resumes by Last-Event-ID."""


class StreamCounter:
    """Open streams per client address on this node, capped: SSE streams
    (`sse_max_streams_per_ip`) and, with a counter of their own, WebSockets
    (`ws_max_connections_per_ip`).

    Per node, not cluster-wide: the cap protects this process's sockets and memory.
    """

    def __init__(self, max_per_ip: int) -> None:
        self.max_per_ip = max_per_ip
        self._open: dict[str, int] = {}

    def acquire(self, ip: str) -> bool:
        count = self._open.get(ip, 0)
        if count >= self.max_per_ip:
            return False
        self._open[ip] = count + 1
        return True

    def release(self, ip: str) -> None:
        count = self._open.get(ip, 0) - 1
        if count > 0:
            self._open[ip] = count
        else:
            self._open.pop(ip, None)


class SseSink(OrderedSink):
    """One event stream. Every chunk goes out under one lock: the notifications event is
    written by the handler while the writer task may already be writing live deliveries,
    and the body's final chunk must come after whatever chunk is in flight."""

    transport = "sse"

    def __init__(self, send: Send, account_id: AccountId, token: str, services: Services) -> None:
        settings = services.runtime.settings
        super().__init__(
            account_id,
            services.runtime.store,
            queue_max=settings.ws_send_queue_max,
            queue_max_bytes=settings.ws_send_queue_max_bytes,
            credential=credential_for(token),
        )
        self._send = send
        self.reason = ""
        self._lock = asyncio.Lock()
        self._finished = False
        self.done = asyncio.Event()  # set by close(): the handler ends the response
        self.on_drop: Callable[[], Awaitable[None]] | None = None

    async def write(self, body: bytes, seq: int) -> None:
        if self.closed:
            # Stops a long catch-up at once when the stream is closed (shutdown, slow consumer).
            raise StreamClosed
        # orjson output has no newlines; a data line must not contain one.
        await self.write_chunk(b"event: message\nid: %d\ndata: %s\n\n" % (seq, body))
        DELIVERED_SSE.inc()

    async def write_heartbeat(self) -> None:
        await self.write_chunk(HEARTBEAT)

    async def write_event(self, event: str, data: dict[str, object]) -> None:
        payload = json.dumps(data, separators=(",", ":"))
        await self.write_chunk(f"event: {event}\ndata: {payload}\n\n".encode())

    async def write_chunk(self, chunk: bytes) -> None:
        async with self._lock:
            if self._finished:
                raise ConnectionError("stream already ended")
            await self._send({"type": "http.response.body", "body": chunk, "more_body": True})

    async def finish(self) -> None:
        """End the response body (after any chunk in flight)."""
        async with self._lock:
            if not self._finished:
                self._finished = True
                await self._send({"type": "http.response.body", "body": b"", "more_body": False})

    async def close(self, reason: str) -> None:
        # Never writes: a slow consumer's socket is full, and the hub awaits this at shutdown.
        self.closed = True
        self.reason = self.reason or reason
        self.done.set()
        if self.on_drop is not None:
            await self.on_drop()


class EventStreamResponse(Response):
    """The stream itself, run by Starlette once the route has authenticated and validated."""

    media_type = "text/event-stream"

    def __init__(
        self,
        services: Services,
        hub: Hub,
        account_id: AccountId,
        token: str,
        *,
        after_seq: int | None,
        on_end: Callable[[], None],
    ) -> None:
        # Not Response.__init__: with no body it would send `Content-Length: 0`.
        self.status_code = 200
        self.background = None
        self.init_headers(
            {
                "Cache-Control": "no-cache",
                # nginx buffers proxied responses by default, which would hold events back.
                "X-Accel-Buffering": "no",
            }
        )
        self._services = services
        self._hub = hub
        self._account_id = account_id
        self._token = token  # re-checked once attached; revoking it ends the stream
        self._after_seq = after_seq
        self._on_end = on_end

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await self._stream(receive, send)
        finally:
            self._on_end()

    async def _stream(self, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": self.raw_headers})
        sink = SseSink(send, self._account_id, self._token, self._services)
        sink.on_drop = lambda: self._hub.detach(sink)
        gone = asyncio.ensure_future(until_disconnected(receive))
        await self._hub.attach(sink)
        try:
            try:
                # A revocation handled between the route's check and the attach found no sink
                # to end; it did clear the cache, so this asks the store.
                await self._services.accounts.authenticate(self._token)
            except AgentplazaError:
                await sink.close(REVOKED)
                raise StreamClosed from None
            # The retry hint first: it also gets the headers to the client before the backlog.
            await sink.write_chunk(b"retry: %d\n\n" % RETRY_MS)
            backlog = await sink.catch_up(after_seq=self._after_seq)
            counts = await self._services.notifications.counts(self._account_id)
            await sink.write_event(
                "notifications",
                {
                    "unread": backlog,
                    "unread_notifications": counts.unread,
                    "pending_friend_requests": counts.pending_friend_requests,
                },
            )
            done = asyncio.ensure_future(sink.done.wait())
            try:
                await asyncio.wait({gone, done}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                done.cancel()
        except StreamClosed:
            pass
        except Exception:
            # A store failure mid-stream (writes to a gone client are no-ops): it resumes.
            log.exception("event stream for %s failed", self._account_id)
        finally:
            sink.closed = True
            await self._hub.detach(sink)
            if not gone.done():
                try:
                    await asyncio.wait_for(_end(sink), FINISH_TIMEOUT_SECS)
                except Exception:
                    log.debug("could not end the event stream of %s", self._account_id)
            gone.cancel()
            with suppress(asyncio.CancelledError):
                await gone


async def _end(sink: SseSink) -> None:
    """End the body; a revoked stream says why first (EventSource then reconnects and gets
    401, which makes it stop)."""
    if sink.reason == REVOKED:
        await sink.write_event(
            "error", {"detail": REVOKED, "code": ErrorCode.INVALID_CREDENTIALS.value}
        )
    await sink.finish()


async def until_disconnected(receive: Receive) -> None:
    """Return when the client has gone (an SSE response reads nothing else)."""
    while (await receive())["type"] != "http.disconnect":
        pass
