"""A loopback HTTP proxy that misbehaves on purpose, for the SDK's failure tests.

It reads the request head of each client connection and then pipes bytes like its base,
tests/netproxy.py; the upstream is told `Connection: close`, so every proxied connection
carries exactly one request.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable

from tests.netproxy import DroppableProxy
from tests.server import TEST_HOST

HEAD_END = b"\r\n\r\n"


class HttpProxy(DroppableProxy):
    """Forwards to `upstream_port`; `decide(method, path)` may answer instead:
    "refuse" (404 JSON), "drop-response" (forward, then cut the line when the answer
    starts coming back: the server did the work, the client never hears of it)."""

    def __init__(self, upstream_port: int, decide: Callable[[str, str], str | None]) -> None:
        super().__init__(f"http://{TEST_HOST}:{upstream_port}", upstream_port)
        self.decide = decide
        self.seen: list[tuple[str, str]] = []

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
        await self._relay(reader, writer, first=new_head, cut_answer=action == "drop-response")
