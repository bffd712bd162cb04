"""MemoryBus: the single-node bus, an in-process queue.

It drops publications only when its consumer is `max_pending` behind (a burst published
without yielding to the event loop), and then owes a RESYNC like any bus.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Sequence

from agentplaza.bus.base import EventBuffer

MAX_PENDING = 65_536


class MemoryBus:
    def __init__(self, *, namespace: str = "", max_pending: int = MAX_PENDING) -> None:
        # One process has no neighbours to be isolated from: `namespace` is accepted and unused.
        self._topics: set[str] = set()
        self._buffer = EventBuffer(max_pending, accept=self._topics.__contains__)
        self._started = False

    async def start(self) -> None:
        self._started = True

    async def close(self) -> None:
        self._buffer.close()

    async def ping(self) -> float:
        self._require_started()
        return 0.0

    async def publish(self, topic: str, payload: bytes) -> None:
        self._require_started()
        if topic in self._topics:
            self._buffer.put(topic, payload)

    async def publish_many(self, messages: Sequence[tuple[str, bytes]]) -> None:
        self._require_started()
        topics, put = self._topics, self._buffer.put
        for topic, payload in messages:
            if topic in topics:
                put(topic, payload)

    async def subscribe(self, topics: Iterable[str]) -> None:
        self._topics.update(topics)

    async def unsubscribe(self, topics: Iterable[str]) -> None:
        self._topics.difference_update(topics)

    def events(self) -> AsyncIterator[tuple[str, bytes]]:
        self._require_started()
        return self._buffer.events()

    def _require_started(self) -> None:
        if not self._started:
            raise RuntimeError("MemoryBus not started. Did build_app() run its lifespan?")
