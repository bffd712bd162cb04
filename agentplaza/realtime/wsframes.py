"""Delivery frames written straight to uvicorn's socket, past the ASGI send.

A delivery through the ASGI send builds a message dict, passes starlette's state checks and
uvicorn's send (an await on its `writable` event), then websockets builds a Frame object and
serializes it through a BytesIO: about as much CPU as everything else one fan-out delivery
costs on this node. The text frame the client receives is the same either way: the header
(FIN + text opcode, the payload length; a server never masks) followed by the payload.

The frames written during one turn of the event loop go out in one write at its end: the
socket write is the largest single cost of a delivery, and with several senders one hub
wake-up hands each connection about two messages (measured at 5 senders into a group of 50).

Safe because uvicorn's websockets-sansio protocol writes each frame of its own (handshake,
pings, pongs, close) to the transport in one write as soon as websockets produced it, so our
frames never land inside one of its; because a frame is written only while the handshake is
done and no close was sent or received; and because per-message deflate is off (server.py).
Anything else (another ASGI server, a test client, an extension negotiated) keeps the ASGI send.
Whoever sends through ASGI on the same socket calls `flush()` first, so frames keep their order.
"""

from __future__ import annotations

import struct

from starlette.websockets import WebSocket
from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
from websockets.protocol import State

# RFC 6455 §5.2: FIN + opcode 1 (text), then the length in 7 bits, or 126 + 16 bits, or
# 127 + 64 bits; a server's frames are not masked.
_SHORT_HEADS = [bytes((0x81, n)) for n in range(126)]
_HEAD_16 = struct.Struct("!BBH").pack
_HEAD_64 = struct.Struct("!BBQ").pack


class SocketClosed(Exception):
    """The connection is closing or gone: nothing more can be written."""


def text_frame(*parts: bytes) -> bytes:
    """The concatenated `parts` as one unmasked, unfragmented text frame, byte for byte as
    websockets serializes it."""
    n = sum(map(len, parts))
    if n < 126:
        head = _SHORT_HEADS[n]
    elif n < 65536:
        head = _HEAD_16(0x81, 126, n)
    else:
        head = _HEAD_64(0x81, 127, n)
    return b"".join((head, *parts))


class FrameWriter:
    """Writes text frames of one accepted WebSocket to its transport."""

    def __init__(self, protocol: WebSocketsSansIOProtocol) -> None:
        self._protocol = protocol
        self._held: list[bytes] = []  # written this loop turn, not yet on the transport
        self.writable = protocol.writable.is_set
        """False while the client is not reading: the transport's buffer is over its high
        water mark (the ASGI send would wait here too)."""

    @classmethod
    def of(cls, websocket: WebSocket) -> FrameWriter | None:
        """A writer for `websocket` (after its accept), or None where only the ASGI send is
        safe: another server than uvicorn's websockets-sansio, or an extension in use."""
        protocol = getattr(websocket._send, "__self__", None)  # the ASGI send, a bound method
        if not isinstance(protocol, WebSocketsSansIOProtocol):
            return None
        if protocol.conn.extensions or not protocol.handshake_complete:
            return None
        return cls(protocol)

    async def wait_writable(self) -> None:
        await self._protocol.writable.wait()

    def write_text(self, *parts: bytes) -> None:
        """One text frame of the concatenated `parts`, on the transport by the end of this
        loop turn; raises SocketClosed once a close frame was sent or the peer is gone (a
        close frame received is seen at the flush, which then drops the frames)."""
        protocol = self._protocol
        if protocol.close_sent or protocol.disconnected:
            raise SocketClosed
        held = self._held
        held.append(text_frame(*parts))
        if len(held) == 1:
            protocol.loop.call_soon(self.flush)

    def flush(self) -> None:
        """Put the held frames on the transport now (dropped if the socket is closing: the
        client resumes from its last seq)."""
        held = self._held
        if not held:
            return
        self._held = []
        if not self._closing():
            self._protocol.transport.write(held[0] if len(held) == 1 else b"".join(held))

    def _closing(self) -> bool:
        protocol = self._protocol
        return (
            protocol.close_sent
            or protocol.disconnected
            or protocol.conn.state is not State.OPEN
            or protocol.transport.is_closing()
        )
