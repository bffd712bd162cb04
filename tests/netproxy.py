"""A TCP proxy that can cut the line, like a network outage, for the server or a broker."""

from __future__ import annotations

import asyncio
from typing import Any
from urllib.parse import urlsplit, urlunsplit

DRAIN_TIMEOUT_SECS = 10.0


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

    async def start(self) -> None:
        self._listener = await asyncio.start_server(self._handle, self.host, self.port)
        self.port = self._listener.sockets[0].getsockname()[1]

    async def drop(self) -> None:
        if self._listener is not None:
            self._listener.close()
            await self._listener.wait_closed()
            self._listener = None
        for transport in self._transports:
            transport.abort()
        self._transports.clear()
        tasks, self._tasks = self._tasks, set()
        await asyncio.wait_for(asyncio.gather(*tasks, return_exceptions=True), DRAIN_TIMEOUT_SECS)

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        self._transports.add(writer.transport)
        try:
            up_reader, up_writer = await asyncio.open_connection(self.host, self._upstream_port)
        except OSError:
            writer.transport.abort()
            return
        self._transports.add(up_writer.transport)
        await asyncio.gather(_pipe(reader, up_writer), _pipe(up_reader, writer))


async def _pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
    try:
        while data := await src.read(65536):
            dst.write(data)
            await dst.drain()
    except OSError:
        pass
    finally:
        dst.transport.abort()
