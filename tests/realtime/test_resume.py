"""Resume on every push transport (WebSocket `since_seq`; SSE `Last-Event-ID` and
`since_seq`): a client that reconnects while a burst is being sent gets exactly what it missed,
acked or not, each once and in order. One scenario, run over each way to resume."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Protocol

import httpx
import pytest
from websockets.asyncio.client import ClientConnection

from tests.api.helpers import send
from tests.conftest import register
from tests.realtime import test_sse as sse
from tests.realtime import test_websocket as ws
from tests.server import ServerProcess

if TYPE_CHECKING:  # imported by name, pytest would try to collect it as a test class
    from tests.conftest import TestAgent

TIMEOUT_SECS = 5.0


class Live(Protocol):
    async def wait_live(self) -> list[ws.Frame]: ...
    async def next_message(self) -> ws.Frame: ...
    async def messages_until(self, body: str) -> list[ws.Frame]: ...


class _WebSocket:
    def __init__(self, conn: ClientConnection) -> None:
        self._conn = conn

    async def wait_live(self) -> list[ws.Frame]:
        return await ws.wait_live(self._conn)

    async def next_message(self) -> ws.Frame:
        return await ws.next_message(self._conn)

    async def messages_until(self, body: str) -> list[ws.Frame]:
        return await ws.messages_until(self._conn, body)


@asynccontextmanager
async def connect(
    how: str,
    server: ServerProcess,
    client: httpx.AsyncClient,
    agent: TestAgent,
    after_seq: int | None = None,
) -> AsyncIterator[Live]:
    """A live push connection for `agent`, resuming after `after_seq` the way `how` says."""
    if how == "ws-since-seq":
        async with ws.open_ws(server, agent, since_seq=after_seq) as conn:
            yield _WebSocket(conn)
    elif how == "sse-last-event-id":
        async with sse.open_stream(client, agent, last_event_id=after_seq) as stream:
            yield stream
    else:
        async with sse.open_stream(client, agent, since_seq=after_seq) as stream:
            yield stream


@pytest.mark.parametrize("how", ["ws-since-seq", "sse-last-event-id", "sse-since-seq"])
async def test_resume_gets_exactly_what_was_missed_even_during_a_burst(
    server: ServerProcess, client: httpx.AsyncClient, alice: TestAgent, bob: TestAgent, how: str
) -> None:
    carol = await register(client)
    async with connect(how, server, client, bob) as live:
        await live.wait_live()
        for i in range(3):
            await send(client, alice, bob, ws.body(f"before{i}"))
        seen = [await live.next_message() for _ in range(3)]
    ws.assert_contiguous(seen, 1, 3)
    # Acked or not, a resume continues after the position: ack one of the missed ones.
    offline = [await send(client, carol, bob, ws.body(f"offline{i}")) for i in range(3)]
    acked = await client.post(f"/v1/messages/{offline[0]['id']}/ack", headers=bob.headers)
    assert acked.status_code == 204

    burst_size, workers = 40, 8
    started = asyncio.Event()
    burst_bodies: list[str] = []

    async def burst(worker: int) -> None:
        for i in range(worker, burst_size, workers):
            text = ws.body(f"burst{i}")
            burst_bodies.append(text)
            await send(client, alice if i % 2 else carol, bob, text)
            started.set()

    tasks = [asyncio.create_task(burst(w)) for w in range(workers)]
    await asyncio.wait_for(started.wait(), TIMEOUT_SECS)
    async with connect(how, server, client, bob, after_seq=3) as live:  # during the burst
        await asyncio.wait_for(asyncio.gather(*tasks), 30)
        sentinel = await send(client, alice, bob, ws.body("sentinel"))
        got = await live.messages_until(sentinel["content"]["body"])
    ws.assert_contiguous(got, 4, 3 + len(offline) + burst_size + 1)
    got_bodies = [m["content"]["body"] for m in got]
    assert got_bodies[:3] == [m["content"]["body"] for m in offline]
    assert set(got_bodies[3:-1]) == set(burst_bodies)
