"""Loopback HTTP proxies that misbehave on purpose, for the SDK's failure tests.

Both read the request head of each client connection and then pipe bytes; the upstream is
told `Connection: close`, so every proxied connection carries exactly one request.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Callable

from tests.server import TEST_HOST

HEAD_END = b"\r\n\r\n"


class HttpProxy:
    """Forwards to `upstream_port`; `decide(method, path)` may answer instead:
    "refuse" (404 JSON), "drop-response" (forward, then cut the line when the answer
    starts coming back: the server did the work, the client never hears of it)."""

    def __init__(self, upstream_port: int, decide: Callable[[str, str], str | None]) -> None:
        self.upstream_port = upstream_port
        self.decide = decide
        self.seen: list[tuple[str, str]] = []
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._transports: set[asyncio.WriteTransport] = set()

    @property
    def url(self) -> str:
        assert self._server is not None
        return f"http://{TEST_HOST}:{self._server.sockets[0].getsockname()[1]}"

    async def start(self) -> HttpProxy:
        self._server = await asyncio.start_server(self._handle, TEST_HOST, 0)
        return self

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
        for transport in list(self._transports):
            transport.abort()  # ends every pipe; cancelling the tasks would log noise
        await asyncio.gather(*self._tasks, return_exceptions=True)

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
        head = await reader.readuntil(HEAD_END)
        lines = head.decode("latin-1").split("\r\n")
        method, path = lines[0].split(" ")[:2]
        self.seen.append((method, path))
        action = self.decide(method, path.split("?")[0])
        if action == "refuse":
            body = json.dumps({"detail": "not here", "code": "not_found"}).encode()
            writer.write(
                b"HTTP/1.1 404 Not Found\r\ncontent-type: application/json\r\n"
                + f"content-length: {len(body)}\r\nconnection: close\r\n\r\n".encode()
                + body
            )
            await writer.drain()
            return
        kept = [ln for ln in lines[1:] if ln and not ln.lower().startswith("connection:")]
        upgrade = any(ln.lower().startswith("upgrade:") for ln in kept)
        kept.append("Connection: Upgrade" if upgrade else "Connection: close")
        new_head = "\r\n".join([lines[0], *kept]).encode("latin-1") + HEAD_END
        up_reader, up_writer = await asyncio.open_connection(TEST_HOST, self.upstream_port)
        self._transports.add(up_writer.transport)
        try:
            up_writer.write(new_head)
            back = _pipe(up_reader, writer, cut=action == "drop-response")
            await asyncio.gather(_pipe(reader, up_writer), back)
        finally:
            up_writer.transport.abort()
            self._transports.discard(up_writer.transport)


async def _pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter, cut: bool = False) -> None:
    with contextlib.suppress(OSError):
        while data := await src.read(65536):
            if cut:
                dst.transport.abort()
                return
            dst.write(data)
            await dst.drain()
    dst.transport.abort()
