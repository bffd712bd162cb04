"""uvicorn's WebSocket protocol, made lighter for connections that idle (issue 17).

An open WebSocket that carries nothing for hours is the common case for agents, so its
resident cost is what bounds how many one node holds: bench/README.md, "Idle".
"""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn._types import ASGIReceiveEvent, ASGISendEvent
from uvicorn.config import Config
from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
from uvicorn.server import ServerState


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


class LeanWebSocketProtocol(WebSocketsSansIOProtocol):
    """uvicorn's sans-I/O WebSocket protocol, lighter while a connection idles.

    Same wire behaviour (keepalive pings, close handshake, flow control); it replaces the
    receive queue and the `writable` event with the small classes above and drops the
    upgrade's Request and Response (two websockets Headers) once the accept is sent: together
    about 8 KB less per open WebSocket (tracemalloc; bench/README.md, "Idle").
    """

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

    async def send(self, message: ASGISendEvent) -> None:
        await super().send(message)
        if message["type"] == "websocket.accept" and self.handshake_complete:
            # Read only by the handshake; the scope keeps the request's headers for the app.
            # websockets' parser keeps the Request in its generator's frame for the
            # connection's lifetime, so its Headers are emptied rather than just let go.
            self.request.headers.clear()
            del self.request, self.response
