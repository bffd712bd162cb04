"""The scripted model server's HTTP/1.1 plumbing: one request per connection, the client's
hang-up noticed at once, error bodies in each provider's shape. Used only by tests/llmfake.py."""

from __future__ import annotations

import asyncio
import contextlib
import json
from dataclasses import dataclass
from typing import Any

from tests.llm import wire


@dataclass(frozen=True, slots=True)
class Recorded:
    """One request as received: `kind` is "openai" or "anthropic" (by path and headers)."""

    method: str
    path: str
    headers: dict[str, str]
    body: Any
    kind: str


async def read_request(reader: asyncio.StreamReader) -> Recorded | None:
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except asyncio.IncompleteReadError:
        return None
    lines = head.decode("latin-1").split("\r\n")
    method, path, _ = lines[0].split(" ", 2)
    headers = {}
    for line in lines[1:]:
        if ":" in line:
            name, value = line.split(":", 1)
            headers[name.strip().lower()] = value.strip()
    raw = await reader.readexactly(int(headers.get("content-length", "0")))
    try:
        body = json.loads(raw) if raw else None
    except ValueError:
        body = raw.decode("utf-8", "replace")
    kind = "anthropic" if "anthropic-version" in headers or path.endswith("/messages") else "openai"
    return Recorded(method, path, headers, body, kind)


async def watch_eof(reader: asyncio.StreamReader, gone: asyncio.Event) -> None:
    """The client sends nothing after its request: EOF (or a reset) means it went away."""
    with contextlib.suppress(ConnectionError):
        while await reader.read(4096):
            pass
    gone.set()


async def gone_within(gone: asyncio.Event, seconds: float) -> bool:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(gone.wait(), seconds)
    return gone.is_set()


async def send_json(writer: asyncio.StreamWriter, status: int, body: Any, extra: str = "") -> bool:
    data = json.dumps(body).encode()
    writer.write(
        f"HTTP/1.1 {status} {'OK' if status < 400 else 'Error'}\r\ncontent-type: application/json"
        f"\r\ncontent-length: {len(data)}\r\nconnection: close\r\n{extra}\r\n".encode()
        + data
    )
    await writer.drain()
    return True


async def send_error(
    writer: asyncio.StreamWriter, kind: str, status: int, retry_after: float | None, message: str
) -> bool:
    body = wire.anthropic_error if kind == "anthropic" else wire.openai_error
    extra = f"retry-after: {retry_after:g}\r\n" if retry_after is not None else ""
    return await send_json(writer, status, body(status, message), extra)
