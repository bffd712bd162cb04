"""The Bus interface: fan-out between server nodes, bytes in, bytes out.

At most once: a subscriber can miss a publication (restart, network blip, slow consumer).
Nothing may depend on the bus for durability; receivers detect gaps by `seq` and read the
store (realtime/hub.py). Publications to one topic from one publisher arrive in order.

A bus that may have lost publications says so: `events()` yields `(RESYNC, b"")` after it
reconnected to its broker (subscriptions restored first) or dropped publications because the
consumer fell behind. The consumer then re-reads the store for everything it serves; a RESYNC
never carries data and may be spurious, never missing.

Every implementation takes a `namespace` and prefixes it to its wire channels/subjects, so
deployments (or test runs) sharing one broker never see each other's traffic. Topics and
payloads seen through the interface never include it.
"""

from __future__ import annotations

import asyncio
import re
from collections import deque
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from typing import Protocol

RESYNC = "*"
"""Pseudo-topic of `events()`: publications may have been lost; re-read the store."""

_NAMESPACE = re.compile(r"[A-Za-z0-9_-]{1,64}")


class BusError(Exception):
    """The bus is unreachable; callers log it and rely on the store."""


class Bus(Protocol):
    async def start(self) -> None:
        """Connect. Must be called once before any other method; raises BusError if it cannot."""

    async def close(self) -> None:
        """Disconnect; `events()` ends."""

    async def ping(self) -> float:
        """Round trip to the broker in seconds; raises BusError if it is unreachable."""

    async def publish(self, topic: str, payload: bytes) -> None:
        """Send `payload` to every node subscribed to `topic` (including this one).

        Raises BusError quickly when the broker is unreachable (no unbounded buffering).
        """

    async def publish_many(self, messages: Sequence[tuple[str, bytes]]) -> None:
        """`publish` each (topic, payload), in order, in as few round trips as the broker
        allows (a group fan-out is one call). Raises BusError if any of them failed."""

    async def subscribe(self, topics: Iterable[str]) -> None:
        """Start receiving publications on `topics`; idempotent per topic.

        Once it returns, publications the broker accepts are delivered (or a RESYNC is). While
        the broker is unreachable it still records the topics and returns: the reconnect
        subscribes them and yields RESYNC.
        """

    async def unsubscribe(self, topics: Iterable[str]) -> None:
        """Stop receiving publications on `topics`; unknown topics are ignored.

        Once it returns, `events()` yields nothing more for them.
        """

    def events(self) -> AsyncIterator[tuple[str, bytes]]:
        """(topic, payload) for subscribed topics, in arrival order, and RESYNC markers.

        One consumer only. A consumer that stops iterating and calls `events()` again resumes
        where it left off.
        """


def check_namespace(namespace: str) -> str:
    """`namespace` if it is safe in every broker's channel syntax, else ValueError."""
    if not _NAMESPACE.fullmatch(namespace):
        raise ValueError(f"bus namespace must be 1-64 of [A-Za-z0-9_-], got {namespace!r}")
    return namespace


class EventBuffer:
    """The queue between a bus's receiving side and its single `events()` consumer.

    Bounded (unless `maxsize` is 0): when the consumer is `maxsize` publications behind, new
    ones are dropped and a RESYNC is owed. `accept` is asked at delivery time, so nothing of
    a topic unsubscribed meanwhile is yielded. An owed RESYNC is yielded before queued
    publications (they are older than the store read it triggers, so order does not matter)
    and several are coalesced into one.
    """

    def __init__(self, maxsize: int, accept: Callable[[str], bool]) -> None:
        self._maxsize = maxsize
        self._accept = accept
        self._items: deque[tuple[str, bytes]] = deque()
        self._lost = False
        self._closed = False
        self._wake = asyncio.Event()

    @property
    def resync_owed(self) -> bool:
        return self._lost

    def put(self, topic: str, payload: bytes) -> None:
        if self._closed:
            return
        if self._maxsize and len(self._items) >= self._maxsize:
            self.lost()
            return
        self._items.append((topic, payload))
        self._wake.set()

    def lost(self) -> None:
        """Publications may have been lost: owe the consumer a RESYNC."""
        if not self._closed:
            self._lost = True
            self._wake.set()

    def close(self) -> None:
        """`events()` ends once it has yielded what is already queued."""
        self._closed = True
        self._wake.set()

    async def events(self) -> AsyncIterator[tuple[str, bytes]]:
        while True:
            if self._lost:
                self._lost = False
                yield RESYNC, b""
            elif self._items:
                topic, payload = self._items.popleft()
                if self._accept(topic):
                    yield topic, payload
            elif self._closed:
                return
            else:
                self._wake.clear()
                await self._wake.wait()
