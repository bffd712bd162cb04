"""The hub recovers what the bus lost (realtime/hub.py, realtime/sink.py): on each bus
implementation, a RESYNC has every sink write what it missed, once and in order."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import orjson
import pytest

from agentplaza.bus.base import Bus
from agentplaza.bus.memory import MemoryBus
from agentplaza.bus.redis import RedisBus
from agentplaza.cluster.memory import MemoryClusterState
from agentplaza.domain.envelopes import Envelope, encode_envelope, topic_for
from agentplaza.domain.ids import AccountId
from agentplaza.domain.messages import InboxItem
from agentplaza.realtime import hub as hub_module
from agentplaza.realtime.hub import Hub
from agentplaza.realtime.longpoll import Waiter
from agentplaza.realtime.sink import OrderedSink
from agentplaza.services.publishing import encode_delivery
from agentplaza.store import open_store
from agentplaza.store.base import Store
from agentplaza.store.records import InboxPage
from tests import backends
from tests.brokers import (
    EVENT_TIMEOUT,
    NETWORK,
    QUIET_SECS,
    Broker,
    broker_url,
    kill_redis_subscriber,
)
from tests.contract.storedata import T0, dm, new_agent, to


@pytest.fixture(params=["memory", *NETWORK])
async def broker(request: pytest.FixtureRequest) -> AsyncIterator[Broker]:
    found = Broker(request.param, broker_url(request.param), backends.unique_namespace())
    yield found
    await found.close()


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
