"""Resume on every push transport (WebSocket `since_seq`; SSE `Last-Event-ID` and
`since_seq`): a client that reconnects while a burst is being sent gets exactly what it missed,
acked or not, each once and in order; a client too slow to read is cut off and resumes without
loss. Each scenario runs over each way to resume."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Protocol
from urllib.parse import urlsplit

import httpx
import pytest
from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosed

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
        async with ws.open_ws(server, agent, since_seq=after_seq, max_size=None) as conn:
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


def _kernel_max(path: str, default: int) -> int:
    try:
        return int(Path(path).read_text().split()[-1])
    except (OSError, ValueError, IndexError):
        return default


@asynccontextmanager
async def _not_reading(
    transport: str, server: ServerProcess, agent: TestAgent, rcvbuf: int
) -> AsyncIterator[Callable[[], Awaitable[list[ws.Frame]]]]:
    """A live push connection on a socket with a small fixed receive buffer (no autotuning),
    left unread; yields `read_until_cut()`, which reads on until the server cuts it off
    (a WebSocket with close code 1013, a stream by ending it): the messages read."""
    if transport == "ws":
        host, port = urlsplit(server.url).hostname, urlsplit(server.url).port
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        sock.setblocking(False)
        await asyncio.get_running_loop().sock_connect(sock, (host, port))
        # The websockets client buffers at most one frame (max_queue=1).
        async with ws.open_ws(server, agent, sock=sock, max_queue=1, max_size=None) as conn:
            await ws.wait_live(conn)

            async def read_ws() -> list[ws.Frame]:
                got: list[ws.Frame] = []
                with pytest.raises(ConnectionClosed) as closed:
                    while True:
                        got.append(await ws.next_message(conn))
                assert closed.value.rcvd is not None
                assert closed.value.rcvd.code == ws.CLOSE_TRY_AGAIN_LATER
                return got

            yield read_ws
        return
    small = httpx.AsyncHTTPTransport(socket_options=[(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)])
    async with (
        httpx.AsyncClient(base_url=server.url, timeout=30, transport=small) as slow,
        sse.open_stream(slow, agent) as stream,
    ):
        await stream.wait_live()

        async def read_sse() -> list[ws.Frame]:
            got: list[ws.Frame] = []
            async with asyncio.timeout(30):
                async for event in stream.events:  # reads on until the server ends it
                    if event.event == "message":
                        got.append(event.json())
            return got

        yield read_sse


@pytest.mark.parametrize("cap", ["messages", "bytes"])
@pytest.mark.parametrize("how", ["ws-since-seq", "sse-last-event-id"])
async def test_slow_consumer_is_cut_off_and_resumes_without_loss(
    server_factory: Callable[..., ServerProcess], how: str, cap: str
) -> None:
    """A reader that stops reading fills its socket; the server's per-connection queue then
    overflows and it ends the connection (after what is already in the pipe); a resume
    recovers everything.

    Deterministic by sizing: once more bytes are sent than the server's socket send buffer can
    ever hold (tcp_wmem max) plus the client's small fixed receive buffer plus the queue
    limit, the overflow must have happened.

    A WebSocket's 1013 close frame is queued behind the bytes already buffered, so the client
    sees it when it reads again; that is what this test checks. (A client that never reads
    again is not covered: the server cannot get the close frame out to it.)
    """
    queue_max = 4
    body_bytes = 256 * 1024
    srv = server_factory(
        env={
            "AGENTPLAZA_RATE_LIMITS_ENABLED": "0",
            # The same queue of `queue_max` deliveries, capped by their count or their size.
            "AGENTPLAZA_WS_SEND_QUEUE_MAX": str(queue_max if cap == "messages" else 1000),
            "AGENTPLAZA_WS_SEND_QUEUE_MAX_BYTES": str(
                100 * 1024 * 1024 if cap == "messages" else queue_max * (body_bytes + 512)
            ),
            "AGENTPLAZA_MAX_MESSAGE_BODY_BYTES": str(body_bytes + 1024),
            "AGENTPLAZA_MAX_BODY_BYTES": str(2 * body_bytes),
        }
    )
    rcvbuf = 64 * 1024
    in_pipe = _kernel_max("/proc/sys/net/ipv4/tcp_wmem", 4 * 1024 * 1024) + 4 * rcvbuf
    count = in_pipe // body_bytes + 4 * queue_max + 8
    bodies = [f"{i:05d}-" + "x" * body_bytes for i in range(count)]
    async with httpx.AsyncClient(base_url=srv.url, timeout=30) as http:
        sender, reader = await register(http), await register(http)
        async with _not_reading(how.split("-")[0], srv, reader, rcvbuf) as read_until_cut:
            for text in bodies:  # the reader is not reading
                await send(http, sender, reader, text)
            got = await read_until_cut()
        assert 0 < len(got) < count, "the slow consumer was not cut off"
        ws.assert_contiguous(got, 1, len(got))

        async with connect(how, srv, http, reader, after_seq=got[-1]["seq"]) as live:
            rest = [await live.next_message() for _ in range(count - len(got))]
    ws.assert_contiguous(got + rest, 1, count)
    assert [m["content"]["body"] for m in got + rest] == bodies
