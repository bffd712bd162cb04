"""A send is answered before its bus publication completes (services/publishing.py,
Publisher.publish_in_background): the publications still leave in commit order, a slow bus
pushes back on senders past MAX_PUBLISHING in flight, and drain() waits for them all."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Sequence
from types import SimpleNamespace
from typing import Any

import pytest

from agentplaza.bus.base import Bus
from agentplaza.domain.envelopes import topic_for
from agentplaza.domain.ids import AccountId
from agentplaza.domain.messages import DeliveryContext, InboxItem, Scene
from agentplaza.services import publishing
from agentplaza.services.publishing import Publisher
from tests import backends
from tests.brokers import NETWORK, Broker, Reader, broker_url
from tests.contract.storedata import dm
from tests.netproxy import DroppableProxy, Readable

RECIPIENT = AccountId("10002")


@pytest.fixture(params=["memory", *NETWORK])
async def broker(request: pytest.FixtureRequest) -> AsyncIterator[Broker]:
    found = Broker(request.param, broker_url(request.param), backends.unique_namespace())
    yield found
    await found.close()


def dm_item(seq: int) -> InboxItem:
    return InboxItem(
        message=dm(AccountId("10001"), RECIPIENT, f"message {seq}"),
        context=DeliveryContext(
            recipient_id=RECIPIENT,
            scene=Scene.DM,
            sender_relation="friend",
            trust_level="minimal",
        ),
        seq=seq,
        acked=False,
    )


def publisher_on(bus: Bus, committed: list[int] | None = None) -> Publisher:
    runtime: Any = SimpleNamespace(bus=bus, monotonic=time.monotonic)

    def seen(items: Sequence[InboxItem]) -> None:
        if committed is not None:
            committed.extend(item.seq for item in items)

    return Publisher(runtime, committed=seen)


async def seqs_on_the_wire(reader: Reader, count: int) -> list[int]:
    return [int.from_bytes((await reader.next_data())[1][:8], "big") for _ in range(count)]


async def test_background_publications_leave_in_commit_order(broker: Broker) -> None:
    publisher_bus, subscriber = await broker.pair()
    await subscriber.subscribe([topic_for(RECIPIENT)])
    reader = broker.read(subscriber)
    committed: list[int] = []
    publisher = publisher_on(publisher_bus, committed)
    for seq in range(1, 301):
        await publisher.publish_in_background([dm_item(seq)])
        # Told before the caller is answered: webhooks and hosted agents are woken at once.
        assert committed[-1] == seq
    await publisher.drain()
    assert await seqs_on_the_wire(reader, 300) == list(range(1, 301))
    assert await reader.quiet() == []


class Gate:
    """Reads a client's bytes only while open: a broker that stopped answering."""

    def __init__(self, reader: Readable, opened: asyncio.Event) -> None:
        self._reader = reader
        self._opened = opened

    async def read(self, n: int) -> bytes:
        await self._opened.wait()
        return await self._reader.read(n)


class GatedProxy(DroppableProxy):
    def __init__(self, upstream_url: str, default_port: int) -> None:
        super().__init__(upstream_url, default_port)
        self.opened = asyncio.Event()
        self.opened.set()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await self._relay(Gate(reader, self.opened), writer)


async def test_a_stalled_bus_pushes_back_past_the_bound_and_drain_waits(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(publishing, "MAX_PUBLISHING", 3)
    redis = Broker("redis", backends.require("redis"), backends.unique_namespace())
    proxy = await GatedProxy(redis.url, backends.DEFAULT_PORTS["redis"]).start()
    redis.proxies.append(proxy)
    try:
        stalled = await redis.open(url=proxy.url)
        subscriber = await redis.open()
        await subscriber.subscribe([topic_for(RECIPIENT)])
        reader = redis.read(subscriber)
        publisher = publisher_on(stalled)
        proxy.opened.clear()
        for seq in (1, 2, 3):  # within the bound: answered while the bus does not answer
            await asyncio.wait_for(publisher.publish_in_background([dm_item(seq)]), 0.5)
        fourth = asyncio.create_task(publisher.publish_in_background([dm_item(4)]))
        draining = asyncio.create_task(publisher.drain())
        await asyncio.sleep(0.3)  # under the bus's 1 s timeout: nothing failed yet
        assert not fourth.done() and not draining.done()
        proxy.opened.set()
        await asyncio.wait_for(fourth, 5)
        await asyncio.wait_for(draining, 5)
        assert await seqs_on_the_wire(reader, 4) == [1, 2, 3, 4]
    finally:
        await redis.close()
