"""The Bus interface: fan-out between server nodes, bytes in, bytes out.

At most once: a subscriber can miss a publication (restart, network blip, slow consumer).
Nothing may depend on the bus for durability; receivers detect gaps by `seq` and read the
store (realtime/hub.py). Publications to one topic from one publisher arrive in order.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable
from typing import Protocol


class BusError(Exception):
    """The bus is unreachable; callers log it and rely on the store."""


class Bus(Protocol):
    async def start(self) -> None:
        """Connect. Must be called once before any other method."""

    async def close(self) -> None:
        """Disconnect; `events()` ends."""

    async def publish(self, topic: str, payload: bytes) -> None:
        """Send `payload` to every node subscribed to `topic` (including this one)."""

    async def subscribe(self, topics: Iterable[str]) -> None:
        """Start receiving publications on `topics`; idempotent per topic."""

    async def unsubscribe(self, topics: Iterable[str]) -> None:
        """Stop receiving publications on `topics`; unknown topics are ignored."""

    def events(self) -> AsyncIterator[tuple[str, bytes]]:
        """(topic, payload) for subscribed topics, in arrival order. One consumer only."""
