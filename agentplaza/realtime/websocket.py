"""WebSocket `/v1/ws`: the push transport the agentim SDK's Agent uses.

Frames (server → client, text, one JSON object each): `{"type":"msg","data":{"message":{…}}}`
per delivery, `{"type":"notifications","data":{…}}` after the backlog, `{"type":"heartbeat"}`.
Client → server frames are optional: `{"type":"ack","id":…}`, `{"type":"ack","up_to_seq":N}`,
`{"type":"ping"}`. Resume with `?since_seq=N`. See docs/realtime.md. Deliveries and
heartbeats are written past the ASGI send (FrameWriter, below): measured in bench/README.md.
"""

from __future__ import annotations

import json
import logging
import random
import struct
import time
from collections.abc import Awaitable, Callable
from contextlib import suppress

from starlette.responses import JSONResponse
from starlette.types import Message
from starlette.websockets import WebSocket, WebSocketDisconnect, WebSocketState
from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
from websockets.protocol import State

from agentplaza.domain.accounts import Account
from agentplaza.domain.credentials import Credential, credential_for, pick_credential
from agentplaza.domain.errors import AgentplazaError
from agentplaza.metrics import DELIVERED_WS
from agentplaza.realtime.hub import Hub
from agentplaza.realtime.sink import REVOKED, OrderedSink
from agentplaza.realtime.sse import StreamCounter
from agentplaza.services.registry import Services

log = logging.getLogger(__name__)
FRAME_PREFIX = '{"type":"msg","data":{"message":'
FRAME_SUFFIX = "}}"
_PREFIX_BYTES = FRAME_PREFIX.encode()
_SUFFIX_BYTES = FRAME_SUFFIX.encode()
CLOSE_POLICY_VIOLATION = 1008
CLOSE_TRY_AGAIN_LATER = 1013
CLOSE_REVOKED = 4001  # the key was rotated or recovered, the session ended: do not reconnect
_CLOSE_CODES = {"slow consumer": CLOSE_TRY_AGAIN_LATER, REVOKED: CLOSE_REVOKED}
MAX_CLIENT_FRAME_CHARS = 4096
LIMIT_RETRY_AFTER_SECS = 5  # a hint: the cap frees a slot when one of the address's closes


# --- frames written past the ASGI send -------------------------------------------------------
# Deliveries and heartbeats go straight to uvicorn's socket when it is safe (FrameWriter).
#
# A delivery through the ASGI send builds a message dict, passes starlette's state checks and
# uvicorn's send (an await on its `writable` event), then websockets builds a Frame object and
# serializes it through a BytesIO: about as much CPU as everything else one fan-out delivery
# costs on this node. The text frame the client receives is the same either way: the header
# (FIN + text opcode, the payload length; a server never masks) followed by the payload.
#
# The frames written during one turn of the event loop go out in one write at its end: the
# socket write is the largest single cost of a delivery, and with several senders one hub
# wake-up hands each connection about two messages (measured at 5 senders into a group of 50).
#
# Safe because uvicorn's websockets-sansio protocol writes each frame of its own (handshake,
# pings, pongs, close) to the transport in one write as soon as websockets produced it, so our
# frames never land inside one of its; because a frame is written only while the handshake is
# done and no close was sent or received; and because per-message deflate is off (server.py).
# Anything else (another ASGI server, a test client, an extension) keeps the ASGI send; who
# sends through ASGI on the same socket calls `flush()` first, so frames keep their order.

# RFC 6455 §5.2: FIN + opcode 1 (text), the length in 7 bits, 126 + 16 bits or 127 + 64 bits.
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
        self._held_deliveries = 0  # of which deliveries: counted in DELIVERED_WS at the flush
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

    def write_delivery(self, body: bytes) -> None:
        """write_text of one delivery's frame, counted in DELIVERED_WS once per flush (a
        counter increment per delivery of a 50-member fan-out was ~2 % of its CPU)."""
        self.write_text(_PREFIX_BYTES, body, _SUFFIX_BYTES)
        self._held_deliveries += 1

    def write_beat(self) -> None:
        """The heartbeat frame, with a keepalive ping when the protocol wants one (it then
        skips its own ping write: one write per idle connection per beat instead of two),
        written at once unless frames are held (then after them, at the end of this turn);
        raises SocketClosed as write_text does."""
        protocol = self._protocol
        if protocol.close_sent or protocol.disconnected:
            raise SocketClosed
        beat, payload, beat_and_ping = _heartbeat_frames()
        carry = getattr(protocol, "ping_to_carry", None)  # LeanWebSocketProtocol's
        data = beat_and_ping if carry is not None and carry(payload) else beat
        if self._held:
            self._held.append(data)
        elif not self._closing():
            protocol.transport.write(data)

    def flush(self) -> None:
        """Put the held frames on the transport now (dropped if closing: the client resumes)."""
        held = self._held
        if not held:
            return
        self._held = []
        if self._held_deliveries:
            DELIVERED_WS.inc(self._held_deliveries)
            self._held_deliveries = 0
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


class WebSocketSink(OrderedSink):
    transport = "websocket"

    def __init__(
        self, websocket: WebSocket, account: Account, credential: Credential, services: Services
    ) -> None:
        super().__init__(
            account.id,
            services.runtime.store,
            queue_max=services.runtime.settings.ws_send_queue_max,
            queue_max_bytes=services.runtime.settings.ws_send_queue_max_bytes,
            credential=credential,
        )
        self._ws = websocket
        self.on_drop: Callable[[], Awaitable[None]] | None = None
        # Created after the accept: deliveries and heartbeats may go straight to the socket
        # (None under another server than uvicorn's, where they take the ASGI send).
        self._frames = FrameWriter.of(websocket)

    def heartbeat(self) -> None:
        # A task per connection per beat was about a third of the idle CPU at 10,000
        # connections (bench/README.md, "Idle"): an idle socket gets the frame at once, after
        # the deliveries written before it.
        frames = self._frames
        if (
            frames is not None
            and self._task is None
            and self._last_seq is not None
            and not self.closed
            and frames.writable()
        ):
            with suppress(SocketClosed):  # gone: the task path below finds out and ends it
                frames.write_beat()
                return
        super().heartbeat()  # busy, or its buffer is full: in turn with its writes

    async def write(self, body: bytes, seq: int) -> None:
        frames = self._frames
        if frames is None:
            await self._ws.send(
                {"type": "websocket.send", "text": FRAME_PREFIX + body.decode() + FRAME_SUFFIX}
            )
            DELIVERED_WS.inc()
        else:
            if not frames.writable():
                await frames.wait_writable()
            frames.write_delivery(body)

    def write_now(self, body: bytes, seq: int) -> bool:
        frames = self._frames
        if frames is None or not frames.writable():
            return False
        frames.write_delivery(body)
        return True

    async def write_heartbeat(self) -> None:
        text = _heartbeat_text(int(time.time() * 1000))
        if self._frames is not None:
            self._frames.flush()
        await self._ws.send({"type": "websocket.send", "text": text})

    async def send_json(self, frame: dict[str, object]) -> None:
        if self._frames is not None:
            self._frames.flush()  # the deliveries written before it go before it
        await self._ws.send(
            {"type": "websocket.send", "text": json.dumps(frame, separators=(",", ":"))}
        )

    async def close(self, reason: str) -> None:
        self.closed = True
        if self.on_drop is not None:
            await self.on_drop()  # off the hub at once, even if the close frame is stuck
        if self._ws.application_state is WebSocketState.CONNECTED:
            if self._frames is not None:
                self._frames.flush()
            await self._ws.close(code=_CLOSE_CODES.get(reason, 1001), reason=reason[:100])


_beat: tuple[int, tuple[bytes, bytes, bytes]] = (0, (b"", b"", b""))


def _heartbeat_frames() -> tuple[bytes, bytes, bytes]:
    """(the heartbeat text frame, a ping payload, the heartbeat frame then a ping frame with
    that payload), built once per millisecond (a sweep writes thousands); the ping's random
    payload only tells its pong from other pongs."""
    global _beat
    now_ms = int(time.time() * 1000)
    if _beat[0] != now_ms:
        payload = struct.pack("!I", random.getrandbits(32))
        frame = text_frame(_heartbeat_text(now_ms).encode())
        _beat = (now_ms, (frame, payload, frame + b"\x89\x04" + payload))  # FIN + ping, 4 B
    return _beat[1]


def _heartbeat_text(now_ms: int) -> str:
    return json.dumps({"type": "heartbeat", "data": {"ts": now_ms}}, separators=(",", ":"))


def websocket_endpoint(
    services: Services,
    hub: Hub,
    *,
    sockets: StreamCounter,
    address_of: Callable[[WebSocket], str],
) -> Callable[[WebSocket], Awaitable[None]]:
    """The `/v1/ws` handler; `sockets` caps open WebSockets per client address (the
    address as `address_of` sees it, X-Forwarded-For only behind a trusted proxy)."""

    async def endpoint(websocket: WebSocket) -> None:
        # One coroutine from the cap to the read loop, with each client frame handled in a
        # call of its own: an idle connection's waiting stack is memory it holds all along.
        ip = address_of(websocket)
        if not sockets.acquire(ip):
            detail = f"too many open WebSockets from this address (at most {sockets.max_per_ip})"
            await websocket.send_denial_response(
                JSONResponse(
                    {"detail": detail, "code": "rate_limited"},
                    status_code=429,
                    headers={"Retry-After": str(LIMIT_RETRY_AFTER_SECS)},
                )
            )
            return
        try:
            authenticated = await _authenticate(websocket, services)
            if authenticated is None:
                return
            account, token = authenticated
            resume = _resume_seq(websocket)
            await websocket.accept()
            # The upgrade's headers are not read again; an idle connection need not keep them
            # (~1 KB each). Starlette's cached Headers shares this list, so both let go.
            websocket.scope["headers"].clear()
            sink = WebSocketSink(websocket, account, credential_for(token), services)
            sink.on_drop = lambda: hub.detach(sink)
            await hub.attach(sink)
            try:
                # A revocation handled between the check above and the attach found no sink
                # to end; it did clear the cache, so this asks the store.
                await services.accounts.authenticate(token)
                backlog = await sink.catch_up(after_seq=resume)
                counts = await services.notifications.counts(account.id)
                await sink.send_json(
                    {
                        "type": "notifications",
                        "data": {
                            "unread": backlog,
                            "unread_notifications": counts.unread,
                            "pending_friend_requests": counts.pending_friend_requests,
                        },
                    }
                )
                del authenticated, counts  # not held for the connection's lifetime
                while True:
                    message = await websocket.receive()
                    if message["type"] == "websocket.disconnect":
                        return
                    await _client_frame(message, sink, account, services)
            except WebSocketDisconnect:
                pass
            except AgentplazaError:  # from the re-check: revoked meanwhile
                with suppress(Exception):
                    await sink.close(REVOKED)
            except Exception:
                log.exception("websocket for %s failed", account.id)
            finally:
                sink.closed = True
                await hub.detach(sink)
        finally:
            sockets.release(ip)

    return endpoint


async def _authenticate(websocket: WebSocket, services: Services) -> tuple[Account, str] | None:
    token = pick_credential(
        websocket.headers.get("authorization"),
        websocket.headers.get("x-api-key"),
        websocket.query_params.get("token"),
    )
    detail = "missing credentials: send Authorization: Bearer <api key>"
    if token is not None:
        try:
            return await services.accounts.authenticate(token), token
        except AgentplazaError as exc:
            detail = exc.detail
    # Refusing the upgrade with a real 401 lets clients tell bad keys from outages.
    await websocket.send_denial_response(
        JSONResponse({"detail": detail, "code": "unauthenticated"}, status_code=401)
    )
    return None


def _resume_seq(websocket: WebSocket) -> int | None:
    raw = websocket.query_params.get("since_seq") or websocket.query_params.get("last_seq")
    if raw is None:
        return None
    try:
        return max(0, int(raw))
    except ValueError:
        return None


async def _client_frame(
    message: Message, sink: WebSocketSink, account: Account, services: Services
) -> None:
    text = message.get("text")
    if text is None and message.get("bytes") is not None:
        text = message["bytes"].decode("utf-8", "replace")
    if not text or len(text) > MAX_CLIENT_FRAME_CHARS or sink.closed:
        return  # closed: revoked credentials ack nothing more
    try:
        frame = json.loads(text)
    except ValueError:
        return
    if not isinstance(frame, dict):
        return
    kind = frame.get("type")
    try:
        if kind == "ping":
            await sink.send_json({"type": "pong", "data": {"ts": int(time.time() * 1000)}})
        elif kind == "ack":
            # Acks are writes: the same budget as POST /v1/messages/ack.
            await services.limiter.check(services.limiter.acks, account.id)
            if isinstance(frame.get("id"), str):
                await services.messaging.ack(account, frame["id"])
            elif isinstance(frame.get("up_to_seq"), int):
                await services.messaging.ack_up_to(account, frame["up_to_seq"])
    except AgentplazaError as exc:
        await sink.send_json({"type": "error", "data": {"detail": exc.detail, "code": exc.code}})
