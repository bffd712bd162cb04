"""WebSocket /v1/ws against a real server: auth, frame shape, backlog, fan-out to several
connections, resume with since_seq (during a burst: test_resume.py), no self-echo,
heartbeats, client ack/ping frames, slow consumers. See agentim-wire.md §6-7.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Callable
from contextlib import AsyncExitStack
from typing import TYPE_CHECKING, Any

import httpx
import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import InvalidStatus

from tests.api.helpers import send, wait_until
from tests.conftest import register
from tests.server import ServerProcess

if TYPE_CHECKING:  # imported by name, pytest would try to collect it as a test class
    from tests.conftest import TestAgent

FRAME_TIMEOUT_SECS = 5.0
CLOSE_TRY_AGAIN_LATER = 1013

Frame = dict[str, Any]


# --- helpers ---------------------------------------------------------------------------------
def ws_url(server: ServerProcess, since_seq: int | None = None) -> str:
    return server.ws_url if since_seq is None else f"{server.ws_url}?since_seq={since_seq}"


def open_ws(
    server: ServerProcess, agent: TestAgent, since_seq: int | None = None, **kwargs: Any
) -> connect:
    return connect(
        ws_url(server, since_seq),
        additional_headers={"Authorization": f"Bearer {agent.api_key}"},
        proxy=None,
        open_timeout=FRAME_TIMEOUT_SECS,
        **kwargs,
    )


async def next_frame(ws: ClientConnection, *, keep_heartbeats: bool = False) -> Frame:
    """The next JSON frame (heartbeats skipped unless asked for), or fail after a timeout."""
    while True:
        raw = await asyncio.wait_for(ws.recv(), FRAME_TIMEOUT_SECS)
        assert isinstance(raw, str), "server frames are text"
        frame = json.loads(raw)
        assert isinstance(frame, dict), raw
        if frame.get("type") != "heartbeat" or keep_heartbeats:
            return frame


async def next_message(ws: ClientConnection) -> Frame:
    """The message object of the next `msg` frame, skipping notifications/heartbeats."""
    while True:
        frame = await next_frame(ws)
        if frame["type"] == "msg":
            assert set(frame) == {"type", "data"}, frame
            assert set(frame["data"]) == {"message"}, frame
            message: Frame = frame["data"]["message"]
            assert isinstance(message["seq"], int)
            return message
        assert frame["type"] == "notifications", frame


async def messages_until(ws: ClientConnection, body: str) -> list[Frame]:
    """Every message up to and including the one with `body` (a sentinel)."""
    got: list[Frame] = []
    while not got or got[-1]["content"]["body"] != body:
        got.append(await next_message(ws))
    return got


async def wait_live(ws: ClientConnection) -> list[Frame]:
    """Read the connect backlog up to the `notifications` frame; the socket is then live."""
    backlog: list[Frame] = []
    while True:
        frame = await next_frame(ws)
        if frame["type"] == "notifications":
            return backlog
        assert frame["type"] == "msg", frame
        backlog.append(frame["data"]["message"])


async def pending_ids(http: httpx.AsyncClient, agent: TestAgent) -> list[str]:
    response = await http.get("/v1/messages/pending", params={"timeout": 0}, headers=agent.headers)
    assert response.status_code == 200, response.text
    return [m["id"] for m in response.json()]


async def sync_all(http: httpx.AsyncClient, agent: TestAgent) -> list[Frame]:
    messages: list[Frame] = []
    since, more = 0, True
    while more:
        response = await http.get(
            "/v1/messages/sync", params={"since_seq": since, "limit": 500}, headers=agent.headers
        )
        assert response.status_code == 200, response.text
        page = response.json()
        messages += page["messages"]
        since, more = page["next_seq"], page["has_more"]
    return messages


def assert_contiguous(messages: list[Frame], first: int, last: int) -> None:
    seqs = [m["seq"] for m in messages]
    assert seqs == list(range(first, last + 1)), seqs
    ids = [m["id"] for m in messages]
    assert len(set(ids)) == len(ids), "a message was delivered twice"


def body(tag: str) -> str:
    return f"{tag}-{uuid.uuid4().hex}"


# --- auth ------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "headers",
    [{"Authorization": "Bearer not-a-real-key"}, {}],
    ids=["bad-key", "no-key"],
)
async def test_handshake_refused_with_401(server: ServerProcess, headers: dict[str, str]) -> None:
    with pytest.raises(InvalidStatus) as info:
        async with connect(server.ws_url, additional_headers=headers, proxy=None):
            pass
    assert info.value.response.status_code == 401
    assert json.loads(info.value.response.body or b"{}")["detail"]


# --- backlog and frame shape -----------------------------------------------------------------
async def test_backlog_of_unacked_pushed_in_order_then_notifications(
    server: ServerProcess, client: httpx.AsyncClient, alice: TestAgent, bob: TestAgent
) -> None:
    sent = [await send(client, alice, bob, body(f"backlog{i}")) for i in range(6)]
    # An acked message is not part of the connect backlog.
    acked = await client.post(f"/v1/messages/{sent[2]['id']}/ack", headers=bob.headers)
    assert acked.status_code == 204
    expected = [s for i, s in enumerate(sent) if i != 2]

    async with open_ws(server, bob) as ws:
        frames = [await next_frame(ws) for _ in range(len(expected) + 1)]
    *msg_frames, notifications = frames
    for frame, want in zip(msg_frames, expected, strict=True):
        assert set(frame) == {"type", "data"} and frame["type"] == "msg", frame
        message = frame["data"]["message"]
        assert message["id"] == want["id"]
        assert message["from"] == alice.id
        assert message["to"] == bob.id
        assert message["content"] == want["content"]
        assert message["thread_id"] == want["thread_id"]
        assert isinstance(message["seq"], int)
    seqs = [f["data"]["message"]["seq"] for f in msg_frames]
    assert seqs == [1, 2, 4, 5, 6]
    assert notifications["type"] == "notifications"
    assert notifications["data"]["unread"] == len(expected)


async def test_live_message_reaches_every_connection_of_the_account(
    server: ServerProcess, client: httpx.AsyncClient, alice: TestAgent, bob: TestAgent
) -> None:
    async with AsyncExitStack() as stack:
        sockets = [await stack.enter_async_context(open_ws(server, bob)) for _ in range(3)]
        for ws in sockets:
            assert await wait_live(ws) == []
        first = await send(client, alice, bob, body("live1"))
        second = await send(client, alice, bob, body("live2"))
        for ws in sockets:
            got = [await next_message(ws), await next_message(ws)]
            assert [m["id"] for m in got] == [first["id"], second["id"]]
            assert [m["seq"] for m in got] == [1, 2]


# --- resume ----------------------------------------------------------------------------------
async def test_repeated_resumes_under_a_continuous_burst_are_seamless(
    server: ServerProcess, client: httpx.AsyncClient, alice: TestAgent, bob: TestAgent
) -> None:
    """Many catch-ups racing live sends: each connection continues exactly at since_seq+1.

    Every resume rewinds REWIND seqs, so each catch-up reads a few hundred rows while the
    burst keeps committing: a delivery that falls between the catch-up read and the live
    feed would show up as a gap or a repeat.
    """
    rewind, prefill = 250, 250
    carol = await register(client)
    sent_bodies: list[str] = []
    done = 0  # sends answered 2xx: the inbox holds at least seqs 1..done

    async def send_some(worker: int, count: int | None, stop: asyncio.Event | None) -> None:
        nonlocal done
        n = 0
        while (count is None or n < count) and not (stop and stop.is_set()):
            text = body(f"w{worker}-{n}")
            sent_bodies.append(text)
            await send(client, alice if worker % 2 else carol, bob, text)
            done += 1
            n += 1
            if stop is not None:
                # Paced: the reader shares this process's CPU and must be able to catch up.
                await asyncio.sleep(0.01)

    await asyncio.gather(*(send_some(w, prefill // 10, None) for w in range(10)))
    stop = asyncio.Event()
    tasks = [asyncio.create_task(send_some(w, None, stop)) for w in range(6)]
    by_seq: dict[int, str] = {}
    head = 0
    try:
        for cycle in range(10):
            since = max(0, head - rewind)
            target = done + 3
            # Unbounded client queue: with frames left unread, a paused websockets client
            # cannot see the server's close reply and close() waits out close_timeout.
            async with open_ws(server, bob, since_seq=since, max_queue=None) as ws:
                expected = since + 1
                while expected <= target:
                    message = await next_message(ws)
                    assert message["seq"] == expected, f"cycle {cycle}: resumed after {since}"
                    assert by_seq.setdefault(message["seq"], message["id"]) == message["id"]
                    expected += 1
                head = expected - 1
    finally:
        stop.set()
        await asyncio.wait_for(asyncio.gather(*tasks), 30)
    sentinel = await send(client, alice, bob, body("sentinel"))
    async with open_ws(server, bob, since_seq=head, max_queue=None) as ws:
        tail = await messages_until(ws, sentinel["content"]["body"])
    assert_contiguous(tail, head + 1, len(sent_bodies) + 1)
    stored = await sync_all(client, bob)
    assert sorted(m["content"]["body"] for m in stored[:-1]) == sorted(sent_bodies)
    assert all(by_seq[m["seq"]] == m["id"] for m in stored if m["seq"] in by_seq)


async def test_resume_from_zero_replays_acked_history(
    server: ServerProcess, client: httpx.AsyncClient, alice: TestAgent, bob: TestAgent
) -> None:
    sent = [await send(client, alice, bob, body(f"hist{i}")) for i in range(4)]
    ack = await client.post("/v1/messages/ack", json={"up_to_seq": 4}, headers=bob.headers)
    assert ack.status_code == 200, ack.text
    async with open_ws(server, bob) as ws:  # fresh connection: nothing unacked
        assert await wait_live(ws) == []
    async with open_ws(server, bob, since_seq=0) as ws:
        backlog = await wait_live(ws)
    assert [m["id"] for m in backlog] == [s["id"] for s in sent]
    assert_contiguous(backlog, 1, 4)


# --- no self-echo ----------------------------------------------------------------------------
async def test_message_is_never_echoed_to_its_sender(
    server: ServerProcess, client: httpx.AsyncClient, alice: TestAgent, bob: TestAgent
) -> None:
    async with open_ws(server, alice) as alice_ws, open_ws(server, bob) as bob_ws:
        await wait_live(alice_ws)
        await wait_live(bob_ws)
        outgoing = [await send(client, alice, bob, body(f"out{i}")) for i in range(3)]
        received = [await next_message(bob_ws) for _ in range(3)]
        assert [m["id"] for m in received] == [m["id"] for m in outgoing]
        reply = await send(client, bob, alice, body("reply"))
        # Alice's first delivery is Bob's reply, not one of her own messages.
        first = await next_message(alice_ws)
        assert first["id"] == reply["id"]
        assert first["from"] == bob.id
        assert first["seq"] == 1
    assert [m["id"] for m in await sync_all(client, alice)] == [reply["id"]]


# --- client frames ---------------------------------------------------------------------------
async def test_ping_frame_gets_pong(server: ServerProcess, bob: TestAgent) -> None:
    async with open_ws(server, bob) as ws:
        await wait_live(ws)
        await ws.send(json.dumps({"type": "ping"}))
        frame = await next_frame(ws)
        assert frame["type"] == "pong"


async def test_ack_frame_acknowledges(
    server: ServerProcess, client: httpx.AsyncClient, alice: TestAgent, bob: TestAgent
) -> None:
    async with open_ws(server, bob) as ws:
        await wait_live(ws)
        first = await send(client, alice, bob, body("ack-me"))
        second = await send(client, alice, bob, body("keep-me"))
        got = [await next_message(ws), await next_message(ws)]
        assert [m["id"] for m in got] == [first["id"], second["id"]]
        assert await pending_ids(client, bob) == [first["id"], second["id"]]

        await ws.send(json.dumps({"type": "ack", "id": first["id"]}))
        # Client frames are handled in order: the pong proves the ack before it is done.
        await ws.send(json.dumps({"type": "ping"}))
        assert (await next_frame(ws))["type"] == "pong"
        assert await pending_ids(client, bob) == [second["id"]]

        await ws.send(json.dumps({"type": "ack", "up_to_seq": got[1]["seq"]}))
        await ws.send(json.dumps({"type": "ping"}))
        assert (await next_frame(ws))["type"] == "pong"
        assert await pending_ids(client, bob) == []

        # Acking something that is not in the inbox is reported, and the socket stays up.
        await ws.send(json.dumps({"type": "ack", "id": "m_does_not_exist"}))
        error = await next_frame(ws)
        assert error["type"] == "error", error
        await ws.send(json.dumps({"type": "ping"}))
        assert (await next_frame(ws))["type"] == "pong"


# --- own servers -----------------------------------------------------------------------------
async def test_heartbeats_arrive_at_the_configured_interval(
    server_factory: Callable[..., ServerProcess],
) -> None:
    srv = server_factory(
        env={"AGENTPLAZA_RATE_LIMITS_ENABLED": "0", "AGENTPLAZA_WS_HEARTBEAT_INTERVAL_SECS": "0.5"}
    )
    async with httpx.AsyncClient(base_url=srv.url, timeout=30) as http:
        agent = await register(http)
    async with open_ws(srv, agent) as ws:
        await wait_live(ws)
        loop = asyncio.get_running_loop()
        started = loop.time()
        beats = []
        for _ in range(3):
            frame = await next_frame(ws, keep_heartbeats=True)
            assert frame["type"] == "heartbeat", frame
            beats.append(loop.time())
        # Three beats at a 0.5 s interval: well under the 25 s default, not a burst.
        assert beats[-1] - started < 3.0
        assert beats[-1] - beats[0] > 0.5


async def test_websockets_per_address_are_capped_with_429(
    server_factory: Callable[..., ServerProcess],
) -> None:
    """`ws_max_connections_per_ip` open sockets per client address (the forwarded one
    behind a trusted proxy); the next handshake gets a 429; a closed socket frees its slot."""
    srv = server_factory(
        env={
            "AGENTPLAZA_RATE_LIMITS_ENABLED": "0",
            "AGENTPLAZA_WS_MAX_CONNECTIONS_PER_IP": "2",
            "AGENTPLAZA_TRUST_FORWARDED_FOR": "1",
        }
    )

    def from_address(agent: TestAgent, address: str) -> connect:
        return connect(
            srv.ws_url,
            additional_headers={**agent_headers(agent), "X-Forwarded-For": address},
            proxy=None,
            open_timeout=FRAME_TIMEOUT_SECS,
        )

    async with httpx.AsyncClient(base_url=srv.url, timeout=30) as http:
        one, two = await register(http), await register(http)
        async with AsyncExitStack() as stack:
            first = await stack.enter_async_context(from_address(one, "203.0.113.1"))
            await next_frame(first)
            await next_frame(await stack.enter_async_context(from_address(two, "203.0.113.1")))
            with pytest.raises(InvalidStatus) as refused:
                async with from_address(one, "203.0.113.1"):
                    pass
            assert refused.value.response.status_code == 429
            body = json.loads(refused.value.response.body or b"{}")
            assert body["code"] == "rate_limited" and "at most 2" in body["detail"]
            assert int(refused.value.response.headers["Retry-After"]) >= 1
            # Another address has slots of its own.
            async with from_address(one, "203.0.113.2") as other:
                await next_frame(other)
            await first.close()

            async def slot_is_back() -> bool:
                try:
                    async with from_address(one, "203.0.113.1") as again:
                        await next_frame(again)
                except InvalidStatus as exc:
                    assert exc.response.status_code == 429
                    return False
                return True

            await wait_until(slot_is_back, within=FRAME_TIMEOUT_SECS, what="a freed slot")


def agent_headers(agent: TestAgent) -> dict[str, str]:
    return {"Authorization": f"Bearer {agent.api_key}"}
