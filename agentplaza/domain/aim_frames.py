"""AIM TCP frame headers: the agentim SDK's binary transport (agentim/aim_connection.py).

A frame is a 16-byte header and a payload of `length` bytes (a msgpack map, or nothing):

    off len field
    0   2   magic      b"AM"
    2   1   version    1
    3   1   flags      0x80 = response
    4   1   type       0 handshake, 1 heartbeat, 2 message, 3 ack, 7 error
    5   4   stream_id  uint32 big-endian
    9   3   seq        uint24 big-endian
    12  4   length     uint32 big-endian

Pure header arithmetic; the payload codec and the I/O live in realtime/aim.py.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from enum import IntEnum

MAGIC = b"AM"
VERSION = 1
PROTOCOL_VERSION = 1  # the handshake payload's `protocol_version`
HEADER_SIZE = 16
FLAG_RESPONSE = 0x80
SEQ_MASK = 0xFFFFFF
_LAYOUT = struct.Struct(">2sBBBI3sI")


class FrameType(IntEnum):
    HANDSHAKE = 0x00
    HEARTBEAT = 0x01
    MESSAGE = 0x02
    ACK = 0x03
    ERROR = 0x07


class FrameError(ValueError):
    """Bytes that are not an acceptable AIM frame header; the connection cannot continue."""


@dataclass(frozen=True, slots=True)
class FrameHeader:
    type: int
    flags: int
    stream_id: int
    seq: int
    length: int


def encode_frame(
    type_: int, payload: bytes = b"", *, flags: int = 0, stream_id: int = 0, seq: int = 0
) -> bytes:
    """Header + payload. `seq` is truncated to its 24 bits (the SDK ignores it on pushes)."""
    seq_bytes = (seq & SEQ_MASK).to_bytes(3, "big")
    header = _LAYOUT.pack(
        MAGIC, VERSION, flags & 0xFF, type_ & 0xFF, stream_id & 0xFFFFFFFF, seq_bytes, len(payload)
    )
    return header + payload


def decode_header(data: bytes, *, max_length: int) -> FrameHeader:
    """The header in the first 16 bytes of `data`; FrameError if it is not one we accept.

    The length is checked before anything is read for it, so a peer cannot make the server
    buffer more than `max_length` bytes for one frame.
    """
    if len(data) < HEADER_SIZE:
        raise FrameError("truncated header")
    magic, version, flags, type_, stream_id, seq_bytes, length = _LAYOUT.unpack_from(data)
    if magic != MAGIC:
        raise FrameError("bad magic (not an AIM frame)")
    if version != VERSION:
        raise FrameError(f"unsupported frame version {version}")
    if length > max_length:
        raise FrameError(f"frame payload of {length} bytes exceeds the {max_length}-byte limit")
    return FrameHeader(type_, flags, stream_id, int.from_bytes(seq_bytes, "big"), length)
