"""uvicorn's WebSocket protocol, made lighter for connections that idle (issue 17).

An open WebSocket that carries nothing for hours is the common case for agents, so its
resident cost is what bounds how many one node holds: bench/README.md, "Idle".

It subclasses uvicorn's `websockets-sansio` protocol and relies on that class's private
attributes (the queue, the writable flag, the keepalive timers): uvicorn is pinned by uv.lock,
and an upgrade of it must pass tests/realtime (which drive this class through a real server)
before the lock moves.
"""

from __future__ import annotations

import asyncio
import random
import struct
from typing import Any

from uvicorn._types import ASGIReceiveEvent, ASGISendEvent
from uvicorn.config import Config
from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
from uvicorn.server import ServerState
from websockets.http11 import Request
from websockets.protocol import State

from agentplaza.httpprotocol import unwrap

KEEPALIVE_SLOTS = 20  # the keepalive sweep visits 1/20 of the connections per tick


class _Inbox:
    """The part of asyncio.Queue that uvicorn's WebSocket protocol uses for received events.

    An empty asyncio.Queue holds three deques and an Event (~2.5 KB per connection, most of
    it idle); this holds a list and, while a reader waits, its future. Every put wakes every
    waiter (there is one reader per connection), so a cancelled reader loses no wake-up.
    """

    __slots__ = ("_items", "_waiters")

    def __init__(self) -> None:
        self._items: list[ASGIReceiveEvent] = []
        self._waiters: list[asyncio.Future[None]] | None = None

    def put_nowait(self, item: ASGIReceiveEvent) -> None:
        self._items.append(item)
        _wake(self._waiters)
        self._waiters = None

    def empty(self) -> bool:
        return not self._items

    def qsize(self) -> int:
        return len(self._items)

    async def get(self) -> ASGIReceiveEvent:
        while not self._items:
            # Inline, not a helper coroutine: an idle connection waits here, and each frame
            # of its waiting stack is memory held for as long as it idles.
            waiter = asyncio.get_running_loop().create_future()
            self._waiters = _with(self._waiters, waiter)
            try:
                await waiter
            finally:
                self._waiters = _without(self._waiters, waiter)
        return self._items.pop(0)


class _Gate:
    """asyncio.Event as uvicorn's WebSocket protocol uses it (`writable`: set, clear, wait),
    without the Event's deque of waiters (~0.7 KB per connection)."""

    __slots__ = ("_open", "_waiters")

    def __init__(self) -> None:
        self._open = True
        self._waiters: list[asyncio.Future[None]] | None = None

    def is_set(self) -> bool:
        return self._open

    def set(self) -> None:
        self._open = True
        _wake(self._waiters)
        self._waiters = None

    def clear(self) -> None:
        self._open = False

    async def wait(self) -> bool:
        if not self._open:
            waiter = asyncio.get_running_loop().create_future()
            self._waiters = _with(self._waiters, waiter)
            try:
                await waiter
            finally:
                self._waiters = _without(self._waiters, waiter)
        return True


_Waiters = list[asyncio.Future[None]] | None


def _with(waiters: _Waiters, waiter: asyncio.Future[None]) -> list[asyncio.Future[None]]:
    if waiters is None:
        return [waiter]
    waiters.append(waiter)
    return waiters


def _without(waiters: _Waiters, waiter: asyncio.Future[None]) -> _Waiters:
    """`waiters` less `waiter` (woken ones were dropped already), None when empty."""
    if waiters is not None and waiter in waiters:
        waiters.remove(waiter)
    return waiters or None


def _wake(waiters: _Waiters) -> None:
    for waiter in waiters or ():
        if not waiter.done():
            waiter.set_result(None)


class _KeepaliveSweep:
    """One timer per event loop for every connection's keepalive ping.

    uvicorn gives each connection two timers (the next ping, the pong deadline); at 10,000
    idle connections those timers, and a ping frame built per connection, were about half of
    the idle CPU. Here the connections are spread over KEEPALIVE_SLOTS buckets and one tick
    every interval / KEEPALIVE_SLOTS visits one bucket, so each connection is visited once
    per interval, with one ping frame (and payload) shared by the bucket.
    """

    def __init__(self, loop: asyncio.AbstractEventLoop, interval: float) -> None:
        self._loop = loop
        self._interval = interval
        self._buckets: list[set[LeanWebSocketProtocol]] = [set() for _ in range(KEEPALIVE_SLOTS)]
        self._next = 0
        self._timer: asyncio.TimerHandle | None = None

    def add(self, protocol: LeanWebSocketProtocol) -> set[LeanWebSocketProtocol]:
        # The bucket visited last: its first ping goes out about one interval from now.
        bucket = self._buckets[(self._next - 1) % KEEPALIVE_SLOTS]
        bucket.add(protocol)
        if self._timer is None:
            self._timer = self._loop.call_later(self.tick_secs, self._tick)
        return bucket

    @property
    def tick_secs(self) -> float:
        return self._interval / KEEPALIVE_SLOTS

    def _tick(self) -> None:
        bucket = self._buckets[self._next]
        self._next = (self._next + 1) % KEEPALIVE_SLOTS
        if bucket:
            payload = struct.pack("!I", random.getrandbits(32))
            frame = b"\x89\x04" + payload  # FIN + ping, unmasked, 4-byte payload
            for protocol in tuple(bucket):
                protocol.keepalive(payload, frame)
        if any(self._buckets):
            self._timer = self._loop.call_later(self.tick_secs, self._tick)
        else:
            self._timer = None
            _SWEEPS.pop((self._loop, self._interval), None)


_SWEEPS: dict[tuple[asyncio.AbstractEventLoop, float], _KeepaliveSweep] = {}


class LeanWebSocketProtocol(WebSocketsSansIOProtocol):
    """uvicorn's sans-I/O WebSocket protocol, lighter while a connection idles.

    Same wire behaviour (keepalive pings every `ws_ping_interval`, a connection whose pong is
    `ws_ping_timeout` late is failed with 1011, close handshake, flow control), with:
    - the small receive queue and `writable` gate above, and the upgrade's Request and
      Response (two websockets Headers) dropped once the accept is sent: about 8 KB less per
      open WebSocket (tracemalloc; bench/README.md, "Idle");
    - pings from one shared sweep (`_KeepaliveSweep`) instead of two timers per connection,
      or carried by the app's heartbeat frame in the same write (`ping_to_carry`).
    The app's own delivery frames go to the transport through websocket.py's FrameWriter.
    """

    request: Request

    def __init__(
        self,
        config: Config,
        server_state: ServerState,
        app_state: dict[str, Any],
        _loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        super().__init__(config, server_state, app_state, _loop)
        self.queue = _Inbox()  # type: ignore[assignment]  # the same three methods
        self.writable = _Gate()  # type: ignore[assignment]  # the same three methods
        self._keepalive_bucket: set[LeanWebSocketProtocol] | None = None
        self._carried = False  # the last ping went out with a heartbeat (ping_to_carry)

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # Upgraded from httpprotocol.py's HTTP protocol: frames go to the socket's own transport.
        super().connection_made(unwrap(transport))

    async def send(self, message: ASGISendEvent) -> None:
        await super().send(message)
        if message["type"] == "websocket.accept" and self.handshake_complete:
            # Read only by the handshake; the scope keeps the request's headers for the app.
            # websockets' parser keeps the Request in its generator's frame for the
            # connection's lifetime, so its Headers are emptied rather than just let go.
            self.request.headers.clear()
            del self.request, self.response

    def start_keepalive(self) -> None:
        if self.ping_interval is not None and self.ping_interval > 0:
            key = (self.loop, self.ping_interval)
            sweep = _SWEEPS.get(key)
            if sweep is None:
                sweep = _SWEEPS[key] = _KeepaliveSweep(self.loop, self.ping_interval)
            self._keepalive_bucket = sweep.add(self)

    def stop_keepalive(self) -> None:
        if self._keepalive_bucket is not None:
            self._keepalive_bucket.discard(self)
            self._keepalive_bucket = None
        super().stop_keepalive()

    def keepalive(self, payload: bytes, frame: bytes) -> None:
        """The sweep's visit, once per ping interval: fail the connection if the last ping
        is unanswered past the timeout, else send `frame` (a ping carrying `payload`)."""
        if self.close_sent or self.transport.is_closing():
            return
        if self.pending_ping_payload is not None:
            if self.ping_timeout is None:
                return
            late = self.loop.time() - self.ping_sent_at + self.tick_secs()
            if late >= self.ping_timeout:
                self.keepalive_timeout()
            return
        if self.conn.state is not State.OPEN:
            return
        now = self.loop.time()
        if self._carried and now - self.ping_sent_at < 2 * (self.ping_interval or 0.0) - 1:
            return  # the heartbeats carry the pings (ping_to_carry); this covers a missed one
        self.pending_ping_payload = payload
        self.ping_sent_at = now
        self._carried = False
        self.transport.write(frame)

    def ping_to_carry(self, payload: bytes) -> bool:
        """True if the caller is to write a ping carrying `payload` with the frame it writes
        now: no ping is in flight (one whose pong is past the timeout fails the connection,
        as the sweep would) and keepalive is on.

        The hub's heartbeat (every 25 s) carries one, and the sweep above skips a connection
        whose last ping a heartbeat carried less than two ping intervals ago: an idle
        connection gets one write per heartbeat (heartbeat + ping) instead of that plus a
        ping write every 20 s (bench/README.md, "Idle"). Idle connections are then pinged
        every heartbeat interval; busy ones, whose heartbeat waits for their writes and
        carries no ping, by the sweep, within two intervals of the last carried ping.
        """
        if self._keepalive_bucket is None or self.close_sent or self.transport.is_closing():
            return False
        now = self.loop.time()
        if self.pending_ping_payload is not None:
            if self.ping_timeout is not None and now - self.ping_sent_at >= self.ping_timeout:
                self.keepalive_timeout()
            return False
        if self.conn.state is not State.OPEN:
            return False
        self.pending_ping_payload = payload
        self.ping_sent_at = now
        self._carried = True
        return True

    def tick_secs(self) -> float:
        """Slack for the sweep's timer jitter: visits come one interval apart, give or take."""
        return (self.ping_interval or 0.0) / KEEPALIVE_SLOTS
