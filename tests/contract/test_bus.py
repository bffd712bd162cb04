"""Every Bus guarantee (bus/base.py), run against each implementation, and the hub's recovery
when the bus may have lost publications (realtime/hub.py, realtime/sink.py).

Redis and NATS come from tests/backends.py (skipped with a reason when absent); every test
uses a namespace of its own, so runs sharing a broker do not see each other.
"""

from __future__ import annotations

import asyncio
import os
import sys
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
import pytest
from redis.asyncio import Redis

from agentplaza.bus import open_bus
from agentplaza.bus.base import RESYNC, Bus, BusError
from agentplaza.bus.memory import MemoryBus
from agentplaza.bus.nats import NatsBus
from agentplaza.bus.redis import RedisBus
from agentplaza.cluster.memory import MemoryClusterState
from agentplaza.domain.envelopes import Envelope, encode_envelope, topic_for
from agentplaza.domain.ids import AccountId
from agentplaza.domain.messages import (
    InboxItem,
)
from agentplaza.realtime import hub as hub_module
from agentplaza.realtime.hub import Hub
from agentplaza.realtime.longpoll import Waiter
from agentplaza.realtime.sink import OrderedSink
from agentplaza.services.publishing import encode_delivery
from agentplaza.store import open_store
from agentplaza.store.base import Store
from agentplaza.store.records import InboxPage
from tests import backends
from tests.contract.storedata import T0, dm, new_agent, to
from tests.netproxy import DroppableProxy

EVENT_TIMEOUT = 10.0  # generous: CI machines are small and shared
QUIET_SECS = 0.3  # how long "nothing more arrives" is watched
NETWORK = ["redis", "nats"]


# --- harness ---------------------------------------------------------------------------------
class Reader:
    """Drains one bus's events() into a queue from a task of its own.

    (Waiting on events() with a timeout would cancel the generator and end it.)
    """

    def __init__(self, bus: Bus) -> None:
        self.queue: asyncio.Queue[tuple[str, bytes]] = asyncio.Queue()
        self.resyncs = 0
        self.task = asyncio.get_running_loop().create_task(self._drain(bus))

    async def _drain(self, bus: Bus) -> None:
        async for event in bus.events():
            if event[0] == RESYNC:
                self.resyncs += 1
            self.queue.put_nowait(event)

    async def next(self, within: float = EVENT_TIMEOUT) -> tuple[str, bytes]:
        try:
            return await asyncio.wait_for(self.queue.get(), within)
        except TimeoutError:
            # A publication lost to a connection blip is within the contract, and would show
            # up here as a RESYNC: tell that apart from a bus that just dropped it.
            raise AssertionError(
                f"no event within {within:.1f} s ({self.resyncs} RESYNC so far)"
            ) from None

    async def next_data(self) -> tuple[str, bytes]:
        """The next publication, skipping RESYNC markers."""
        while True:
            event = await self.next()
            if event[0] != RESYNC:
                return event

    async def expect_resync(self) -> None:
        """Wait for a RESYNC (publications before it may come first)."""
        deadline = time.monotonic() + EVENT_TIMEOUT
        while (await self.next(max(0.01, deadline - time.monotonic())))[0] != RESYNC:
            pass

    async def quiet(self, secs: float = QUIET_SECS) -> list[tuple[str, bytes]]:
        """Everything that arrives within `secs` (expected: nothing)."""
        await asyncio.sleep(secs)
        got = []
        while not self.queue.empty():
            got.append(self.queue.get_nowait())
        return got


@dataclass
class Broker:
    """One bus implementation under test: opens buses on its broker and closes them after."""

    kind: str
    url: str
    namespace: str
    buses: list[Bus] = field(default_factory=list)
    readers: list[Reader] = field(default_factory=list)
    proxies: list[DroppableProxy] = field(default_factory=list)

    async def open(
        self, *, namespace: str | None = None, url: str | None = None, **kwargs: int
    ) -> Bus:
        ns = namespace or self.namespace
        target = url or self.url
        bus: Bus
        if self.kind == "memory":
            bus = MemoryBus(namespace=ns, **kwargs)
        elif self.kind == "redis":
            bus = RedisBus(target, namespace=ns, **kwargs)
        else:
            bus = NatsBus(target, namespace=ns, **kwargs)
        await bus.start()
        self.buses.append(bus)
        return bus

    def read(self, bus: Bus) -> Reader:
        reader = Reader(bus)
        self.readers.append(reader)
        return reader

    async def proxy(self) -> DroppableProxy:
        """A cuttable line to this broker (network buses only)."""
        proxy = DroppableProxy(self.url, backends.DEFAULT_PORTS[self.kind])
        await proxy.start()
        self.proxies.append(proxy)
        return proxy

    async def close(self) -> None:
        for bus in self.buses:
            await bus.close()
        for reader in self.readers:
            reader.task.cancel()
            await asyncio.gather(reader.task, return_exceptions=True)
        for proxy in self.proxies:
            await proxy.drop()


def _broker_url(kind: str) -> str:
    return "" if kind == "memory" else backends.require(kind)


@pytest.fixture(params=["memory", *NETWORK])
async def broker(request: pytest.FixtureRequest) -> AsyncIterator[Broker]:
    found = Broker(request.param, _broker_url(request.param), backends.unique_namespace())
    yield found
    await found.close()


@pytest.fixture(params=NETWORK)
async def network(request: pytest.FixtureRequest) -> AsyncIterator[Broker]:
    found = Broker(request.param, _broker_url(request.param), backends.unique_namespace())
    yield found
    await found.close()


async def kill_redis_subscriber(url: str, bus: RedisBus) -> None:
    """CLIENT KILL this bus's subscriber connection only (found by its name)."""
    admin = Redis.from_url(url)
    try:
        clients = await admin.client_list(_type="pubsub")
        ids = [c["id"] for c in clients if c["name"] == bus.subscriber_name]
        assert len(ids) == 1, clients
        await admin.client_kill_filter(_id=ids[0])
    finally:
        await admin.aclose()


PAYLOADS = [
    b"",
    b"\x00",
    bytes(range(256)),  # every byte value, most of them not valid UTF-8
    b"\xff\xfe\x80 not utf-8 \xc3\x28",
    "ünïcødé ✓".encode(),
    os.urandom(64 * 1024),
]


# --- the Bus contract ------------------------------------------------------------------------
async def test_a_subscriber_receives_byte_exact_payloads_in_order(broker: Broker) -> None:
    bus = await broker.open()
    await bus.subscribe(["inbox.1"])
    reader = broker.read(bus)
    for payload in PAYLOADS:
        await bus.publish("inbox.1", payload)
    for payload in PAYLOADS:
        assert await reader.next_data() == ("inbox.1", payload)


async def test_another_node_receives_publications(broker: Broker) -> None:
    if broker.kind == "memory":
        pytest.skip("MemoryBus is the single-node bus: it has no other nodes by design")
    publisher, subscriber = await broker.open(), await broker.open()
    await subscriber.subscribe(["inbox.7"])
    reader = broker.read(subscriber)
    for payload in PAYLOADS:
        await publisher.publish("inbox.7", payload)
    for payload in PAYLOADS:
        assert await reader.next_data() == ("inbox.7", payload)


async def test_nothing_arrives_after_unsubscribe(broker: Broker) -> None:
    publisher, subscriber = await broker.open(), await broker.open()
    if broker.kind == "memory":
        publisher = subscriber  # one process, one bus
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
    publisher, subscriber = await broker.open(), await broker.open()
    if broker.kind == "memory":
        publisher = subscriber
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
    publisher, subscriber = await broker.open(), await broker.open()
    if broker.kind == "memory":
        publisher = subscriber
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
    publisher, subscriber = await broker.open(), await broker.open()
    if broker.kind == "memory":
        publisher = subscriber
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


# --- the hub recovers what the bus lost --------------------------------------------------------
class RecordingSink(OrderedSink):
    """An OrderedSink whose client is a list of seqs; writes yield, so pushes interleave."""

    transport = "recording"

    def __init__(self, account_id: AccountId, store: Store) -> None:
        super().__init__(account_id, store, queue_max=10_000)
        self.seqs: list[int] = []

    async def write(self, body: bytes, seq: int) -> None:
        await asyncio.sleep(0)
        assert orjson.loads(body)["seq"] == seq
        self.seqs.append(seq)

    async def write_heartbeat(self) -> None:
        pass

    async def close(self, reason: str) -> None:
        self.closed = True


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    impl = open_store(f"sqlite:///{tmp_path / 'bus.db'}")
    await impl.start()
    yield impl
    await impl.close()


async def send(store: Store, sender: AccountId, recipient: AccountId, n: int) -> InboxItem:
    """Append one DM straight to the store (no bus): what a node that lost the race did."""
    message = dm(sender, recipient, f"message {n}", at=T0 + n)
    appended = await store.append_message(message, to(recipient), idempotency_key=None)
    return appended.items[0]


async def publish(bus: Bus, item: InboxItem) -> None:
    """What services/messaging.py publishes for one delivery."""
    envelope = Envelope(item.seq, encode_delivery(item))
    await bus.publish(topic_for(item.context.recipient_id), encode_envelope(envelope))


async def eventually(check: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + EVENT_TIMEOUT
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.01)


LOSS_BUFFER = 8  # the memory bus's max_pending in the hub tests


async def lose_publications(broker: Broker, bus: Bus) -> None:
    """Make `bus` lose publications the way each implementation can, so it yields RESYNC."""
    if broker.kind == "memory":
        # A burst the consumer cannot keep up with (no await yields): some are dropped.
        await bus.subscribe(["filler"])
        for _ in range(LOSS_BUFFER + 1):
            await bus.publish("filler", b"x")
    elif broker.kind == "redis":
        assert isinstance(bus, RedisBus)
        await kill_redis_subscriber(broker.url, bus)
    else:
        proxy = broker.proxies[0]
        await proxy.drop()
        await proxy.start()


async def hub_bus(broker: Broker) -> Bus:
    if broker.kind == "memory":
        return await broker.open(max_pending=LOSS_BUFFER)
    if broker.kind == "nats":
        return await broker.open(url=(await broker.proxy()).url)
    return await broker.open()


@pytest.fixture
async def running_hub(broker: Broker) -> AsyncIterator[tuple[Hub, Bus]]:
    bus = await hub_bus(broker)
    hub = Hub(bus, MemoryClusterState(), heartbeat_interval_secs=60)
    await hub.start()
    yield hub, bus
    await hub.stop()


async def test_hub_resync_writes_what_the_bus_lost_once_in_order(
    broker: Broker, running_hub: tuple[Hub, Bus], store: Store
) -> None:
    hub, bus = running_hub
    alice, bob = await new_agent(store, "alice"), await new_agent(store, "bob")
    account = await store.get_account(bob)
    assert account is not None
    sink, waiter = RecordingSink(bob, store), Waiter(account)
    await hub.attach(sink)
    await hub.attach(waiter)
    assert hub.connections_by_transport() == {"recording": 1, "longpoll": 1}
    assert await sink.catch_up(after_seq=None) == 0

    missed = [await send(store, alice, bob, n) for n in range(5)]  # never published
    await asyncio.sleep(QUIET_SECS)
    assert sink.seqs == [] and not waiter.woken.is_set()  # nothing told them so far

    await lose_publications(broker, bus)
    await eventually(lambda: len(sink.seqs) >= len(missed), "the resync to write the items")
    assert waiter.woken.is_set()
    await asyncio.sleep(QUIET_SECS)
    assert sink.seqs == [item.seq for item in missed] == [1, 2, 3, 4, 5]

    await hub.detach(waiter)
    assert hub.connections_by_transport() == {"recording": 1}


async def test_hub_resync_racing_live_pushes_writes_each_seq_once_in_order(
    broker: Broker, running_hub: tuple[Hub, Bus], store: Store
) -> None:
    hub, bus = running_hub
    # The sending node: this one for the in-process bus, another one for the brokers.
    sender = bus if broker.kind == "memory" else await broker.open()
    alice, bob = await new_agent(store, "alice"), await new_agent(store, "bob")
    sink = RecordingSink(bob, store)
    await hub.attach(sink)
    await sink.catch_up(after_seq=None)

    items = [await send(store, alice, bob, n) for n in range(40)]
    for item in items[:5]:
        await publish(sender, item)  # live
    # items[5:20] are lost: committed, never published.
    await lose_publications(broker, bus)
    for item in items[20:]:
        await publish(sender, item)  # live again, racing the resync's store read
        await asyncio.sleep(0)
    await eventually(lambda: len(sink.seqs) >= len(items), "every item")
    await asyncio.sleep(QUIET_SECS)
    assert sink.seqs == list(range(1, 41))


async def test_hub_resyncs_sinks_when_its_bus_listener_fails(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    class ListenerFailsOnce(MemoryBus):
        """The real MemoryBus, except that the first events() call fails."""

        def __init__(self) -> None:
            super().__init__()
            self.failed = False

        def events(self) -> AsyncIterator[tuple[str, bytes]]:
            if not self.failed:
                self.failed = True
                raise ConnectionError("listener broke")
            return super().events()

    monkeypatch.setattr(hub_module, "BUS_RETRY_SECS", 0.01)
    bus = ListenerFailsOnce()
    await bus.start()
    hub = Hub(bus, MemoryClusterState(), heartbeat_interval_secs=60)
    alice, bob = await new_agent(store, "alice"), await new_agent(store, "bob")
    sink = RecordingSink(bob, store)
    await hub.attach(sink)
    await sink.catch_up(after_seq=None)
    missed = [await send(store, alice, bob, n) for n in range(3)]
    await hub.start()  # the listener fails, retries, and has every sink resync
    try:
        await eventually(lambda: len(sink.seqs) >= len(missed), "the resync")
        await asyncio.sleep(QUIET_SECS)
        assert sink.seqs == [1, 2, 3]
        # and the listener works again
        live = await send(store, alice, bob, 3)
        await publish(bus, live)
        await eventually(lambda: sink.seqs[-1:] == [4], "the live push")
    finally:
        await hub.stop()
        await bus.close()


async def test_a_resync_during_catch_up_is_kept_for_after_it(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    alice, bob = await new_agent(store, "alice"), await new_agent(store, "bob")
    sink = RecordingSink(bob, store)
    read_inbox = store.read_inbox
    lost: list[InboxItem] = []

    async def read_then_lose_one(account_id: AccountId, **kwargs: Any) -> InboxPage:
        page = await read_inbox(account_id, **kwargs)
        if not lost:  # committed just after catch-up's read; its publication is lost
            lost.append(await send(store, alice, bob, 0))
            await sink.resync()
        return page

    monkeypatch.setattr(store, "read_inbox", read_then_lose_one)
    assert await sink.catch_up(after_seq=None) == 0
    await eventually(lambda: len(sink.seqs) >= 1, "the resync owed since catch-up")
    await asyncio.sleep(QUIET_SECS)
    assert sink.seqs == [lost[0].seq]
