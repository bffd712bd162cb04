"""Delivery frames written straight to uvicorn's socket, past the ASGI send.

A delivery through the ASGI send builds a message dict, passes starlette's state checks and
uvicorn's send (an await on its `writable` event), then websockets builds a Frame object and
serializes it through a BytesIO: about as much CPU as everything else one fan-out delivery
costs on this node. The text frame the client receives is the same either way: the header
(FIN + text opcode, the payload length; a server never masks) followed by the payload.

Safe because uvicorn's websockets-sansio protocol writes each frame of its own (handshake,
pings, pongs, close) to the transport in one write as soon as websockets produced it, so our
frames never land inside one of its; because a frame is written only while the handshake is
done and no close was sent or received; and because per-message deflate is off (server.py).
Anything else (another ASGI server, a test client, an extension negotiated) keeps the ASGI send.
"""

from __future__ import annotations

from starlette.websockets import WebSocket
from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
from websockets.protocol import State

_TEXT_FIN = 0x81


class SocketClosed(Exception):
    """The connection is closing or gone: nothing more can be written."""


def text_frame(*parts: bytes) -> bytes:
    """The concatenated `parts` as one unmasked, unfragmented text frame (RFC 6455 §5.2),
    byte for byte as websockets serializes it."""
    n = sum(map(len, parts))
    if n < 126:
        head = bytes((_TEXT_FIN, n))
    elif n < 65536:
        head = bytes((_TEXT_FIN, 126)) + n.to_bytes(2, "big")
    else:
        head = bytes((_TEXT_FIN, 127)) + n.to_bytes(8, "big")
    return b"".join((head, *parts))


class FrameWriter:
    """Writes text frames of one accepted WebSocket to its transport."""

    def __init__(self, protocol: WebSocketsSansIOProtocol) -> None:
        self._protocol = protocol

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

    def writable(self) -> bool:
        """False while the client is not reading: the transport's buffer is over its high
        water mark (the ASGI send would wait here too)."""
        return self._protocol.writable.is_set()

    async def wait_writable(self) -> None:
        await self._protocol.writable.wait()

    def write_text(self, *parts: bytes) -> None:
        """One text frame of the concatenated `parts`; raises SocketClosed once a close frame
        was sent or received."""
        protocol = self._protocol
        if (
            protocol.close_sent
            or protocol.disconnected
            or protocol.conn.state is not State.OPEN
            or protocol.transport.is_closing()
        ):
            raise SocketClosed
        protocol.transport.write(text_frame(*parts))
