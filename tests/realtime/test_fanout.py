"""A group fan-out is one bus publication (services/publishing.py, Publisher) that every node's
hub reads for the accounts it holds: each connection gets its own delivery, once, on every
bus implementation, and two nodes split the recipients between them."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from types import SimpleNamespace
from typing import Any

import orjson
import pytest

from agentplaza.bus.base import Bus
from agentplaza.cluster.memory import MemoryClusterState
from agentplaza.domain.credentials import Credential
from agentplaza.domain.envelopes import FANOUT_TOPIC, Envelope, topic_for
from agentplaza.domain.ids import AccountId
from agentplaza.domain.messages import DeliveryContext, InboxItem, Scene
from agentplaza.realtime.hub import Hub
from agentplaza.services.publishing import FANOUT_MIN, Publisher, encode_delivery
from tests import backends
from tests.brokers import NETWORK, QUIET_SECS, Broker, broker_url
from tests.contract.storedata import group_message
from tests.realtime.test_hub import eventually


@pytest.fixture(params=["memory", *NETWORK])
async def broker(request: pytest.FixtureRequest) -> AsyncIterator[Broker]:
    found = Broker(request.param, broker_url(request.param), backends.unique_namespace())
    yield found
    await found.close()


class ListSink:
    """A connection that records what the hub pushes to it."""

    transport = "list"
    credential: Credential | None = None

    def __init__(self, account_id: AccountId) -> None:
        self.account_id = account_id
        self.got: list[Envelope] = []

    def push(self, envelope: Envelope) -> None:
        self.got.append(envelope)

    async def resync(self) -> None:
        pass

    def heartbeat(self) -> None:
        pass

    async def close(self, reason: str) -> None:
        pass

    def revoke(self) -> None:
        pass


def group_items(recipients: list[AccountId]) -> list[InboxItem]:
    message = group_message(AccountId("10001"), "g1234567890", "hello, group")
    return [
        InboxItem(
            message=message,
            context=DeliveryContext(
                recipient_id=account,
                scene=Scene.GROUP,
                sender_relation="member",
                trust_level="minimal",
            ),
            seq=n + 3,
            acked=False,
        )
        for n, account in enumerate(recipients)
    ]


async def test_a_group_fanout_is_one_publication_each_node_delivers_its_own(
    broker: Broker,
) -> None:
    recipients = [AccountId(str(10002 + n)) for n in range(2 * FANOUT_MIN)]
    node_a = await broker.open()
    # The in-process bus has one node (and one consumer); a broker has two nodes.
    node_b = node_a if broker.kind == "memory" else await broker.open()
    hubs = [Hub(node_a, MemoryClusterState(), heartbeat_interval_secs=60)]
    if node_b is not node_a:
        hubs.append(Hub(node_b, MemoryClusterState(), heartbeat_interval_secs=60))
    sinks = [ListSink(account) for account in recipients]
    # A third node watches the wire: one publication, on the fan-out topic, nothing else.
    watcher: Bus | None = None
    if broker.kind != "memory":
        watcher = await broker.open()
        await watcher.subscribe([FANOUT_TOPIC, *(topic_for(a) for a in recipients)])
    try:
        for hub in hubs:
            await hub.start()
        for n, sink in enumerate(sinks):
            await hubs[n % len(hubs)].attach(sink)
        items = group_items(recipients)
        runtime: Any = SimpleNamespace(bus=node_a, monotonic=time.monotonic)
        await Publisher(runtime, committed=lambda _: None).publish(items)

        await eventually(lambda: all(sink.got for sink in sinks), "every delivery")
        if watcher is not None:
            wire = broker.read(watcher)
            assert [topic for topic, _ in await wire.quiet()] == [FANOUT_TOPIC]
        await _quiet()
        for sink, item in zip(sinks, items, strict=True):
            assert delivered(sink) == [(item.seq, orjson.loads(encode_delivery(item)))]
            assert delivered(sink)[0][1]["to"] == sink.account_id
    finally:
        for hub in hubs:
            await hub.stop()


async def test_a_fanout_reaches_no_connection_of_an_account_not_in_it(broker: Broker) -> None:
    bus = await broker.open()
    hub = Hub(bus, MemoryClusterState(), heartbeat_interval_secs=60)
    outsider = ListSink(AccountId("19999"))
    member = ListSink(AccountId("10002"))
    await hub.start()
    try:
        await hub.attach(outsider)
        await hub.attach(member)
        items = group_items([AccountId(str(10002 + n)) for n in range(FANOUT_MIN)])
        runtime: Any = SimpleNamespace(bus=bus, monotonic=time.monotonic)
        await Publisher(runtime, committed=lambda _: None).publish(items)
        await eventually(lambda: bool(member.got), "the member's delivery")
        await _quiet()
        assert outsider.got == []
        assert delivered(member) == [(items[0].seq, orjson.loads(encode_delivery(items[0])))]
    finally:
        await hub.stop()


def delivered(sink: ListSink) -> list[tuple[int, Any]]:
    """(seq, JSON object) of each delivery: a fan-out's JSON has the keys in another order."""
    return [(envelope.seq, orjson.loads(envelope.body)) for envelope in sink.got]


async def _quiet() -> None:
    await asyncio.sleep(QUIET_SECS)
