"""Studio SSE answers (seed 004's `POST …/stream` responses), shared by conversations and chat
rooms.

`SseStream(produce, heartbeat_secs=…, on_end=…)` is a response that runs `produce(writer)`
as a task; `await writer.event(name, data)` writes `event: <name>\\ndata: <json>\\n\\n`. While
it runs, `: ping` comments keep proxies from timing the connection out, and the request's
`http.disconnect` is watched: a client that goes away cancels the task (so whatever model
stream it iterates is closed and stops generating). The headers are realtime/sse.py's (no
caching, no proxy buffering). `on_end` runs exactly once, however the stream ends.
`turn_event(event, message_id=…)` is the wire form of a domain/turns.py event.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from agentplaza.domain.turns import (
    TurnDone,
    TurnEvent,
    TurnText,
    TurnToolCall,
    TurnToolResult,
)
from agentplaza.realtime.sse import until_disconnected

log = logging.getLogger(__name__)
HEARTBEAT = b": ping\n\n"


class EventWriter:
    """Writes SSE events to one response; writes after the stream ended are dropped."""

    def __init__(self, send: Send) -> None:
        self._send = send
        self._lock = asyncio.Lock()
        self._finished = False

    async def event(self, name: str, data: dict[str, Any]) -> None:
        # JSON never contains a raw newline, which would end the data line.
        payload = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
        await self._chunk(f"event: {name}\ndata: {payload}\n\n".encode())

    async def heartbeat(self) -> None:
        await self._chunk(HEARTBEAT)

    async def _chunk(self, chunk: bytes) -> None:
        async with self._lock:
            if not self._finished:
                await self._send({"type": "http.response.body", "body": chunk, "more_body": True})

    async def finish(self) -> None:
        async with self._lock:
            if not self._finished:
                self._finished = True
                await self._send({"type": "http.response.body", "body": b"", "more_body": False})


class SseStream(Response):
    media_type = "text/event-stream"

    def __init__(
        self,
        produce: Callable[[EventWriter], Awaitable[None]],
        *,
        heartbeat_secs: float,
        on_end: Callable[[], None] = lambda: None,
    ) -> None:
        # Not Response.__init__: with no body it would send `Content-Length: 0`.
        self.status_code = 200
        self.background = None
        self.init_headers({"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})
        self._produce = produce
        self._heartbeat_secs = heartbeat_secs
        self._on_end = on_end

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await self._stream(receive, send)
        finally:
            self._on_end()

    async def _stream(self, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": self.raw_headers})
        writer = EventWriter(send)
        producer = asyncio.ensure_future(self._produce(writer))
        gone = asyncio.ensure_future(until_disconnected(receive))
        beats = asyncio.ensure_future(self._heartbeats(writer))
        try:
            await asyncio.wait({producer, gone}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            beats.cancel()
            if not producer.done():
                # The client went away (or the server is stopping): stop the work for it.
                producer.cancel()
            await asyncio.wait({producer})
            if not producer.cancelled() and producer.exception() is not None:
                log.error("studio stream failed", exc_info=producer.exception())
            if not gone.done():
                gone.cancel()
                await writer.finish()

    async def _heartbeats(self, writer: EventWriter) -> None:
        while True:
            await asyncio.sleep(self._heartbeat_secs)
            await writer.heartbeat()


def turn_event(event: TurnEvent, *, message_id: str | None = None) -> tuple[str, dict[str, Any]]:
    """The SSE event name and data of a turn event (docs/studio.md lists them); `message_id`
    is the stored answer's, for `done` and `error`."""
    if isinstance(event, TurnText):
        return "text", {"content": event.text}
    if isinstance(event, TurnToolCall):
        return "tool_call", {"id": event.call_id, "name": event.name, "arguments": event.arguments}
    if isinstance(event, TurnToolResult):
        return "tool_result", {
            "id": event.call_id,
            "name": event.name,
            "result": event.result,
            "is_error": event.is_error,
        }
    if isinstance(event, TurnDone):
        return "done", {
            "message_id": message_id,
            "token_count": event.input_tokens + event.output_tokens,
            "input_tokens": event.input_tokens,
            "output_tokens": event.output_tokens,
        }
    return "error", {"content": event.message, "error": event.message, "message_id": message_id}
