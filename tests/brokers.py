"""Bus test harness shared by the Bus contract (tests/contract/test_bus.py) and the hub tests
(tests/realtime/test_hub.py): buses opened on one broker, readers that drain their events,
cuttable lines to a broker."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field

from redis.asyncio import Redis

from agentplaza.bus.base import RESYNC, Bus
from agentplaza.bus.memory import MemoryBus
from agentplaza.bus.nats import NatsBus
from agentplaza.bus.redis import RedisBus
from tests import backends
from tests.netproxy import DroppableProxy

EVENT_TIMEOUT = 10.0  # generous: CI machines are small and shared
QUIET_SECS = 0.3  # how long "nothing more arrives" is watched
NETWORK = ["redis", "nats"]


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

    async def pair(self) -> tuple[Bus, Bus]:
        """(publisher, subscriber): two nodes' buses, or one bus where the bus is in-process."""
        subscriber = await self.open()
        publisher = subscriber if self.kind == "memory" else await self.open()
        return publisher, subscriber

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


def broker_url(kind: str) -> str:
    """The broker for `kind` ("" for the in-process bus); skips when it is not running."""
    return "" if kind == "memory" else backends.require(kind)


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
