"""AIM TCP: the agentim SDK's binary push transport, for agents on the server's own host.

The SDK's `Agent`, given a `localhost`/`127.0.0.1` server URL, connects to port 8082 (hard-coded)
before it tries the WebSocket, and falls back only after ~15 s of failures. Serving the port
makes such an agent live at once. Frames: domain/aim_frames.py; payloads are msgpack maps.

One connection: the client's HANDSHAKE `{"token", "protocol_version": 1}` is answered with
HANDSHAKE|RESPONSE `{"agent_id"}` (or ERROR `{"message"}` and a close); then the backlog of
unacked deliveries and live deliveries arrive as MESSAGE frames (the delivered object of
docs/streams.md), through the same OrderedSink rules as a WebSocket. Client HEARTBEATs are
echoed; a client MESSAGE is a send (the body of POST /v1/messages) answered by ACK|RESPONSE
with the send response; a client ACK `{"id"}` or `{"up_to_seq"}` acknowledges. A frame that
is not AIM (magic, version, length above `aim_max_frame_bytes`, undecodable payload) gets an
ERROR frame and the connection is closed; so does one silent for `aim_idle_timeout_secs`.
"""

from __future__ import annotations

import asyncio
import errno
import ipaddress
import logging
from collections.abc import Awaitable, Callable
from contextlib import suppress
from typing import Any

import msgpack
import orjson

from agentplaza.domain.accounts import Account
from agentplaza.domain.aim_frames import (
    FLAG_RESPONSE,
    HEADER_SIZE,
    PROTOCOL_VERSION,
    FrameError,
    FrameHeader,
    FrameType,
    decode_header,
    encode_frame,
)
from agentplaza.domain.credentials import MAX_CREDENTIAL_CHARS, Credential, credential_for
from agentplaza.domain.errors import AgentplazaError, ErrorCode
from agentplaza.metrics import AIM_CLOSED, DELIVERED_AIM
from agentplaza.realtime.hub import Hub
from agentplaza.realtime.sink import REVOKED, OrderedSink
from agentplaza.services.registry import Services
from agentplaza.settings import Settings
from agentplaza.store.errors import StoreError

log = logging.getLogger(__name__)

SendFn = Callable[[Account, dict[str, Any]], Awaitable[dict[str, Any]]]
"""A send from a client MESSAGE payload; returns the send response, raises AgentplazaError."""

HANDSHAKE_TIMEOUT_SECS = 10.0  # the SDK's own wait for the handshake answer
HANDSHAKE_MAX_BYTES = 4096  # before authentication, nobody gets to make us buffer more
BIND_RETRY_SECS = 5.0
FAREWELL_WAIT_SECS = 5.0  # for a sink closed elsewhere to write its ERROR frame (_serve)
_CLOSE_CODES = {REVOKED: ErrorCode.INVALID_CREDENTIALS.value}
"""The ERROR frame's `code` when the server ends a connection, by reason (else going_away)."""


class _Closed(Exception):
    """The connection ends here; `reason` goes to the peer in an ERROR frame."""

    def __init__(self, reason: str, code: str, counted_as: str) -> None:
        super().__init__(reason)
        self.reason, self.code, self.counted_as = reason, code, counted_as


def bind_host(settings: Settings) -> str:
    """`aim_host`, else `host` when that is a loopback address, else 127.0.0.1.

    The SDK speaks AIM only to local URLs, and in plaintext with the API key in the first
    frame: listening on a public interface would expose keys and serve nobody.
    """
    if settings.aim_host:
        return settings.aim_host
    if settings.host == "localhost":
        return settings.host
    try:
        return settings.host if ipaddress.ip_address(settings.host).is_loopback else "127.0.0.1"
    except ValueError:
        return "127.0.0.1"


class AimConnection:
    """One TCP peer: framed reads with the idle deadline, serialized frame writes."""

    def __init__(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, settings: Settings
    ) -> None:
        self.reader, self.writer = reader, writer
        self.idle_secs = settings.aim_idle_timeout_secs
        self.max_frame = settings.aim_max_frame_bytes
        # Held across writing one frame, and by the reader across a client send and its ACK:
        # the SDK takes the first frame after its MESSAGE as the answer, so no push may slip
        # between them.
        self.lock = asyncio.Lock()

    async def read_frame(self, *, max_length: int, wait_secs: float) -> tuple[FrameHeader, bytes]:
        try:
            async with asyncio.timeout(wait_secs):
                header = decode_header(
                    await self.reader.readexactly(HEADER_SIZE), max_length=max_length
                )
                payload = await self.reader.readexactly(header.length) if header.length else b""
        except FrameError as exc:
            raise _Closed(str(exc), "invalid_frame", "protocol") from None
        except TimeoutError:
            raise _Closed("idle timeout", "idle_timeout", "idle") from None
        return header, payload

    async def send(self, type_: int, payload: dict[str, Any] | None = None, **fields: int) -> None:
        async with self.lock:
            await self.write_frame(type_, payload, **fields)

    async def write_frame(
        self, type_: int, payload: dict[str, Any] | None = None, **fields: int
    ) -> None:
        """Write one frame and wait for room; the caller holds `lock`."""
        self.writer.write(encode_frame(type_, _pack(payload), **fields))
        # A peer that stops reading must not hold this connection (and its reader) forever.
        async with asyncio.timeout(self.idle_secs):
            await self.writer.drain()

    def refuse(self, reason: str, code: str) -> None:
        """Best effort: an ERROR frame, then close (never waits on the peer)."""
        with suppress(Exception):
            self.writer.write(
                encode_frame(FrameType.ERROR, _pack({"message": reason, "code": code}))
            )
        self.writer.close()


class AimSink(OrderedSink):
    transport = "aim"

    def __init__(
        self, conn: AimConnection, account: Account, credential: Credential, services: Services
    ) -> None:
        super().__init__(
            account.id,
            services.runtime.store,
            queue_max=services.runtime.settings.ws_send_queue_max,
            credential=credential,
        )
        self._conn = conn
        self.on_drop: Callable[[], Awaitable[None]] | None = None
        self.told = asyncio.Event()  # set once close() has written the peer its frame

    async def write(self, body: bytes, seq: int) -> None:
        await self._conn.send(FrameType.MESSAGE, orjson.loads(body), seq=seq)
        DELIVERED_AIM.inc()

    async def write_heartbeat(self) -> None:
        # Nothing: the client heartbeats every 25 s and the idle deadline catches dead peers;
        # an unsolicited frame could be taken by the SDK's send_message() as its ACK.
        return

    async def close(self, reason: str) -> None:
        self.closed = True
        # The peer is told before anything awaits: detaching may wait on the bus (a Redis
        # unsubscribe), and the connection's own handler would meanwhile close the socket
        # without the ERROR frame.
        if reason == "slow consumer":
            self._conn.writer.transport.abort()  # its buffer is full: an ERROR frame would wait
        else:
            self._conn.refuse(reason, _CLOSE_CODES.get(reason, "going_away"))
        self.told.set()
        if self.on_drop is not None:
            await self.on_drop()


class AimServer:
    """The listener, started and stopped by the app's lifespan (api/app.py)."""

    def __init__(self, services: Services, hub: Hub, send: SendFn) -> None:
        self._services = services
        self._settings = services.runtime.settings
        self._hub = hub
        self._send = send
        self._server: asyncio.Server | None = None
        self._retry: asyncio.Task[None] | None = None
        self._handlers: set[asyncio.Task[Any]] = set()
        self._stopping = False

    @property
    def listening(self) -> bool:
        return self._server is not None

    async def start(self) -> None:
        """Listen; a port already taken is a warning, and binding is retried in the background
        (a restarting server takes the port over once its predecessor lets go)."""
        if not self._settings.aim_enabled:
            return
        host, port = bind_host(self._settings), self._settings.aim_port
        try:
            await self._bind(host, port)
        except OSError as exc:
            if exc.errno != errno.EADDRINUSE:
                log.warning("AIM TCP disabled: cannot listen on %s:%d (%s)", host, port, exc)
                return
            log.warning(
                "AIM TCP port %s:%d is taken (another server?); retrying every %.0f s."
                " Agents fall back to the WebSocket meanwhile.",
                *(host, port, BIND_RETRY_SECS),
            )
            self._retry = asyncio.get_running_loop().create_task(self._bind_later(host, port))

    async def _bind(self, host: str, port: int) -> None:
        self._server = await asyncio.start_server(
            self._handle,
            host,
            port,
            # `--workers N`: every worker listens on the port and the kernel spreads
            # connections; one process alone binds exclusively, so a second server on the
            # same host cannot silently take half of its agents.
            reuse_port=self._settings.workers > 1,
            backlog=1024,
        )
        log.info("AIM TCP listening on %s:%d", host, port)

    async def _bind_later(self, host: str, port: int) -> None:
        while not self._stopping:
            await asyncio.sleep(BIND_RETRY_SECS)
            with suppress(OSError):
                await self._bind(host, port)
                return

    async def stop(self) -> None:
        """Stop listening and end every connection (idempotent)."""
        self._stopping = True
        if self._retry is not None:
            self._retry.cancel()
            with suppress(asyncio.CancelledError):
                await self._retry
        if self._server is not None:
            self._server.close()
            self._server = None
        handlers = tuple(self._handlers)
        for task in handlers:
            task.cancel()
        await asyncio.gather(*handlers, return_exceptions=True)

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._handlers.add(task)
        conn = AimConnection(reader, writer, self._settings)
        try:
            await self._serve(conn)
        except _Closed as exc:
            AIM_CLOSED.labels(exc.counted_as).inc()
            log.debug("AIM connection closed: %s", exc.reason)
            conn.refuse(exc.reason, exc.code)
        except (asyncio.IncompleteReadError, ConnectionError, TimeoutError):
            pass  # the peer went away (or stopped reading our writes)
        except asyncio.CancelledError:
            conn.refuse("server shutting down", "going_away")
        except Exception:
            log.exception("AIM connection failed")
        finally:
            self._handlers.discard(task)
            writer.close()

    async def _serve(self, conn: AimConnection) -> None:
        account, token, resume = await self._handshake(conn)
        sink = AimSink(conn, account, credential_for(token), self._services)
        sink.on_drop = lambda: self._hub.detach(sink)
        await self._hub.attach(sink)
        try:
            # A revocation handled between the handshake and the attach found no sink to end;
            # it did clear the cache, so this asks the store (as the WebSocket does).
            try:
                await self._services.accounts.authenticate(token)
            except AgentplazaError:
                raise _Closed(REVOKED, ErrorCode.INVALID_CREDENTIALS.value, "auth") from None
            await sink.catch_up(after_seq=resume)
            while not sink.closed:
                header, raw = await conn.read_frame(
                    max_length=conn.max_frame, wait_secs=conn.idle_secs
                )
                if sink.closed:
                    break  # revoked while this frame was read: it sends or acks nothing
                await self._on_frame(conn, account, header, _unpack(raw))
            # Closed by the hub (revoked, say, during the catch-up): the close task it started
            # tells the peer why. Returning now would let _handle close the socket first and
            # the ERROR frame would be lost (seen in CI under load).
            with suppress(TimeoutError):
                await asyncio.wait_for(sink.told.wait(), FAREWELL_WAIT_SECS)
        finally:
            sink.closed = True
            await self._hub.detach(sink)

    async def _handshake(self, conn: AimConnection) -> tuple[Account, str, int | None]:
        header, raw = await conn.read_frame(
            max_length=HANDSHAKE_MAX_BYTES, wait_secs=min(conn.idle_secs, HANDSHAKE_TIMEOUT_SECS)
        )
        if header.type != FrameType.HANDSHAKE:
            raise _Closed("expected a HANDSHAKE frame first", "invalid_frame", "protocol")
        payload = _unpack(raw)
        token, version = payload.get("token"), payload.get("protocol_version", PROTOCOL_VERSION)
        if version != PROTOCOL_VERSION:
            raise _Closed(f"unsupported protocol_version {version!r}", "invalid_frame", "protocol")
        if not isinstance(token, str) or not token.strip():
            raise _Closed("missing token: send your API key", "unauthenticated", "auth")
        token = token.strip()[:MAX_CREDENTIAL_CHARS]
        try:
            account = await self._services.accounts.authenticate(token)
        except AgentplazaError as exc:
            raise _Closed(exc.detail, exc.code.value, "auth") from None
        except StoreError:
            raise _Closed("storage unavailable; retry", "unavailable", "unavailable") from None
        await conn.send(
            FrameType.HANDSHAKE,
            {"agent_id": account.id},
            flags=FLAG_RESPONSE,
            stream_id=header.stream_id,
            seq=header.seq,
        )
        since = payload.get("since_seq")
        resume = since if isinstance(since, int) and since >= 0 else None
        return account, token, resume

    async def _on_frame(
        self, conn: AimConnection, account: Account, header: FrameHeader, payload: dict[str, Any]
    ) -> None:
        answer = {"flags": FLAG_RESPONSE, "stream_id": header.stream_id, "seq": header.seq}
        if header.type == FrameType.HEARTBEAT:
            await conn.send(FrameType.HEARTBEAT, {"ts": payload.get("ts", 0)}, **answer)
        elif header.type == FrameType.MESSAGE:
            async with conn.lock:
                reply_type, reply = await self._answer_send(account, payload)
                await conn.write_frame(reply_type, reply, **answer)
        elif header.type == FrameType.ACK:
            error = await self._apply_ack(account, payload)
            if error is not None:
                await conn.send(FrameType.ERROR, error, **answer)
        elif header.type == FrameType.HANDSHAKE:
            await conn.send(FrameType.ERROR, _error("already authenticated", "conflict"), **answer)
        else:
            detail = f"unknown frame type 0x{header.type:02x}"
            await conn.send(FrameType.ERROR, _error(detail, "invalid_frame"), **answer)

    async def _answer_send(
        self, account: Account, payload: dict[str, Any]
    ) -> tuple[int, dict[str, Any]]:
        try:
            return FrameType.ACK, await self._send(account, payload)
        except AgentplazaError as exc:
            return FrameType.ERROR, _error(exc.detail, exc.code.value, status=exc.status)
        except StoreError:
            detail = "storage temporarily unavailable; retry"
            return FrameType.ERROR, _error(detail, ErrorCode.UNAVAILABLE.value, status=503)

    async def _apply_ack(self, account: Account, payload: dict[str, Any]) -> dict[str, Any] | None:
        message_id, up_to = payload.get("id"), payload.get("up_to_seq")
        try:
            if isinstance(message_id, str):
                await self._services.messaging.ack(account, message_id)
            elif isinstance(up_to, int) and not isinstance(up_to, bool):
                await self._services.messaging.ack_up_to(account, up_to)
            else:
                return _error("an ACK needs `id` or `up_to_seq`", "validation_error")
        except AgentplazaError as exc:
            return _error(exc.detail, exc.code.value, status=exc.status)
        return None


def _error(detail: str, code: str, *, status: int | None = None) -> dict[str, Any]:
    """ERROR payload: the SDK logs `message`; `detail`/`code` are the HTTP error body's."""
    body: dict[str, Any] = {"message": detail, "detail": detail, "code": code}
    if status is not None:
        body["status"] = status
    return body


def _pack(payload: dict[str, Any] | None) -> bytes:
    # The SDK sends an empty map as no payload at all; so do we.
    return msgpack.packb(payload, use_bin_type=True, default=str) if payload else b""


def _unpack(raw: bytes) -> dict[str, Any]:
    if not raw:
        return {}
    try:
        payload = msgpack.unpackb(raw, raw=False, strict_map_key=True)
    except Exception:  # msgpack raises several unrelated types for malformed input
        raise _Closed("payload is not msgpack", "invalid_frame", "protocol") from None
    if not isinstance(payload, dict):
        raise _Closed("payload must be a msgpack map", "invalid_frame", "protocol")
    return payload
