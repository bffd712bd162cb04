"""StudioRoomHub: the listeners of studio chat rooms on this node (WebSockets and SSE sends).

The same pattern as realtime/rooms.py's RoomHub for /chatr: events reach the hub only
through the bus topic `studio_room.<room_id>` (subscribed while the room has listeners on
this node), so an event published by the node running the room's floor reaches listeners
on every node. The Hub (the bus's one consumer) hands these topics to `on_bus_event`.
A listener is a bounded queue of frames; one that falls MAX_QUEUED_EVENTS behind is closed
(its client reconnects and reads the history).
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections import deque

from agentplaza.bus.base import RESYNC, Bus
from agentplaza.services.chat_room_events import STUDIO_ROOM_TOPIC_PREFIX, studio_room_topic

log = logging.getLogger(__name__)

MAX_QUEUED_EVENTS = 5000


class Listener:
    """One client's queue of `(type, frame bytes)`; read by that client's own task."""

    __slots__ = ("_items", "_wake", "closed", "room_id")

    def __init__(self, room_id: str) -> None:
        self.room_id = room_id
        self.closed = False
        self._items: deque[tuple[str, bytes]] = deque()
        self._wake = asyncio.Event()

    def push(self, kind: str, frame: bytes) -> None:
        if self.closed:
            return
        if len(self._items) >= MAX_QUEUED_EVENTS:
            log.info("chat room %s listener fell behind; closing", self.room_id)
            self.close()
            return
        self._items.append((kind, frame))
        self._wake.set()

    def close(self) -> None:
        self.closed = True
        self._wake.set()

    async def next(self) -> tuple[str, bytes] | None:
        """The next event; None once closed."""
        while not self._items:
            if self.closed:
                return None
            self._wake.clear()
            await self._wake.wait()
        return self._items.popleft()


class StudioRoomHub:
    def __init__(self, bus: Bus) -> None:
        self._bus = bus
        self._listeners: dict[str, set[Listener]] = {}

    async def attach(self, room_id: str) -> Listener:
        """A listener of the room's events from now on (attach before reading history)."""
        listener = Listener(room_id)
        group = self._listeners.get(room_id)
        if group is None:
            self._listeners[room_id] = {listener}
            await self._bus.subscribe([studio_room_topic(room_id)])
        else:
            group.add(listener)
        return listener

    async def detach(self, listener: Listener) -> None:
        listener.close()
        group = self._listeners.get(listener.room_id)
        if group is None or listener not in group:
            return
        group.discard(listener)
        if not group:
            del self._listeners[listener.room_id]
            await self._bus.unsubscribe([studio_room_topic(listener.room_id)])
            if listener.room_id in self._listeners:  # a new listener came meanwhile
                await self._bus.subscribe([studio_room_topic(listener.room_id)])

    def stop(self) -> None:
        for group in self._listeners.values():
            for listener in group:
                listener.close()

    def on_bus_event(self, topic: str, payload: bytes) -> None:
        """Called by the Hub for `studio_room.*` topics and RESYNC; never blocks. (After a
        RESYNC nothing is replayed: clients see lost messages in the room's history.)"""
        if topic == RESYNC:
            return
        room_id = topic[len(STUDIO_ROOM_TOPIC_PREFIX) :]
        try:
            kind = str(json.loads(payload)["type"])
        except (ValueError, KeyError, TypeError):
            log.warning("dropping malformed chat room payload on %s", topic)
            return
        for listener in tuple(self._listeners.get(room_id, ())):
            listener.push(kind, payload)
