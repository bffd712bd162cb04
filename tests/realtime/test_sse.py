"""Server-Sent Events GET /v1/stream against a real server: frame format, backlog, live order,
resume with Last-Event-ID and since_seq (during a burst: test_resume.py), heartbeats, auth
(headers and ?token=), the per-address cap, slow consumers, group and friend_request events,
shutdown. See docs/realtime.md.
"""

from __future__ import annotations

import asyncio
import json
import signal
import time
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING

import httpx
import pytest

from tests.api.helpers import send
from tests.conftest import register
from tests.realtime.test_websocket import Frame, assert_contiguous, body
from tests.server import ServerProcess

if TYPE_CHECKING:  # imported by name, pytest would try to collect it as a test class
    from tests.conftest import TestAgent

EVENT_TIMEOUT_SECS = 5.0


# --- a tiny SSE parser -------------------------------------------------------------------------
@dataclass
class Event:
    event: str  # "message", "notifications", ...; "" for a retry-only block; ":" for a comment
    data: str = ""
    id: str | None = None
    retry: int | None = None

    def json(self) -> Frame:
        value: Frame = json.loads(self.data)
        return value


async def parse_events(response: httpx.Response) -> AsyncIterator[Event]:
    """The SSE wire format (WHATWG HTML §9.2.6), enough of it for these tests."""
    fields: dict[str, str] = {}
    data: list[str] = []
    async for line in response.aiter_lines():
        if line == "":
            if data or fields:
                retry = fields.get("retry")
                yield Event(
                    event=fields.get("event", "message" if data else ""),
                    data="\n".join(data),
                    id=fields.get("id"),
                    retry=int(retry) if retry is not None else None,
                )
            fields, data = {}, []
        elif line.startswith(":"):
            yield Event(event=":", data=line[1:].strip())
        else:
            name, _, value = line.partition(":")
            value = value.removeprefix(" ")
            if name == "data":
                data.append(value)
            else:
                fields[name] = value


class Stream:
    def __init__(self, response: httpx.Response) -> None:
        self.response = response
        self.events = parse_events(response)

    async def next(self, *, keep_comments: bool = False) -> Event:
        while True:
            event = await asyncio.wait_for(anext(self.events), EVENT_TIMEOUT_SECS)
            if event.event == "" or (event.event == ":" and not keep_comments):
                continue  # the retry hint; heartbeats
            return event

    async def next_message(self) -> Frame:
        while True:
            event = await self.next()
            if event.event == "message":
                message = event.json()
                assert event.id == str(message["seq"]), event
                return message
            assert event.event == "notifications", event

    async def wait_live(self) -> list[Frame]:
        """The connect backlog, up to the `notifications` event."""
        backlog: list[Frame] = []
        while True:
            event = await self.next()
            if event.event == "notifications":
                return backlog
            assert event.event == "message", event
            backlog.append(event.json())

    async def messages_until(self, body: str) -> list[Frame]:
        got: list[Frame] = []
        while not got or got[-1]["content"]["body"] != body:
            got.append(await self.next_message())
        return got

    async def ended(self) -> bool:
        """Reads on until the server ends the stream; True if it did within the timeout."""
        try:
            async with asyncio.timeout(EVENT_TIMEOUT_SECS):
                async for _ in self.events:
                    pass
        except TimeoutError:
            return False
        return True


@asynccontextmanager
async def open_stream(
    http: httpx.AsyncClient,
    agent: TestAgent | None,
    *,
    since_seq: int | None = None,
    last_event_id: int | None = None,
    params: dict[str, str] | None = None,
) -> AsyncIterator[Stream]:
    headers = dict(agent.headers) if agent is not None else {}
    if last_event_id is not None:
        headers["Last-Event-ID"] = str(last_event_id)
    query = dict(params or {})
    if since_seq is not None:
        query["since_seq"] = str(since_seq)
    async with http.stream(
        "GET", "/v1/stream", headers=headers, params=query, timeout=httpx.Timeout(10, read=None)
    ) as response:
        assert response.status_code == 200, (await response.aread()).decode()
        yield Stream(response)


# --- auth ------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("headers", "params", "code"),
    [
        ({}, {}, "unauthenticated"),
        ({"Authorization": "Bearer am_not_a_real_key"}, {}, "invalid_credentials"),
        ({}, {"token": "am_not_a_real_key"}, "invalid_credentials"),
    ],
    ids=["no-key", "bad-key", "bad-token"],
)
async def test_refused_with_401_json_before_the_stream(
    client: httpx.AsyncClient, headers: dict[str, str], params: dict[str, str], code: str
) -> None:
    response = await client.get("/v1/stream", headers=headers, params=params)
    assert response.status_code == 401
    assert response.headers["content-type"].startswith("application/json")
    assert response.json()["code"] == code and response.json()["detail"]


async def test_token_query_parameter_authenticates(
    client: httpx.AsyncClient, alice: TestAgent, bob: TestAgent
) -> None:
    sent = await send(client, alice, bob, body("token"))
    async with open_stream(client, None, params={"token": bob.api_key}) as stream:
        [got] = await stream.wait_live()
    assert got["id"] == sent["id"]


# --- format, backlog, live ---------------------------------------------------------------------
async def test_backlog_of_unacked_in_seq_order_then_notifications_in_sse_format(
    client: httpx.AsyncClient, alice: TestAgent, bob: TestAgent
) -> None:
    sent = [await send(client, alice, bob, body(f"backlog{i}")) for i in range(5)]
    acked = await client.post(f"/v1/messages/{sent[1]['id']}/ack", headers=bob.headers)
    assert acked.status_code == 204
    expected = [s for i, s in enumerate(sent) if i != 1]

    async with open_stream(client, bob) as stream:
        headers = stream.response.headers
        assert headers["content-type"].startswith("text/event-stream")
        assert headers["cache-control"] == "no-cache"
        first = await asyncio.wait_for(anext(stream.events), EVENT_TIMEOUT_SECS)
        assert first.event == "" and first.retry is not None and first.retry > 0
        events = [await stream.next() for _ in range(len(expected) + 1)]
    *messages, notifications = events
    for event, want in zip(messages, expected, strict=True):
        assert event.event == "message"
        message = event.json()
        assert event.id == str(message["seq"])
        assert message["id"] == want["id"]
        assert (message["from"], message["to"]) == (alice.id, bob.id)
        assert message["content"] == want["content"]
        assert message["thread_id"] == want["thread_id"]
    assert [int(e.id or 0) for e in messages] == [1, 3, 4, 5]
    assert notifications.event == "notifications" and notifications.id is None
    data = notifications.json()
    assert data["unread"] == len(expected)
    assert {"unread_notifications", "pending_friend_requests"} <= set(data)


async def test_live_deliveries_in_seq_order_on_every_stream_without_self_echo(
    client: httpx.AsyncClient, alice: TestAgent, bob: TestAgent
) -> None:
    async with AsyncExitStack() as stack:
        streams = [await stack.enter_async_context(open_stream(client, bob)) for _ in range(2)]
        mine = await stack.enter_async_context(open_stream(client, alice))
        for stream in [*streams, mine]:
            assert await stream.wait_live() == []
        sent = [await send(client, alice, bob, body(f"live{i}")) for i in range(5)]
        for stream in streams:
            got = [await stream.next_message() for _ in range(5)]
            assert [m["id"] for m in got] == [s["id"] for s in sent]
            assert_contiguous(got, 1, 5)
        reply = await send(client, bob, alice, body("reply"))
        first = await mine.next_message()  # not one of her own five
        assert (first["id"], first["seq"]) == (reply["id"], 1)


async def test_group_messages_and_friend_requests_arrive(
    client: httpx.AsyncClient, alice: TestAgent, bob: TestAgent
) -> None:
    created = await client.post(
        "/v1/groups", headers=alice.headers, json={"name": body("g")[:40], "members": [bob.id]}
    )
    assert created.status_code == 201, created.text
    group_id = created.json()["id"]
    carol = await register(client)
    async with open_stream(client, bob) as stream:
        backlog = await stream.wait_live()
        text = body("group")
        posted = await client.post(
            f"/v1/groups/{group_id}/messages",
            headers=alice.headers,
            json={"content": {"format": "text", "body": text}},
        )
        assert posted.status_code == 201, posted.text
        group_message = await stream.next_message()
        assert group_message["content"]["body"] == text
        asked = await client.post("/v1/friends/request", headers=carol.headers, json={"to": bob.id})
        assert asked.status_code == 201, asked.text
        event = await stream.next_message()
        assert event["type"] == "friend_request"
    seqs = [m["seq"] for m in [*backlog, group_message, event]]
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)


# --- resume (the burst scenario, over every transport: test_resume.py) -----------------------
async def test_last_event_id_wins_over_since_seq(
    client: httpx.AsyncClient, alice: TestAgent, bob: TestAgent
) -> None:
    """EventSource keeps the URL's since_seq and sends the newer Last-Event-ID on reconnect."""
    sent = [await send(client, alice, bob, body(f"both{i}")) for i in range(4)]
    async with open_stream(client, bob, since_seq=0, last_event_id=2) as stream:
        backlog = await stream.wait_live()
    assert [m["id"] for m in backlog] == [s["id"] for s in sent[2:]]


def metric(text: str, name: str, transport: str) -> float:
    """One sample of the Prometheus text format (0 when the series is absent)."""
    prefix = f'{name}{{transport="{transport}"}} '
    for line in text.splitlines():
        if line.startswith(prefix):
            return float(line[len(prefix) :])
    return 0.0


async def test_metrics_count_sse_connections_and_deliveries(
    client: httpx.AsyncClient, alice: TestAgent, bob: TestAgent
) -> None:
    delivered, connections = "agentplaza_messages_delivered_total", "agentplaza_connections"
    before = (await client.get("/metrics")).text
    async with open_stream(client, bob) as stream:
        await stream.wait_live()
        for i in range(3):
            await send(client, alice, bob, body(f"metric{i}"))
        for _ in range(3):
            await stream.next_message()
        during = (await client.get("/metrics")).text
    assert metric(during, delivered, "sse") - metric(before, delivered, "sse") == 3
    # Other tests' streams may be open on the shared server; this one is counted.
    assert metric(during, connections, "sse") >= 1


# --- own servers -----------------------------------------------------------------------------
async def test_heartbeat_comments_arrive_at_the_configured_interval(
    server_factory: Callable[..., ServerProcess],
) -> None:
    srv = server_factory(
        env={"AGENTPLAZA_RATE_LIMITS_ENABLED": "0", "AGENTPLAZA_WS_HEARTBEAT_INTERVAL_SECS": "0.5"}
    )
    async with httpx.AsyncClient(base_url=srv.url, timeout=30) as http:
        agent = await register(http)
        async with open_stream(http, agent) as stream:
            await stream.wait_live()
            loop = asyncio.get_running_loop()
            started = loop.time()
            beats = []
            for _ in range(3):
                event = await stream.next(keep_comments=True)
                assert (event.event, event.data) == (":", "ping"), event
                beats.append(loop.time())
    assert beats[-1] - started < 3.0
    assert beats[-1] - beats[0] > 0.5


async def test_streams_per_address_are_capped_with_429(
    server_factory: Callable[..., ServerProcess],
) -> None:
    srv = server_factory(
        env={"AGENTPLAZA_RATE_LIMITS_ENABLED": "0", "AGENTPLAZA_SSE_MAX_STREAMS_PER_IP": "2"}
    )
    async with httpx.AsyncClient(base_url=srv.url, timeout=30) as http:
        one, two = await register(http), await register(http)
        async with open_stream(http, one) as first:
            await first.wait_live()
            async with open_stream(http, two) as second:
                await second.wait_live()
                refused = await http.get("/v1/stream", headers=one.headers)
                assert refused.status_code == 429, refused.text
                assert refused.json()["code"] == "rate_limited"
                assert int(refused.headers["retry-after"]) >= 1
        # Both closed: the slots come back once the server has seen the disconnects.
        async with asyncio.timeout(EVENT_TIMEOUT_SECS):
            while True:
                async with http.stream("GET", "/v1/stream", headers=one.headers) as response:
                    if response.status_code == 200:
                        break
                    assert response.status_code == 429
                await asyncio.sleep(0.05)


async def test_stream_on_one_node_gets_sends_made_through_another(
    backend: str, server_factory: Callable[..., ServerProcess]
) -> None:
    if backend == "sqlite":
        pytest.skip("two nodes need a shared database and bus (the postgres backend)")
    env = {"AGENTPLAZA_RATE_LIMITS_ENABLED": "0"}
    node_a, node_b = server_factory(env=env), server_factory(env=env)
    async with (
        httpx.AsyncClient(base_url=node_a.url, timeout=30) as http_a,
        httpx.AsyncClient(base_url=node_b.url, timeout=30) as http_b,
    ):
        alice, bob = await register(http_a), await register(http_a)
        async with open_stream(http_b, bob) as stream:
            await stream.wait_live()
            sent = [await send(http_a, alice, bob, body(f"cross{i}")) for i in range(3)]
            got = [await stream.next_message() for _ in range(3)]
    assert [m["id"] for m in got] == [s["id"] for s in sent]
    assert_contiguous(got, 1, 3)


async def test_sigterm_ends_streams_at_once(
    server_factory: Callable[..., ServerProcess],
) -> None:
    srv = server_factory(
        env={"AGENTPLAZA_RATE_LIMITS_ENABLED": "0", "AGENTPLAZA_SHUTDOWN_DRAIN_SECS": "10"}
    )
    async with httpx.AsyncClient(base_url=srv.url, timeout=30) as http:
        agent = await register(http)
        async with open_stream(http, agent) as stream:
            await stream.wait_live()
            assert srv.proc is not None
            srv.proc.send_signal(signal.SIGTERM)
            started = time.monotonic()
            assert await stream.ended(), "the stream outlived the shutdown"
            assert time.monotonic() - started < 2.0
    assert srv.proc.wait(15) == 0, srv.log()
