"""LeanWebSocketProtocol's keepalive: a ping carried by the heartbeat's write stands for the
sweep's, and an unanswered one still fails the connection (realtime/wsprotocol.py)."""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.config import Config
from uvicorn.server import ServerState
from websockets.protocol import State

from agentplaza.realtime.wsprotocol import KEEPALIVE_SLOTS, LeanWebSocketProtocol

INTERVAL = 20.0
PING = b"\x89\x04abcd"


class FakeTransport:
    def __init__(self) -> None:
        self.written: list[bytes] = []
        self.closed = False

    def write(self, data: bytes) -> None:
        self.written.append(data)

    def is_closing(self) -> bool:
        return self.closed

    def close(self) -> None:
        self.closed = True


async def _app(scope: Any, receive: Any, send: Any) -> None:  # never called
    raise AssertionError


def open_protocol() -> tuple[LeanWebSocketProtocol, FakeTransport]:
    config = Config(app=_app, ws_ping_interval=INTERVAL, ws_ping_timeout=INTERVAL)
    proto = LeanWebSocketProtocol(config, ServerState(), {}, asyncio.get_running_loop())
    transport = FakeTransport()
    proto.transport = transport  # type: ignore[assignment]
    proto.conn.state = State.OPEN
    proto.start_keepalive()
    return proto, transport


async def test_a_carried_ping_replaces_the_sweeps_until_an_interval_has_passed() -> None:
    proto, transport = open_protocol()
    try:
        assert proto.ping_to_carry(b"abcd")
        assert proto.pending_ping_payload == b"abcd"
        assert not proto.ping_to_carry(b"efgh")  # one ping in flight at a time
        proto.keepalive(b"wxyz", PING)  # the sweep's visit: the carried ping is not late
        assert transport.written == []

        proto.pending_ping_payload = None  # its pong came back
        proto.ping_sent_at -= INTERVAL + 5  # the next heartbeat is due
        proto.keepalive(b"wxyz", PING)
        assert transport.written == []  # the heartbeats carry the pings

        proto.ping_sent_at -= INTERVAL - 5  # two intervals without a heartbeat carrying one
        proto.keepalive(b"wxyz", PING)
        assert transport.written == [PING]
        assert proto.pending_ping_payload == b"wxyz"

        proto.pending_ping_payload = None  # answered; the sweep's own pings are every interval
        proto.ping_sent_at -= INTERVAL - INTERVAL / KEEPALIVE_SLOTS
        proto.keepalive(b"stuv", PING)
        assert transport.written == [PING, PING]
    finally:
        proto.stop_keepalive()


async def test_a_carried_ping_past_the_timeout_fails_the_connection() -> None:
    proto, transport = open_protocol()
    try:
        assert proto.ping_to_carry(b"abcd")
        proto.ping_sent_at -= INTERVAL  # no pong for a whole timeout
        assert not proto.ping_to_carry(b"efgh")
        assert transport.closed
        assert proto.close_sent
        assert transport.written and transport.written[0][0] == 0x88  # a close frame (1011)
    finally:
        proto.stop_keepalive()


async def test_no_ping_is_carried_without_keepalive() -> None:
    proto, _ = open_protocol()
    proto.stop_keepalive()
    assert not proto.ping_to_carry(b"abcd")
    assert proto.pending_ping_payload is None
