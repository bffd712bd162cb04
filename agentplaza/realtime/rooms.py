"""RoomHub: the watchers of public rooms on this node (chatr's GET /chatr/api/stream).

Unlike an account's sinks (hub.py), every watcher of a room gets the same events, so each
event is encoded once and the same bytes are queued on every watcher. Posts reach the hub
only through the bus topic `room.<room>` (subscribed while the room has watchers here), so a
post on any node reaches watchers on every node. The bus has one consumer, the Hub, which
hands room topics (and RESYNC) to `on_bus_event`. See docs/rooms.md.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections import deque
from collections.abc import Coroutine, Sequence
from contextlib import suppress
from typing import Any

from starlette.responses import Response

from agentplaza.bus.base import RESYNC, Bus
from agentplaza.domain import rooms as rules
from agentplaza.domain.rooms import RoomPost
from agentplaza.services.rooms import ROOM_TOPIC_PREFIX, Rooms, encode_post, room_topic

log = logging.getLogger(__name__)

STATS_INTERVAL_SECS = 10.0  # seed 002: "stats - every 10 seconds"
KEEPALIVE_SECS = 15.0  # an SSE comment when idle, so proxies keep the stream open
MAX_QUEUED_EVENTS = 1000  # a watcher this far behind is cut off (it reconnects for history)
_RECENT_NUMS = 4096  # posts broadcast recently, so a RESYNC re-read does not repeat them
KEEPALIVE = b": keepalive\n\n"


def sse_event(kind: str, data_json: bytes) -> bytes:
    """One SSE event, unnamed, with data `{"type": kind, "data": ...}` (seed 002).

    No `event:` line: seed 002's Node client reads the stream with `es.onmessage`, which an
    EventSource fires only for events without a name (or named `message`); the type travels
    inside the JSON.
    """
    return b'data: {"type":"' + kind.encode() + b'","data":' + data_json + b"}\n\n"


def _dumps(value: object) -> bytes:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()


class Watcher:
    """One stream client: a queue of encoded events, written by the connection's own task."""

    __slots__ = ("_floor", "_holes", "_items", "_wake", "closed", "ip", "room")

    def __init__(self, room: str, ip: str) -> None:
        self.room = room
        self.ip = ip
        self.closed = False
        # Posts numbered up to the floor were in the history already sent, except `holes`:
        # numbers inside the history's range it did not hold. On PostgreSQL a post can commit
        # after a higher-numbered one, so a hole may be a post still on its way.
        self._floor = 0
        self._holes: frozenset[int] = frozenset()
        self._items: deque[tuple[int, bytes]] = deque()
        self._wake = asyncio.Event()

    def push(self, num: int, data: bytes) -> None:
        if self.closed:
            return
        if len(self._items) >= MAX_QUEUED_EVENTS:
            log.info(
                "room watcher from %s fell %d events behind; closing", self.ip, len(self._items)
            )
            self.close()
            return
        self._items.append((num, data))
        self._wake.set()

    def set_history(self, nums: Sequence[int]) -> None:
        """The numbers of the posts in the history sent to this watcher."""
        if nums:
            low, self._floor = min(nums), max(nums)
            self._holes = frozenset(range(low, self._floor + 1)).difference(nums)

    def close(self) -> None:
        self.closed = True
        self._wake.set()

    async def next_chunk(self, idle_secs: float) -> bytes | None:
        """The queued events as one chunk; KEEPALIVE after `idle_secs` idle; None once closed."""
        while True:
            if self.closed:
                return None
            if self._items:
                parts = []
                while self._items:
                    num, data = self._items.popleft()
                    if num == 0 or num > self._floor or num in self._holes:
                        parts.append(data)
                if parts:
                    return b"".join(parts)
                continue
            self._wake.clear()
            try:
                async with asyncio.timeout(idle_secs):
                    await self._wake.wait()
            except TimeoutError:
                return KEEPALIVE


class RoomHub:
    def __init__(self, bus: Bus, rooms: Rooms) -> None:
        self._bus = bus
        self._rooms = rooms
        self._watchers: dict[str, set[Watcher]] = {}
        self._per_ip: dict[str, int] = {}
        self._recent: dict[str, deque[int]] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._ticker: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._ticker = asyncio.get_running_loop().create_task(self._stats_loop())

    async def stop(self) -> None:
        for task in (self._ticker, *self._tasks):
            if task is not None:
                task.cancel()
                with suppress(asyncio.CancelledError):
                    await task
        for group in self._watchers.values():
            for watcher in group:
                watcher.close()

    def watcher_count(self) -> int:
        return sum(len(group) for group in self._watchers.values())

    def open(self, room: str, ip: str, *, max_per_ip: int | None) -> Watcher | None:
        """A new watcher, counted against `ip`; None when the IP has `max_per_ip` already."""
        count = self._per_ip.get(ip, 0)
        if max_per_ip is not None and count >= max_per_ip:
            return None
        self._per_ip[ip] = count + 1
        return Watcher(room, ip)

    async def attach(self, watcher: Watcher) -> None:
        """Start queueing the room's events on `watcher` (before its history is read, so
        nothing posted in between is missed; the floor drops what the history holds)."""
        group = self._watchers.get(watcher.room)
        if group is None:
            self._watchers[watcher.room] = {watcher}
            await self._bus.subscribe([room_topic(watcher.room)])
        else:
            group.add(watcher)

    async def detach(self, watcher: Watcher) -> None:
        watcher.close()
        left = self._per_ip.get(watcher.ip, 1) - 1
        if left > 0:
            self._per_ip[watcher.ip] = left
        else:
            self._per_ip.pop(watcher.ip, None)
        group = self._watchers.get(watcher.room)
        if group is None or watcher not in group:
            return
        group.discard(watcher)
        if not group:
            del self._watchers[watcher.room]
            await self._bus.unsubscribe([room_topic(watcher.room)])
            if watcher.room in self._watchers:  # a new watcher came while we unsubscribed
                await self._bus.subscribe([room_topic(watcher.room)])

    def on_bus_event(self, topic: str, payload: bytes) -> None:
        """Called by the Hub for `room.*` topics and RESYNC; never blocks."""
        if topic == RESYNC:
            for room in tuple(self._watchers):
                self._spawn(self._catch_up(room))
            return
        room = topic[len(ROOM_TOPIC_PREFIX) :]
        try:
            num = int(json.loads(payload)["id"])
        except (ValueError, KeyError, TypeError):
            log.warning("dropping malformed room payload on %s", topic)
            return
        self._broadcast(room, num, payload)

    def _broadcast(self, room: str, num: int, payload: bytes) -> None:
        recent = self._recent.setdefault(room, deque(maxlen=_RECENT_NUMS))
        if num in recent:
            return
        recent.append(num)
        data = sse_event("message", payload)
        for watcher in tuple(self._watchers.get(room, ())):
            watcher.push(num, data)

    async def _catch_up(self, room: str) -> None:
        """After a RESYNC: what the bus may have lost, from the store: the latest history's
        worth, not only what is numbered after the last post seen (on PostgreSQL a lost post
        may be numbered below it). `_recent` and each watcher's history skip repeats."""
        try:
            posts = await self._rooms.history(room)
        except Exception:
            log.exception("room %s: re-reading posts after a bus resync failed", room)
            return
        for post in posts:
            self._broadcast(room, post.num, encode_post(post))

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _stats_loop(self) -> None:
        while True:
            await asyncio.sleep(STATS_INTERVAL_SECS)
            for room in tuple(self._watchers):
                try:
                    stats = await self._rooms.stats(room)
                except Exception:
                    log.exception(
                        "room %s: stats for watchers failed; next in %ss", room, STATS_INTERVAL_SECS
                    )
                    continue
                data = sse_event("stats", _dumps(rules.stats_json(stats)))
                for watcher in tuple(self._watchers.get(room, ())):
                    watcher.push(0, data)


def history_event(posts: list[RoomPost]) -> bytes:
    return sse_event("history", _dumps([rules.post_json(p) for p in posts]))


def stats_event(stats: rules.RoomStats) -> bytes:
    return sse_event("stats", _dumps(rules.stats_json(stats)))


class RoomStream(Response):
    """The ASGI response of one watcher: headers, the first events, then its queue until the
    client goes away. Written straight to ASGI (not StreamingResponse) to keep a watcher at
    one task plus one pending receive(): see the RSS per watcher in bench/README.md."""

    def __init__(self, hub: RoomHub, watcher: Watcher, first: bytes) -> None:
        super().__init__(media_type="text/event-stream")
        self._hub = hub
        self._watcher = watcher
        self._first = first

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        watcher = self._watcher

        async def wait_disconnect() -> None:
            while (await receive())["type"] != "http.disconnect":
                pass

        gone = asyncio.get_running_loop().create_task(wait_disconnect())
        gone.add_done_callback(lambda _: watcher.close())
        try:
            await send(
                {
                    "type": "http.response.start",
                    "status": 200,
                    "headers": [
                        (b"content-type", b"text/event-stream; charset=utf-8"),
                        (b"cache-control", b"no-cache"),
                        (b"x-accel-buffering", b"no"),  # nginx: do not buffer the stream
                    ],
                }
            )
            chunk: bytes | None = self._first
            while chunk is not None:
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
                chunk = await watcher.next_chunk(KEEPALIVE_SECS)
            with suppress(OSError):
                await send({"type": "http.response.body", "body": b"", "more_body": False})
        except OSError:
            pass  # the client went away mid-write (uvicorn's ClientDisconnected)
        finally:
            gone.cancel()
            with suppress(asyncio.CancelledError):
                await gone
            await self._hub.detach(watcher)
