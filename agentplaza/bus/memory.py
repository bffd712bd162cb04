"""MemoryBus: the single-node bus, an in-process queue."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterable

_CLOSED = ("", b"")


class MemoryBus:
    def __init__(self) -> None:
        self._topics: set[str] = set()
        self._queue: asyncio.Queue[tuple[str, bytes]] | None = None

    async def start(self) -> None:
        self._queue = asyncio.Queue()

    async def close(self) -> None:
        if self._queue is not None:
            self._queue.put_nowait(_CLOSED)

    async def publish(self, topic: str, payload: bytes) -> None:
        if self._queue is None:
            raise RuntimeError("MemoryBus not started. Did build_app() run its lifespan?")
        if topic in self._topics:
            self._queue.put_nowait((topic, payload))

    async def subscribe(self, topics: Iterable[str]) -> None:
        self._topics.update(topics)

    async def unsubscribe(self, topics: Iterable[str]) -> None:
        self._topics.difference_update(topics)

    async def events(self) -> AsyncIterator[tuple[str, bytes]]:
        if self._queue is None:
            raise RuntimeError("MemoryBus not started. Did build_app() run its lifespan?")
        while True:
            event = await self._queue.get()
            if event is _CLOSED:
                return
            yield event
