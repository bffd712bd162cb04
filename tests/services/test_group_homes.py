"""services/group_homes.py between two nodes on a real Redis or NATS bus, each node's store
played by a function: what a forward ends with when the home answers, refuses, fails, stops,
goes silent, or the bus loses publications or is cut."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field

import orjson
import pytest

from agentplaza.bus.base import RESYNC, Bus, BusError
from agentplaza.domain.errors import ErrorCode, Forbidden, NotFound
from agentplaza.domain.group_homes import (
    ALIVE_INTERVAL_SECS,
    CONTENDED_SECS,
    NODES_TOPIC,
    REPORT_INTERVAL_SECS,
    node_topic,
)
from agentplaza.domain.ids import AccountId, MessageId, ThreadId
from agentplaza.domain.messages import Message, MessageFormat, MessageType
from agentplaza.metrics import GROUP_SENDS_ROUTED
from agentplaza.services.group_homes import GroupHomes
from agentplaza.services.sending import Author, Sent
from agentplaza.store.errors import StoreError
from tests import backends
from tests.brokers import NETWORK, Broker, broker_url

AUTHOR = Author(AccountId("10001"), "Ada")
MESSAGE = Message(
    id=MessageId("m_01JZZZZZZZZZZZZZZZZZZZZZZZ"),
    sender_id=AccountId("10001"),
    recipient_id=None,
    thread_id=ThreadId("g_group"),
    reply_to=MessageId("m_01JYYYYYYYYYYYYYYYYYYYYYYY"),
    type=MessageType.REQUEST,
    format=MessageFormat.MARKDOWN,
    body="**hello** ✓",
    created_at_us=1_765_000_000_123_456,
    signature="3045abcd",
    signer_public_key="-----BEGIN PUBLIC KEY-----\nx\n-----END PUBLIC KEY-----\n",
)


@dataclass
class Node:
    """A GroupHomes on a bus of its own, its bus events pumped in as the hub would, its store
    a function the test sets."""

    bus: Bus
    homes: GroupHomes
    stored: list[tuple[Author, Message, str | None, int]] = field(default_factory=list)
    answer: Callable[[Message], Sent] = lambda m: Sent(m, False, 3)
    hold: asyncio.Event | None = None

    async def store_and_publish(
        self, author: Author, message: Message, key: str | None, now_us: int
    ) -> Sent:
        self.stored.append((author, message, key, now_us))
        if self.hold is not None:
            await self.hold.wait()
        return self.answer(message)


MakeNode = Callable[..., Awaitable["Node"]]


@pytest.fixture(params=NETWORK)
async def broker(request: pytest.FixtureRequest) -> AsyncIterator[Broker]:
    found = Broker(request.param, broker_url(request.param), backends.unique_namespace())
    yield found
    await found.close()


@pytest.fixture
async def nodes(broker: Broker) -> AsyncIterator[MakeNode]:
    made: list[tuple[Node, asyncio.Task[None]]] = []

    async def make(name: str, url: str | None = None) -> Node:
        bus = await broker.open(url=url)
        node = Node(bus, GroupHomes(bus, name, lambda *a: node.store_and_publish(*a)))

        async def pump() -> None:
            async for topic, payload in bus.events():
                node.homes.on_bus_event(topic, payload)

        task = asyncio.get_running_loop().create_task(pump())
        await node.homes.start()
        made.append((node, task))
        return node

    yield make
    for node, task in made:
        await node.homes.stop()
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def two(make: MakeNode) -> tuple[Node, Node]:
    a, b = await make("a:1"), await make("b:2")
    deadline = time.monotonic() + 5 * ALIVE_INTERVAL_SECS
    while len(a.homes.live_nodes()) < 2 or len(b.homes.live_nodes()) < 2:
        assert time.monotonic() < deadline, "the nodes did not hear each other"
        await asyncio.sleep(0.05)
    return a, b


def group_homed_on(at: Node, home: Node) -> str:
    """A group whose home, as `at` sees it, is `home`."""
    return next(
        g for g in (f"g_{n}" for n in range(1000)) if at.homes.home_of(g) == home.homes.node
    )


async def until(condition: Callable[[], bool]) -> None:
    deadline = time.monotonic() + 5.0
    while not condition():
        assert time.monotonic() < deadline, "the condition did not come true"
        await asyncio.sleep(0.01)


def count(outcome: str) -> float:
    return float(GROUP_SENDS_ROUTED.labels(outcome)._value.get())


async def test_a_group_goes_to_its_home_only_while_sends_of_it_arrive_elsewhere(
    nodes: MakeNode,
) -> None:
    a, b = await two(nodes)
    group = group_homed_on(a, b)
    a.homes.storing_here(group)  # a's own sends: nothing to contend with
    await asyncio.sleep(3 * REPORT_INTERVAL_SECS)
    assert a.homes.remote_home(group) is None and b.homes.remote_home(group) is None
    b.homes.storing_here(group)  # the home stores sends that arrived there: contended
    await until(lambda: a.homes.remote_home(group) == b.homes.node)
    assert b.homes.remote_home(group) is None  # the home stores its own
    # From now on the home stores only what a forwards: a's sends alone, not contended.
    started = time.monotonic()
    while a.homes.remote_home(group) is not None:
        b.homes.storing_here(group, origin=a.homes.node)
        assert time.monotonic() - started < CONTENDED_SECS + 1.0
        await asyncio.sleep(REPORT_INTERVAL_SECS / 2)
    assert time.monotonic() - started > CONTENDED_SECS - REPORT_INTERVAL_SECS
    other = next(g for g in (f"h_{n}" for n in range(1000)) if a.homes.home_of(g) == "b:2")
    # A third node's sends of a group make it contended here.
    a.homes.on_bus_event(NODES_TOPIC, orjson.dumps(["stored", "c:3", {other: ["c:3"]}]))
    assert a.homes.remote_home(other) == b.homes.node


async def test_the_home_stores_the_send_and_its_answer_comes_back_whole(
    nodes: MakeNode,
) -> None:
    a, b = await two(nodes)
    group = group_homed_on(a, b)
    assert b.homes.remote_home(group) is None  # b stores it itself
    sent = await a.homes.forward(b.homes.node, AUTHOR, MESSAGE, "key-1", 42)
    assert sent == Sent(MESSAGE, False, 3)
    assert b.stored == [(AUTHOR, MESSAGE, "key-1", 42)] and a.stored == []
    b.answer = lambda m: Sent(m, True, 0)  # a replayed idempotency key
    assert await a.homes.forward(b.homes.node, AUTHOR, MESSAGE, None, 43) == Sent(MESSAGE, True, 0)


async def test_refusals_and_failures_come_back_as_they_were_raised(
    nodes: MakeNode,
) -> None:
    a, b = await two(nodes)

    def refuse(error: Exception) -> Callable[[Message], Sent]:
        def answer(_: Message) -> Sent:
            raise error

        return answer

    b.answer = refuse(Forbidden("you are muted in this group", ErrorCode.MUTED))
    with pytest.raises(Forbidden) as muted:
        await a.homes.forward(b.homes.node, AUTHOR, MESSAGE, None, 1)
    assert (muted.value.status, muted.value.code, muted.value.detail) == (
        403,
        ErrorCode.MUTED,
        "you are muted in this group",
    )
    b.answer = refuse(NotFound("no such group", ErrorCode.GROUP_NOT_FOUND))
    with pytest.raises(NotFound) as missing:
        await a.homes.forward(b.homes.node, AUTHOR, MESSAGE, None, 1)
    assert missing.value.status == 404 and missing.value.code is ErrorCode.GROUP_NOT_FOUND
    b.answer = refuse(RuntimeError("the database went away"))
    with pytest.raises(StoreError, match="the database went away"):
        await a.homes.forward(b.homes.node, AUTHOR, MESSAGE, None, 1)


async def test_a_stopping_home_stores_nothing_more_and_says_redo(
    nodes: MakeNode,
) -> None:
    a, b = await two(nodes)
    group = group_homed_on(a, b)
    b.homes.storing_here(group)  # contended: a forwards it to b
    await until(lambda: a.homes.remote_home(group) == b.homes.node)
    b.hold = asyncio.Event()
    in_flight = asyncio.get_running_loop().create_task(
        a.homes.forward(b.homes.node, AUTHOR, MESSAGE, None, 1)
    )
    await until(lambda: bool(b.stored))
    stopping = asyncio.get_running_loop().create_task(b.homes.stop())
    await asyncio.sleep(0.2)
    assert not stopping.done()  # it waits for the send it is storing
    # Meanwhile `a` heard "down": its groups are stored at `a` now.
    assert a.homes.remote_home(group) is None and a.homes.live_nodes() == ["a:1"]
    b.hold.set()
    await stopping
    # The send b was storing when it stopped is answered (its answer raced the "down": either
    # b's answer, or None, after which a stores it itself and the store's unique id decides).
    assert (await in_flight) in (Sent(MESSAGE, False, 3), None)
    redo = count("redo")
    assert await a.homes.forward(b.homes.node, AUTHOR, MESSAGE, None, 2) is None
    assert count("redo") == redo + 1
    assert len(b.stored) == 1  # nothing after the stop


async def test_a_silent_home_is_given_up_when_it_misses_its_announcements(
    nodes: MakeNode, broker: Broker
) -> None:
    now = [1000.0]
    a = await nodes("a:1")
    a.homes._monotonic = lambda: now[0]
    ghost = await broker.open()
    await ghost.publish(NODES_TOPIC, b'["up", "ghost:9"]')  # then never answers
    await until(lambda: "ghost:9" in a.homes.live_nodes())
    unknown = count("unknown")
    started = time.monotonic()
    forward = asyncio.get_running_loop().create_task(
        a.homes.forward("ghost:9", AUTHOR, MESSAGE, None, 1)
    )
    await asyncio.sleep(0.1)
    assert not forward.done()
    now[0] += 10  # past ALIVE_TIMEOUT_SECS: a's next announcement round drops the ghost
    assert await forward is None
    assert time.monotonic() - started < 3 * ALIVE_INTERVAL_SECS
    assert count("unknown") == unknown + 1 and a.homes.live_nodes() == ["a:1"]


async def test_a_resync_gives_up_every_forward_waiting_for_an_answer(
    nodes: MakeNode, broker: Broker
) -> None:
    a = await nodes("a:1")
    ghost = await broker.open()
    await ghost.publish(NODES_TOPIC, b'["up", "ghost:9"]')
    forwards = [
        asyncio.get_running_loop().create_task(a.homes.forward("ghost:9", AUTHOR, MESSAGE, None, n))
        for n in range(3)
    ]
    await asyncio.sleep(0.2)
    a.homes.on_bus_event(RESYNC, b"")  # answers may have been lost
    assert await asyncio.gather(*forwards) == [None, None, None]


async def test_a_request_the_bus_refuses_is_stored_here(nodes: MakeNode, broker: Broker) -> None:
    proxy = await broker.proxy()
    a = await nodes("a:1", url=proxy.url)
    await proxy.drop()
    unsent = count("unsent")
    with pytest.raises(BusError):  # the bus itself refuses, quickly
        await a.bus.publish(node_topic("b:2"), b"x")
    assert await a.homes.forward("b:2", AUTHOR, MESSAGE, None, 1) is None
    assert count("unsent") == unsent + 1


async def test_malformed_payloads_are_dropped_and_logged(
    nodes: MakeNode, caplog: pytest.LogCaptureFixture
) -> None:
    a = await nodes("a:1")
    for payload in (b"not json", b"[]", b'["send", 1]', b'["up"]', b'{"a": 1}', b'["sent", "x"]'):
        a.homes.on_bus_event(node_topic("a:1"), payload)
        a.homes.on_bus_event(NODES_TOPIC, payload)
    assert a.stored == [] and a.homes.live_nodes() == ["a:1"]
    assert "dropping a malformed group-homes payload" in caplog.text
