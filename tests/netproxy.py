"""A TCP proxy that can cut the line, like a network outage, for the server or a broker.

Subclasses change what happens on a connection by overriding `_serve` (tests/client/proxies.py
reads each HTTP request head first).
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any, Protocol, Self
from urllib.parse import urlsplit, urlunsplit

DRAIN_TIMEOUT_SECS = 10.0


class Readable(Protocol):
    """What a pipe reads from: a StreamReader, or a wrapper that changes what it yields."""

    async def read(self, n: int) -> bytes: ...


class DroppableProxy:
    """Listens on the upstream's host and forwards every connection to the upstream.

    `drop()` aborts every proxied connection and stops listening (reconnects are refused);
    `start()` listens again on the same port. The upstream itself keeps running.
    """

    def __init__(self, upstream_url: str, default_port: int) -> None:
        parts = urlsplit(upstream_url)
        self._upstream_url = upstream_url
        self.host = parts.hostname or "127.0.0.1"
        self._upstream_port = parts.port or default_port
        self.port = 0  # chosen by the first start(), kept by later ones
        self._listener: asyncio.Server | None = None
        self._transports: set[asyncio.WriteTransport] = set()
        self._tasks: set[asyncio.Task[Any]] = set()

    @property
    def url(self) -> str:
        """The upstream's URL (scheme, credentials, path) pointing at the proxy instead."""
        parts = urlsplit(self._upstream_url)
        auth = parts.netloc.rsplit("@", 1)[0] + "@" if "@" in parts.netloc else ""
        return urlunsplit(parts._replace(netloc=f"{auth}{self.host}:{self.port}"))

    async def start(self) -> Self:
        self._listener = await asyncio.start_server(self._handle, self.host, self.port)
        self.port = self._listener.sockets[0].getsockname()[1]
        return self

    async def drop(self) -> None:
        if self._listener is not None:
            self._listener.close()
            await self._listener.wait_closed()
            self._listener = None
        for transport in list(self._transports):
            transport.abort()  # ends every pipe; cancelling the tasks would log noise
        self._transports.clear()
        tasks, self._tasks = self._tasks, set()
        await asyncio.wait_for(asyncio.gather(*tasks, return_exceptions=True), DRAIN_TIMEOUT_SECS)

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        self._transports.add(writer.transport)
        try:
            await self._serve(reader, writer)
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            pass
        finally:
            writer.transport.abort()
            self._tasks.discard(task)
            self._transports.discard(writer.transport)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """One client connection (override to look at it first)."""
        await self._relay(reader, writer)

    async def _relay(
        self,
        reader: Readable,
        writer: asyncio.StreamWriter,
        *,
        first: bytes = b"",
        cut_answer: bool = False,
    ) -> None:
        """Pipes the client connection both ways to a new upstream connection, after sending
        `first` upstream; `cut_answer` cuts the line when the upstream starts answering."""
        up_reader, up_writer = await asyncio.open_connection(self.host, self._upstream_port)
        self._transports.add(up_writer.transport)
        try:
            up_writer.write(first)
            await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer, cut=cut_answer))
        finally:
            up_writer.transport.abort()
            self._transports.discard(up_writer.transport)


async def pipe(src: Readable, dst: asyncio.StreamWriter, *, cut: bool = False) -> None:
    """Copies `src` to `dst` until either ends, then aborts `dst`; with `cut`, aborts `dst` as
    soon as the first bytes arrive instead of passing them on."""
    try:
        with contextlib.suppress(OSError):
            while data := await src.read(65536):
                if cut:
                    return
                dst.write(data)
                await dst.drain()
    finally:
        dst.transport.abort()
