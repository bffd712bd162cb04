"""Clients for AIM TCP tests: the agentim SDK's own connection class, and a raw socket that
builds frames byte by byte (independently of agentplaza/domain/aim_frames.py) for garbage."""

from __future__ import annotations

import asyncio
import struct
from dataclasses import dataclass
from typing import Any

import msgpack
from agentim.aim_connection import AimTcpConnection

from tests.server import ServerProcess

HANDSHAKE, HEARTBEAT, MESSAGE, ACK, ERROR = 0x00, 0x01, 0x02, 0x03, 0x07
RESPONSE = 0x80
FRAME_TIMEOUT = 5.0


def raw_frame(
    type_: int,
    payload: bytes | dict[str, Any] = b"",
    *,
    magic: bytes = b"AM",
    version: int = 1,
    flags: int = 0,
    stream_id: int = 0,
    seq: int = 0,
    length: int | None = None,
) -> bytes:
    body = msgpack.packb(payload, use_bin_type=True) if isinstance(payload, dict) else payload
    size = len(body) if length is None else length
    return (
        magic
        + bytes([version, flags, type_])
        + struct.pack(">I", stream_id)
        + seq.to_bytes(3, "big")
        + struct.pack(">I", size)
        + body
    )


@dataclass
class Frame:
    type: int
    flags: int
    stream_id: int
    seq: int
    payload: dict[str, Any]


class RawAim:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    @classmethod
    async def open(cls, srv: ServerProcess) -> RawAim:
        assert srv.aim_port is not None
        reader, writer = await asyncio.open_connection(srv.host, srv.aim_port)
        return cls(reader, writer)

    async def send_bytes(self, data: bytes) -> None:
        self.writer.write(data)
        await self.writer.drain()

    async def frame(self, timeout: float = FRAME_TIMEOUT) -> Frame:  # noqa: ASYNC109
        header = await asyncio.wait_for(self.reader.readexactly(16), timeout)
        length = struct.unpack(">I", header[12:16])[0]
        body = await asyncio.wait_for(self.reader.readexactly(length), timeout) if length else b""
        assert header[:3] == b"AM\x01", header
        return Frame(
            header[4],
            header[3],
            struct.unpack(">I", header[5:9])[0],
            int.from_bytes(header[9:12], "big"),
            msgpack.unpackb(body, raw=False) if body else {},
        )

    async def handshake(self, api_key: str) -> Frame:
        await self.send_bytes(raw_frame(HANDSHAKE, {"token": api_key, "protocol_version": 1}))
        return await self.frame()

    async def frames_until_closed(self, timeout: float = FRAME_TIMEOUT) -> list[Frame]:  # noqa: ASYNC109
        """Every frame the server writes before it closes the connection (fails if it doesn't)."""
        frames: list[Frame] = []
        async with asyncio.timeout(timeout):
            while True:
                try:
                    frames.append(await self.frame(timeout))
                except (asyncio.IncompleteReadError, ConnectionResetError):
                    return frames

    def close(self) -> None:
        self.writer.close()


async def sdk_connection(srv: ServerProcess, api_key: str) -> AimTcpConnection:
    """The SDK's AimTcpConnection (as its Agent builds it, but on the test server's port),
    connected and handshaken."""
    assert srv.aim_port is not None
    conn = AimTcpConnection(srv.host, srv.aim_port, api_key, tls=False)
    assert await conn.connect()
    return conn


async def sdk_frame(conn: AimTcpConnection) -> dict[str, Any]:
    frame: dict[str, Any] = await asyncio.wait_for(conn.read_frame(), FRAME_TIMEOUT)
    return frame
