"""Every Bus guarantee (bus/base.py), run against each implementation (the hub's recovery
when the bus lost publications: tests/realtime/test_hub.py).

Redis and NATS come from tests/backends.py (skipped with a reason when absent); every test
uses a namespace of its own, so runs sharing a broker do not see each other.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import sys
import time
from collections.abc import AsyncIterator

import pytest

from agentplaza.bus import open_bus
from agentplaza.bus.base import RESYNC, Bus, BusError
from agentplaza.bus.memory import MemoryBus
from agentplaza.bus.nats import NatsBus
from agentplaza.bus.redis import RedisBus
from tests import backends
from tests.brokers import (
    EVENT_TIMEOUT,
    NETWORK,
    Broker,
    Reader,
    broker_url,
    kill_redis_subscriber,
)
from tests.netproxy import DroppableProxy, Readable


@pytest.fixture(params=["memory", *NETWORK])
async def broker(request: pytest.FixtureRequest) -> AsyncIterator[Broker]:
    found = Broker(request.param, broker_url(request.param), backends.unique_namespace())
    yield found
    await found.close()


@pytest.fixture(params=NETWORK)
async def network(request: pytest.FixtureRequest) -> AsyncIterator[Broker]:
    found = Broker(request.param, broker_url(request.param), backends.unique_namespace())
    yield found
    await found.close()


PAYLOADS = [
    b"",
    b"\x00",
    bytes(range(256)),  # every byte value, most of them not valid UTF-8
    b"\xff\xfe\x80 not utf-8 \xc3\x28",
    "ünïcødé ✓".encode(),
    os.urandom(64 * 1024),
]


# --- the Bus contract ------------------------------------------------------------------------
def summary(events: list[tuple[str, bytes]]) -> list[str]:
    """Events as topic:length:digest, so a mismatch prints a line and not 64 KiB of bytes."""
    return [f"{topic}:{len(data)}:{hashlib.sha256(data).hexdigest()[:8]}" for topic, data in events]


async def assert_payloads_arrive_in_order(
    publisher: Bus, subscriber: Bus, reader: Reader, topic: str, attempts: int = 3
) -> None:
    """Publish PAYLOADS and check they arrive byte-exact and in order.

    A round during which the bus RESYNCed may have lost publications within the contract (a
    connection blip on a loaded machine): that round is repeated on a fresh topic rather than
    counted as a failure; a loss or reordering without a RESYNC fails.
    """
    for attempt in range(attempts):
        round_topic = f"{topic}.{attempt}"
        await subscriber.subscribe([round_topic])
        resyncs_before = reader.resyncs
        for payload in PAYLOADS:
            await publisher.publish(round_topic, payload)
        expected = [(round_topic, payload) for payload in PAYLOADS]
        got = [await reader.next_data() for _ in PAYLOADS]
        if got == expected:
            return
        assert reader.resyncs > resyncs_before, (
            f"no RESYNC, yet got {summary(got)} instead of {summary(expected)}"
        )
    raise AssertionError(f"a RESYNC in each of {attempts} rounds; last got {summary(got)}")


async def test_a_subscriber_receives_byte_exact_payloads_in_order(broker: Broker) -> None:
    bus = await broker.open()
    await assert_payloads_arrive_in_order(bus, bus, broker.read(bus), "inbox.1")


async def test_another_node_receives_publications(broker: Broker) -> None:
    if broker.kind == "memory":
        pytest.skip("MemoryBus is the single-node bus: it has no other nodes by design")
    publisher, subscriber = await broker.open(), await broker.open()
    reader = broker.read(subscriber)
    await assert_payloads_arrive_in_order(publisher, subscriber, reader, "inbox.7")


async def test_nothing_arrives_after_unsubscribe(broker: Broker) -> None:
    publisher, subscriber = await broker.pair()
    await subscriber.subscribe(["inbox.1", "inbox.2"])
    reader = broker.read(subscriber)
    await publisher.publish("inbox.1", b"before")
    assert await reader.next_data() == ("inbox.1", b"before")
    await subscriber.unsubscribe(["inbox.1"])
    await subscriber.unsubscribe(["inbox.1", "inbox.never"])  # again, and unknown: ignored
    await publisher.publish("inbox.1", b"after")
    await publisher.publish("inbox.2", b"marker")
    assert await reader.next_data() == ("inbox.2", b"marker")
    assert await reader.quiet() == []


async def test_nothing_arrives_for_topics_never_subscribed(broker: Broker) -> None:
    publisher, subscriber = await broker.pair()
    await subscriber.subscribe(["inbox.1"])
    reader = broker.read(subscriber)
    await publisher.publish("inbox.2", b"not for us")
    await publisher.publish("inbox.10", b"not for us either")  # prefix of nothing subscribed
    await publisher.publish("inbox.1", b"marker")
    assert await reader.next_data() == ("inbox.1", b"marker")
    assert await reader.quiet() == []


async def test_subscribing_twice_yields_one_copy(broker: Broker) -> None:
    bus = await broker.open()
    await bus.subscribe(["inbox.1", "inbox.1"])
    await bus.subscribe(["inbox.1"])
    await asyncio.gather(*(bus.subscribe(["inbox.1"]) for _ in range(5)))
    reader = broker.read(bus)
    await bus.publish("inbox.1", b"once")
    assert await reader.next_data() == ("inbox.1", b"once")
    assert await reader.quiet() == []


async def test_per_topic_order_of_1000_publications(broker: Broker) -> None:
    publisher, subscriber = await broker.pair()
    await subscriber.subscribe(["inbox.1", "inbox.2"])
    reader = broker.read(subscriber)
    # Launched together, so a batching publisher gets them in one loop turn; two topics
    # interleaved. Order is per topic only.
    sent = [(f"inbox.{1 + n % 2}", n.to_bytes(4, "big")) for n in range(1000)]
    await asyncio.gather(*(publisher.publish(topic, payload) for topic, payload in sent))
    got = [await reader.next_data() for _ in sent]
    for topic in ("inbox.1", "inbox.2"):
        assert [p for t, p in got if t == topic] == [p for t, p in sent if t == topic]
    assert await reader.quiet() == []


async def test_publish_many_delivers_a_fan_out_in_order_to_subscribed_topics(
    broker: Broker,
) -> None:
    publisher, subscriber = await broker.pair()
    await subscriber.subscribe([f"inbox.{n}" for n in range(50)])
    reader = broker.read(subscriber)
    await publisher.publish_many([])
    # A group fan-out: one publication per member, plus a topic nobody subscribed.
    fan_out = [(f"inbox.{n}", f"m{n}".encode()) for n in range(50)]
    await publisher.publish_many([*fan_out, ("inbox.nobody", b"dropped")])
    await publisher.publish_many([("inbox.7", b"second")])
    got = [await reader.next_data() for _ in range(51)]
    assert sorted(got) == sorted([*fan_out, ("inbox.7", b"second")])
    assert [p for t, p in got if t == "inbox.7"] == [b"m7", b"second"]  # order is per topic
    assert await reader.quiet() == []


async def test_a_fan_out_larger_than_one_batch_arrives_whole_and_in_order(
    broker: Broker,
) -> None:
    # Redis sends publishes in batches of MAX_BATCH (one script call each) and its reader
    # takes what arrived together without a read each: both edges are crossed here.
    publisher, subscriber = await broker.pair()
    await subscriber.subscribe(["inbox.a", "inbox.b"])
    reader = broker.read(subscriber)
    sent = [(f"inbox.{'ab'[n % 2]}", n.to_bytes(4, "big")) for n in range(2_500)]
    await publisher.publish_many(sent)
    got = [await reader.next_data() for _ in sent]
    for topic in ("inbox.a", "inbox.b"):
        assert [p for t, p in got if t == topic] == [p for t, p in sent if t == topic]
    assert await reader.quiet() == []


async def test_namespaces_on_one_broker_are_isolated(network: Broker) -> None:
    ours = await network.open()
    theirs = await network.open(namespace=backends.unique_namespace())
    await ours.subscribe(["inbox.1"])
    await theirs.subscribe(["inbox.1"])
    our_reader, their_reader = network.read(ours), network.read(theirs)
    await ours.publish("inbox.1", b"ours")
    await theirs.publish("inbox.1", b"theirs")
    assert await our_reader.next_data() == ("inbox.1", b"ours")
    assert await their_reader.next_data() == ("inbox.1", b"theirs")
    assert await our_reader.quiet() == []
    assert await their_reader.quiet() == []


async def test_ping_measures_a_round_trip(broker: Broker) -> None:
    bus = await broker.open()
    took = await bus.ping()
    assert isinstance(took, float)
    assert 0.0 <= took < EVENT_TIMEOUT


async def test_close_ends_events(broker: Broker) -> None:
    bus = await broker.open()
    await bus.subscribe(["inbox.1"])
    reader = broker.read(bus)
    await bus.close()
    await asyncio.wait_for(reader.task, EVENT_TIMEOUT)


async def test_an_unreachable_broker_fails_start_with_bus_error(
    network: Broker, monkeypatch: pytest.MonkeyPatch
) -> None:
    proxy = await network.proxy()
    await proxy.drop()  # a port nothing listens on
    monkeypatch.setattr("agentplaza.bus.nats.START_TIMEOUT_SECS", 0.5)
    started = time.monotonic()
    with pytest.raises(BusError):
        await network.open(url=proxy.url)
    assert time.monotonic() - started < 3


async def test_a_dropped_connection_yields_resync_then_publications_arrive(
    network: Broker,
) -> None:
    proxy = await network.proxy()
    bus = await network.open(url=proxy.url)
    publisher = await network.open()  # straight to the broker: another node
    await bus.subscribe(["inbox.1"])
    reader = network.read(bus)
    await publisher.publish("inbox.1", b"before")
    assert await reader.next_data() == ("inbox.1", b"before")

    await proxy.drop()
    # While the line is down: publishing fails fast, ping fails, subscribing is remembered.
    with pytest.raises(BusError):
        for _ in range(100):  # the client may need a moment to notice the cut
            await bus.publish("inbox.1", b"lost")
            await asyncio.sleep(0.05)
    started = time.monotonic()
    with pytest.raises(BusError):
        await bus.publish("inbox.1", b"lost")
    with pytest.raises(BusError):
        await bus.ping()
    assert time.monotonic() - started < 2.5  # no buffering, no long retries
    await bus.subscribe(["inbox.2"])
    await publisher.publish("inbox.1", b"missed while down")

    await proxy.start()
    await reader.expect_resync()
    await publisher.publish("inbox.1", b"after")
    await publisher.publish("inbox.2", b"subscribed while down")
    got = {await reader.next_data(), await reader.next_data()}
    assert got == {("inbox.1", b"after"), ("inbox.2", b"subscribed while down")}
    assert await bus.ping() >= 0.0


class HoldAfterPing:
    """Reads a client's bytes and holds back, for HOLD_SECS, whatever follows a PING.

    Bytes written together may reach the broker in separate reads, and NATS may route
    another connection's PUBs in between: held here, that becomes certain.
    """

    HOLD_SECS = 0.3

    def __init__(self, reader: Readable) -> None:
        self._reader = reader
        self._rest = b""
        self._after_ping = False

    async def read(self, n: int) -> bytes:
        if self._after_ping:
            await asyncio.sleep(self.HOLD_SECS)
        data = self._rest or await self._reader.read(n)
        head, ping, self._rest = data.partition(b"PING\r\n")
        self._after_ping = bool(ping)
        return head + ping


class PingHoldingProxy(DroppableProxy):
    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await self._relay(HoldAfterPing(reader), writer)


async def test_nats_subscribe_returns_once_the_server_routes_to_us() -> None:
    # nats-py writes PING to the socket at once but SUBs only when its flusher task runs, so
    # a PONG alone does not prove the server has read the SUBs (a CI flake: every
    # publication right after subscribe() lost, no RESYNC).
    nats = Broker("nats", backends.require("nats"), backends.unique_namespace())
    proxy = await PingHoldingProxy(nats.url, backends.DEFAULT_PORTS["nats"]).start()
    nats.proxies.append(proxy)
    try:
        subscriber = await nats.open(url=proxy.url)
        publisher = await nats.open()  # straight to the broker: another node
        reader = nats.read(subscriber)
        await subscriber.subscribe(["inbox.1", "inbox.2"])
        await publisher.publish_many([("inbox.1", b"one"), ("inbox.2", b"two")])
        got = [await reader.next(within=2 * HoldAfterPing.HOLD_SECS + 1) for _ in range(2)]
        assert got == [("inbox.1", b"one"), ("inbox.2", b"two")]
    finally:
        await nats.close()


async def test_redis_subscriber_killed_yields_resync_then_publications_arrive() -> None:
    redis = Broker("redis", backends.require("redis"), backends.unique_namespace())
    try:
        bus = await redis.open()
        assert isinstance(bus, RedisBus)
        await bus.subscribe(["inbox.1"])
        reader = redis.read(bus)
        await kill_redis_subscriber(redis.url, bus)
        await reader.expect_resync()
        await bus.publish("inbox.1", b"after")
        assert await reader.next_data() == ("inbox.1", b"after")
    finally:
        await redis.close()


async def test_a_consumer_too_far_behind_gets_resync_instead_of_a_backlog() -> None:
    bus = MemoryBus(max_pending=4)
    await bus.start()
    await bus.subscribe(["inbox.1"])
    for n in range(6):  # no await yields to the loop in between: nobody consumes
        await bus.publish("inbox.1", bytes([n]))
    events = bus.events()
    assert await anext(events) == (RESYNC, b"")
    assert [await anext(events) for _ in range(4)] == [("inbox.1", bytes([n])) for n in range(4)]
    await bus.close()
    assert await anext(events, None) is None


def test_open_bus_picks_the_implementation_by_scheme() -> None:
    assert isinstance(open_bus("memory://"), MemoryBus)
    assert isinstance(open_bus(""), MemoryBus)
    assert isinstance(open_bus("redis://127.0.0.1:6379/0", namespace="x"), RedisBus)
    assert isinstance(open_bus("rediss://example.invalid:6380"), RedisBus)
    assert isinstance(open_bus("nats://127.0.0.1:4222"), NatsBus)
    assert isinstance(open_bus("tls://example.invalid:4222"), NatsBus)
    with pytest.raises(ValueError, match=r"redis://.*nats://"):
        open_bus("kafka://broker:9092")
    with pytest.raises(ValueError, match="namespace"):
        open_bus("redis://127.0.0.1:6379/0", namespace="has space")


@pytest.mark.parametrize(("url", "extra"), [("redis://h:6379", "redis"), ("nats://h:4222", "nats")])
def test_open_bus_names_the_extra_when_the_driver_is_missing(
    url: str, extra: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in [m for m in sys.modules if m == extra or m.startswith(extra + ".")]:
        monkeypatch.setitem(sys.modules, name, None)  # `import redis…` now fails
    monkeypatch.delitem(sys.modules, f"agentplaza.bus.{extra}")
    with pytest.raises(RuntimeError, match=rf'pip install "agentplaza\[{extra}\]"'):
        open_bus(url)
