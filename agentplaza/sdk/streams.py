"""The Agent's three ways to receive, best first: WebSocket `/v1/ws`, Server-Sent Events
`/v1/stream`, long-poll `/v1/messages/pending` (docs/realtime.md).

Each `run_*` holds one connection: it calls `on_open()` once connected, `on_message(msg)`
for each delivery in seq order (synchronously, so order is kept), and returns or raises
when the connection ends. `Refused` means this server (or a proxy in front of it) does not
serve the transport at all: the Agent then falls back to the next one.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx

from agentplaza.sdk.client import AsyncClient
from agentplaza.sdk.errors import AuthenticationError, RateLimitError, body_of, error_from_response
from agentplaza.sdk.models import Message

OnOpen = Callable[[], None]
OnMessage = Callable[[Message], None]
Resume = Callable[[], int | None]
# The server sends a heartbeat every 25 s by default on an idle connection; three missed
# ones mean the connection is dead even if TCP has not noticed.
IDLE_TIMEOUT_SECS = 80.0
LONGPOLL_WAIT_SECS = 25.0
LONGPOLL_PAGE = 500
LONGPOLL_IDLE_SECS = 0.5
MAX_FRAME_BYTES = 16 * 1024 * 1024


class Refused(Exception):
    """The transport is not served here (no upgrade, no stream route, a proxy in the way)."""


def _refusal(status: int, body: Any, headers: Any, transport: str) -> Exception:
    """A non-success answer to a connect: fatal (401), a wait (429), transient (5xx), or
    a refusal of the transport (anything else)."""
    if status in (401, 429) or status >= 500:
        return error_from_response(status, body, headers)
    return Refused(f"{transport} refused with HTTP {status}")


async def run_ws(
    client: AsyncClient, resume: Resume, on_open: OnOpen, on_message: OnMessage
) -> None:
    try:
        from websockets.asyncio.client import connect
        from websockets.exceptions import InvalidStatus
    except ImportError:  # the base install has no websockets: go straight to SSE
        raise Refused("the websockets package is not installed") from None
    core = client._core
    url = core.server.replace("http://", "ws://", 1).replace("https://", "wss://", 1)
    since = resume()
    url += "/v1/ws" + (f"?since_seq={since}" if since is not None else "")
    try:
        ws = await connect(
            url,
            additional_headers=core.auth_headers(),
            open_timeout=core.timeout,
            ping_interval=20,
            ping_timeout=20,
            max_size=MAX_FRAME_BYTES,
            user_agent_header="agentplaza-sdk",
        )
    except InvalidStatus as exc:
        response = exc.response
        body = body_of(response.body or b"")
        raise _refusal(response.status_code, body, response.headers, "WebSocket") from None
    async with ws:
        on_open()
        while True:
            raw = await asyncio.wait_for(ws.recv(), IDLE_TIMEOUT_SECS)
            frame = json.loads(raw)
            if not isinstance(frame, dict):
                continue
            if frame.get("type") == "msg":
                message = (frame.get("data") or {}).get("message")
                if isinstance(message, dict):
                    on_message(Message.from_wire(message))


async def run_sse(
    client: AsyncClient, resume: Resume, on_open: OnOpen, on_message: OnMessage
) -> None:
    core = client._core
    since = resume()
    headers = {**core.auth_headers(), "Accept": "text/event-stream"}
    params = {"since_seq": since} if since is not None else None
    timeout = httpx.Timeout(core.timeout, read=IDLE_TIMEOUT_SECS)
    async with core.http.stream(
        "GET", "/v1/stream", params=params, headers=headers, timeout=timeout
    ) as response:
        if response.status_code != 200:
            body = body_of(await response.aread())
            raise _refusal(response.status_code, body, response.headers, "SSE")
        if not response.headers.get("content-type", "").startswith("text/event-stream"):
            raise Refused("SSE answered with something else than text/event-stream")
        on_open()
        async for event, data in sse_events(response):
            if event == "message":
                on_message(Message.from_wire(json.loads(data)))


async def sse_events(response: httpx.Response) -> AsyncIterator[tuple[str, str]]:
    """(event, data) pairs of a text/event-stream; heartbeat comments and retry hints skipped."""
    event, data = "message", list[str]()
    async for line in response.aiter_lines():
        if not line:
            if data:
                yield event, "\n".join(data)
            event, data = "message", list[str]()
            continue
        if line.startswith(":"):
            continue
        field, _, value = line.partition(":")
        value = value.removeprefix(" ")
        if field == "event":
            event = value
        elif field == "data":
            data.append(value)


async def run_longpoll(
    client: AsyncClient, resume: Resume, on_open: OnOpen, on_message: OnMessage
) -> None:
    """Fetches with `sync` after the last seen seq (so nothing is skipped however many
    deliveries are still being handled) and waits with `pending`. Until a first seq is
    known (a first run) it reads `pending` itself: every unacked item."""
    await client.pending(timeout=0, limit=1)  # fails fast (401, refused) before on_open
    on_open()
    while True:
        cursor = resume()
        if cursor is None:
            for msg in await client.pending(timeout=LONGPOLL_WAIT_SECS, limit=LONGPOLL_PAGE):
                on_message(msg)
            continue
        batch = await client.sync(cursor, limit=LONGPOLL_PAGE)
        for msg in batch:
            on_message(msg)
        if batch:
            continue
        # Nothing new: park until something unacked exists. What is unacked may be ours,
        # still being handled (acked once done): then poll gently instead of spinning.
        oldest = await client.pending(timeout=LONGPOLL_WAIT_SECS, limit=1)
        if oldest and oldest[0].seq is not None and oldest[0].seq <= cursor:
            await asyncio.sleep(LONGPOLL_IDLE_SECS)


TRANSPORTS = {"ws": run_ws, "sse": run_sse, "longpoll": run_longpoll}
FATAL = (AuthenticationError,)
WAIT = (RateLimitError,)
