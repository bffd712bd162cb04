"""AIM TCP (realtime/aim.py) against a real server: the agentim SDK's binary transport.

Most tests drive the SDK's own `AimTcpConnection` on a free port (no lock needed); garbage is
written byte by byte on a raw socket; the real `Agent`, which only knows port 8082, runs under
the machine-wide lock of tests/aimlock.py, in tests/sdk/.
"""

from __future__ import annotations

import asyncio
import signal
import socket
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from typing import TYPE_CHECKING, Any

import httpx
import msgpack
import pytest

from agentplaza.realtime.aim import bind_host
from agentplaza.settings import Settings
from tests.api.helpers import send
from tests.conftest import NO_RATE_LIMITS, own_server, register
from tests.realtime.aimclient import (
    ACK,
    ERROR,
    HANDSHAKE,
    HEARTBEAT,
    MESSAGE,
    RESPONSE,
    RawAim,
    raw_frame,
    sdk_connection,
    sdk_frame,
)
from tests.server import AIM_HOST, ServerProcess, free_port

if TYPE_CHECKING:  # imported by name, pytest would try to collect it as a test class
    from tests.conftest import TestAgent


@pytest.fixture(scope="module")
def aim_server(backend: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    with own_server(
        backend,
        tmp_path_factory,
        "aim",
        NO_RATE_LIMITS,
        host=AIM_HOST,
        aim_port=free_port(AIM_HOST),
    ) as proc:
        yield proc


@pytest.fixture
async def http(aim_server: ServerProcess) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=aim_server.url, timeout=30) as c:
        yield c


async def pending(http: httpx.AsyncClient, who: TestAgent) -> list[dict[str, Any]]:
    response = await http.get("/v1/messages/pending", headers=who.headers)
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()
    return items


def metric(text: str, name: str, **labels: str) -> float:
    rendered = ",".join(f'{k}="{v}"' for k, v in labels.items())
    prefix = f"{name}{{{rendered}}} " if labels else f"{name} "
    for line in text.splitlines():
        if line.startswith(prefix):
            return float(line[len(prefix) :])
    return 0.0


async def aim_connections(http: httpx.AsyncClient) -> float:
    return metric((await http.get("/metrics")).text, "agentplaza_connections", transport="aim")


def assert_no_traceback(srv: ServerProcess) -> None:
    log = srv.log()
    assert "Traceback" not in log and "AIM connection failed" not in log, log


# ---------------------------------------------------------------------------------------------
# the protocol, with the SDK's own connection class
# ---------------------------------------------------------------------------------------------


async def test_backlog_arrives_in_seq_order_on_connect_then_live(
    aim_server: ServerProcess, http: httpx.AsyncClient
) -> None:
    alice, bob = await register(http), await register(http)
    sent = [await send(http, alice, bob, f"offline-{i}") for i in range(5)]
    conn = await sdk_connection(aim_server, bob.api_key)
    try:
        assert conn._agent_id == bob.id
        backlog = [await sdk_frame(conn) for _ in sent]
        assert [f["type"] for f in backlog] == [MESSAGE] * 5
        assert [f["payload"]["id"] for f in backlog] == [m["id"] for m in sent]
        seqs = [f["payload"]["seq"] for f in backlog]
        assert seqs == sorted(seqs) and len(set(seqs)) == 5
        first = backlog[0]["payload"]
        assert first["from"] == alice.id and first["to"] == bob.id
        assert first["content"] == {"format": "text", "body": "offline-0"}
        assert first["thread_id"] == sent[0]["thread_id"]

        live = await send(http, alice, bob, "live")
        frame = await sdk_frame(conn)
        assert (frame["type"], frame["payload"]["id"]) == (MESSAGE, live["id"])
        assert frame["payload"]["seq"] == seqs[-1] + 1
        assert frame["seq"] == seqs[-1] + 1  # the header carries it too (24 bits)
    finally:
        conn.close()


async def test_acked_messages_are_not_pushed_again(
    aim_server: ServerProcess, http: httpx.AsyncClient
) -> None:
    alice, bob = await register(http), await register(http)
    old, new = await send(http, alice, bob, "old"), await send(http, alice, bob, "new")
    ack = await http.post(f"/v1/messages/{old['id']}/ack", headers=bob.headers)
    assert ack.status_code in (200, 204), ack.text
    conn = await sdk_connection(aim_server, bob.api_key)
    try:
        assert (await sdk_frame(conn))["payload"]["id"] == new["id"]
    finally:
        conn.close()


async def test_heartbeat_is_answered_with_the_same_stream_seq_and_ts(
    aim_server: ServerProcess, http: httpx.AsyncClient
) -> None:
    bob = await register(http)
    conn = await sdk_connection(aim_server, bob.api_key)
    try:
        await conn.send_heartbeat()
        pong = await sdk_frame(conn)
        assert pong["type"] == HEARTBEAT and pong["flags"] & RESPONSE
    finally:
        conn.close()
    raw = await RawAim.open(aim_server)
    try:
        assert (await raw.handshake(bob.api_key)).type == HANDSHAKE
        await raw.send_bytes(raw_frame(HEARTBEAT, {"ts": 1234567}, stream_id=5, seq=7))
        pong2 = await raw.frame()
        assert (pong2.type, pong2.flags, pong2.stream_id, pong2.seq) == (HEARTBEAT, RESPONSE, 5, 7)
        assert pong2.payload == {"ts": 1234567}
    finally:
        raw.close()


async def test_client_message_is_a_send_answered_by_an_ack_frame(
    aim_server: ServerProcess, http: httpx.AsyncClient
) -> None:
    alice, bob = await register(http), await register(http)
    conn = await sdk_connection(aim_server, bob.api_key)
    try:
        ack = await asyncio.wait_for(conn.send_message(alice.id, "hi over aim", seq=42), 5)
        assert (ack["type"], ack["flags"], ack["stream_id"], ack["seq"]) == (ACK, RESPONSE, 1, 42)
        view = ack["payload"]
        assert view["from"] == bob.id and view["to"] == alice.id and view["thread_id"]
        [got] = await pending(http, alice)
        assert got["id"] == view["id"] and got["content"]["body"] == "hi over aim"

        # Refused sends get an ERROR frame with the HTTP error's detail and code; the
        # connection stays usable.
        nobody = await asyncio.wait_for(conn.send_message("99999999", "lost?", seq=43), 5)
        assert (nobody["type"], nobody["seq"]) == (ERROR, 43)
        assert nobody["payload"]["code"] == "agent_not_found", nobody
        assert nobody["payload"]["message"]
        conn._writer.write(conn.encode_frame(MESSAGE, {"content": {"body": "no to"}}, 1, 44))
        invalid = await sdk_frame(conn)
        assert (invalid["type"], invalid["seq"]) == (ERROR, 44)
        assert invalid["payload"]["code"] == "validation_error"
        assert "to" in invalid["payload"]["message"]
        await conn.send_heartbeat()
        assert (await sdk_frame(conn))["type"] == HEARTBEAT
    finally:
        conn.close()
    assert_no_traceback(aim_server)


async def test_client_ack_frame_acknowledges(
    aim_server: ServerProcess, http: httpx.AsyncClient
) -> None:
    alice, bob = await register(http), await register(http)
    first, second = await send(http, alice, bob, "one"), await send(http, alice, bob, "two")
    raw = await RawAim.open(aim_server)
    try:
        await raw.handshake(bob.api_key)
        pushed = [await raw.frame(), await raw.frame()]
        await raw.send_bytes(raw_frame(ACK, {"id": first["id"]}))
        await raw.send_bytes(raw_frame(HEARTBEAT, {"ts": 1}))  # a round trip: the ack is done
        assert (await raw.frame()).type == HEARTBEAT
        assert [m["id"] for m in await pending(http, bob)] == [second["id"]]
        await raw.send_bytes(raw_frame(ACK, {"up_to_seq": pushed[1].payload["seq"]}))
        await raw.send_bytes(raw_frame(ACK, {"id": "m_nope"}, stream_id=3))
        refused = await raw.frame()
        assert (refused.type, refused.stream_id) == (ERROR, 3)
        assert refused.payload["code"] == "message_not_found"
        assert await pending(http, bob) == []
    finally:
        raw.close()


async def test_connections_and_deliveries_are_counted_in_metrics(
    aim_server: ServerProcess, http: httpx.AsyncClient
) -> None:
    alice, bob = await register(http), await register(http)
    before = (await http.get("/metrics")).text
    delivered = "agentplaza_messages_delivered_total"
    conn = await sdk_connection(aim_server, bob.api_key)
    try:
        await send(http, alice, bob, "counted")
        await sdk_frame(conn)
        during = (await http.get("/metrics")).text
        assert (
            metric(during, "agentplaza_connections", transport="aim")
            == metric(before, "agentplaza_connections", transport="aim") + 1
        )
        assert (
            metric(during, delivered, transport="aim")
            == metric(before, delivered, transport="aim") + 1
        )
    finally:
        conn.close()
    deadline = time.monotonic() + 5
    while await aim_connections(http) != metric(before, "agentplaza_connections", transport="aim"):
        assert time.monotonic() < deadline, "the closed AIM connection is still counted"
        await asyncio.sleep(0.05)


async def test_rotating_the_key_ends_its_aim_connections(
    aim_server: ServerProcess, http: httpx.AsyncClient
) -> None:
    alice, bob = await register(http), await register(http)
    raw = await RawAim.open(aim_server)
    try:
        await raw.handshake(bob.api_key)
        started = time.monotonic()
        response = await http.post("/v1/agents/me/rotate-key", headers=bob.headers)
        assert response.status_code == 200, response.text
        frames = await raw.frames_until_closed()
        assert time.monotonic() - started < 2
    finally:
        raw.close()
    assert [(f.type, f.payload["code"]) for f in frames] == [(ERROR, "invalid_credentials")]
    assert frames[0].payload["message"] == "credentials revoked"
    again = await RawAim.open(aim_server)
    try:
        assert (await again.handshake(bob.api_key)).payload["code"] == "invalid_credentials"
    finally:
        again.close()
    sent = await send(http, alice, bob, "for the new key")
    conn = await sdk_connection(aim_server, response.json()["api_key"])
    try:
        assert (await sdk_frame(conn))["payload"]["id"] == sent["id"]
    finally:
        conn.close()


async def test_a_key_rotated_as_its_connection_starts_still_gets_the_error_frame(
    aim_server: ServerProcess, http: httpx.AsyncClient
) -> None:
    """The revocation lands between the handshake and the read loop (the sink attached, its
    catch-up running): the handler must not close the socket before the sink's ERROR frame."""
    for _ in range(12):
        agent = await register(http)
        raw = await RawAim.open(aim_server)
        try:
            await raw.handshake(agent.api_key)
            response = await http.post("/v1/agents/me/rotate-key", headers=agent.headers)
            assert response.status_code == 200, response.text
            frames = await raw.frames_until_closed()
        finally:
            raw.close()
        assert [(f.type, f.payload["code"]) for f in frames] == [(ERROR, "invalid_credentials")]


# ---------------------------------------------------------------------------------------------
# garbage: the connection is closed, the server is fine
# ---------------------------------------------------------------------------------------------

GOOD = {"token": "set per test", "protocol_version": 1}
GARBAGE: dict[str, Callable[[str], bytes]] = {
    "bad-magic": lambda key: raw_frame(HANDSHAKE, {"token": key}, magic=b"XY"),
    "bad-version": lambda key: raw_frame(HANDSHAKE, {"token": key}, version=2),
    "oversized-length": lambda key: raw_frame(HANDSHAKE, b"", length=2**31),
    "http-request": lambda key: b"GET / HTTP/1.1\r\nHost: x\r\n\r\n",
    "random-bytes": lambda key: uuid.uuid4().bytes * 4,
    "not-a-handshake": lambda key: raw_frame(HEARTBEAT, {"ts": 1}),
    "payload-not-msgpack": lambda key: raw_frame(HANDSHAKE, b"\xc1\xc1\xc1"),
    "payload-not-a-map": lambda key: raw_frame(HANDSHAKE, msgpack.packb([key, 1])),
    "wrong-token": lambda key: raw_frame(HANDSHAKE, {"token": "am_wrong", "protocol_version": 1}),
    "no-token": lambda key: raw_frame(HANDSHAKE, {"protocol_version": 1}),
    "bad-protocol-version": lambda key: raw_frame(HANDSHAKE, {"token": key, "protocol_version": 9}),
}


@pytest.mark.parametrize("case", GARBAGE)
async def test_garbage_before_the_handshake_closes_with_an_error_frame(
    aim_server: ServerProcess, http: httpx.AsyncClient, case: str
) -> None:
    bob = await register(http)
    raw = await RawAim.open(aim_server)
    try:
        await raw.send_bytes(GARBAGE[case](bob.api_key))
        frames = await raw.frames_until_closed()
    finally:
        raw.close()
    assert [f.type for f in frames] == [ERROR], frames
    assert frames[0].payload["message"]
    assert (await http.get("/health")).status_code == 200
    assert_no_traceback(aim_server)


@pytest.mark.parametrize("case", ["bad-magic", "bad-version", "oversized-length", "random-bytes"])
async def test_garbage_after_the_handshake_closes_and_detaches(
    aim_server: ServerProcess, http: httpx.AsyncClient, case: str
) -> None:
    alice, bob = await register(http), await register(http)
    raw = await RawAim.open(aim_server)
    try:
        assert (await raw.handshake(bob.api_key)).type == HANDSHAKE
        await raw.send_bytes(GARBAGE[case](bob.api_key))
        frames = await raw.frames_until_closed()
    finally:
        raw.close()
    assert [f.type for f in frames] == [ERROR], frames
    # Off the hub: a message now waits in the inbox, and the server is healthy.
    sent = await send(http, alice, bob, "after garbage")
    assert [m["id"] for m in await pending(http, bob)] == [sent["id"]]
    assert_no_traceback(aim_server)


async def test_truncated_frame_then_eof_closes_quietly(
    aim_server: ServerProcess, http: httpx.AsyncClient
) -> None:
    bob = await register(http)
    for before_handshake in (True, False):
        raw = await RawAim.open(aim_server)
        if not before_handshake:
            await raw.handshake(bob.api_key)
        await raw.send_bytes(raw_frame(HEARTBEAT, b"", length=100) + b"only ten b")
        raw.writer.write_eof()
        assert await raw.frames_until_closed() == []
        raw.close()
    assert (await http.get("/health")).status_code == 200
    assert_no_traceback(aim_server)


async def test_many_garbage_connections_at_once_leave_the_server_serving(
    aim_server: ServerProcess, http: httpx.AsyncClient
) -> None:
    alice, bob = await register(http), await register(http)

    async def one(i: int) -> None:
        raw = await RawAim.open(aim_server)
        try:
            await raw.send_bytes(list(GARBAGE.values())[i % len(GARBAGE)](bob.api_key))
            await raw.frames_until_closed(timeout=15)
        finally:
            raw.close()

    await asyncio.gather(*(one(i) for i in range(60)))
    conn = await sdk_connection(aim_server, bob.api_key)
    try:
        sent = await send(http, alice, bob, "still serving")
        assert (await sdk_frame(conn))["payload"]["id"] == sent["id"]
    finally:
        conn.close()
    assert_no_traceback(aim_server)


# ---------------------------------------------------------------------------------------------
# idle connections, the port, shutdown
# ---------------------------------------------------------------------------------------------


def aim_node(factory: Callable[..., ServerProcess], **env: str) -> ServerProcess:
    """A server of `server_factory` on 127.0.0.1 with AIM on a free port."""
    return factory(env={**env}, host=AIM_HOST, aim_port=free_port(AIM_HOST))


async def test_idle_connections_are_closed_and_heartbeats_keep_one_open(
    server_factory: Callable[..., ServerProcess],
) -> None:
    srv = aim_node(server_factory, AGENTPLAZA_AIM_IDLE_TIMEOUT_SECS="1")
    async with httpx.AsyncClient(base_url=srv.url, timeout=10) as h:
        bob = await register(h)
        silent, beating, mute = [await RawAim.open(srv) for _ in range(3)]
        started = time.monotonic()
        await silent.handshake(bob.api_key)
        await beating.handshake(bob.api_key)

        async def beat() -> None:
            while True:
                await beating.send_bytes(raw_frame(HEARTBEAT, {"ts": 1}))
                assert (await beating.frame()).type == HEARTBEAT
                await asyncio.sleep(0.3)

        beater = asyncio.create_task(beat())
        try:
            for conn in (silent, mute):  # mute never even sends its handshake
                frames = await conn.frames_until_closed(timeout=5)
                assert [(f.type, f.payload["code"]) for f in frames] == [(ERROR, "idle_timeout")]
            assert 0.9 < time.monotonic() - started < 4
            await asyncio.sleep(1.5)
            assert not beater.done()  # still beating, never closed
        finally:
            beater.cancel()
            for conn in (silent, beating, mute):
                conn.close()
        text = (await h.get("/metrics")).text
        assert metric(text, "agentplaza_aim_closed_total", reason="idle") == 2
    assert_no_traceback(srv)


async def test_port_taken_at_start_is_a_warning_and_taken_over_once_free(
    backend: str, server_factory: Callable[..., ServerProcess]
) -> None:
    if backend != "sqlite":
        pytest.skip("binding the port does not involve the store")
    port = free_port(AIM_HOST)
    squatter = socket.create_server((AIM_HOST, port))  # SO_REUSEADDR, as free_port needs
    try:
        srv = server_factory(host=AIM_HOST, aim_port=port)
        assert f"AIM TCP port 127.0.0.1:{port} is taken" in srv.log()
    finally:
        squatter.close()
    async with httpx.AsyncClient(base_url=srv.url, timeout=10) as h:
        assert (await h.get("/health")).status_code == 200  # served all along
        bob = await register(h)
    deadline = time.monotonic() + 15  # retried every 5 s
    while True:
        try:
            conn = await sdk_connection(srv, bob.api_key)
            break
        except (AssertionError, OSError):
            assert time.monotonic() < deadline, srv.log()
            await asyncio.sleep(0.2)
    conn.close()
    assert_no_traceback(srv)


async def test_sigterm_closes_aim_connections_at_once(
    server_factory: Callable[..., ServerProcess],
) -> None:
    srv = aim_node(server_factory)
    async with httpx.AsyncClient(base_url=srv.url, timeout=10) as h:
        bob = await register(h)
    raw = await RawAim.open(srv)
    await raw.handshake(bob.api_key)
    assert srv.proc is not None
    started = time.monotonic()
    srv.proc.send_signal(signal.SIGTERM)
    frames = await raw.frames_until_closed(timeout=5)
    raw.close()
    assert time.monotonic() - started < 3
    assert [(f.type, f.payload["code"]) for f in frames] == [(ERROR, "going_away")]
    assert srv.proc.wait(15) == 0, srv.log()
    assert_no_traceback(srv)


async def test_aim_is_on_by_default_and_off_by_setting(
    backend: str, server_factory: Callable[..., ServerProcess]
) -> None:
    if backend != "sqlite":
        pytest.skip("binding the port does not involve the store")
    for enabled in ("false", "true"):
        port = free_port(AIM_HOST)
        env = {"AGENTPLAZA_AIM_PORT": str(port), "AGENTPLAZA_AIM_ENABLED": enabled}
        srv = server_factory(env=env, host=AIM_HOST)
        if enabled == "false":
            with pytest.raises(ConnectionRefusedError):
                socket.create_connection((AIM_HOST, port), timeout=1).close()
        else:
            socket.create_connection((AIM_HOST, port), timeout=1).close()
        srv.stop()


@pytest.mark.parametrize(
    ("settings", "host"),
    [
        ({}, "127.0.0.1"),
        ({"host": "0.0.0.0"}, "127.0.0.1"),  # never a public interface by default
        ({"host": "plaza.example"}, "127.0.0.1"),
        ({"host": "127.0.0.2"}, "127.0.0.2"),
        ({"host": "::1"}, "::1"),
        ({"host": "localhost"}, "localhost"),
        ({"host": "0.0.0.0", "aim_host": "0.0.0.0"}, "0.0.0.0"),  # asked for explicitly
    ],
)
def test_listens_on_loopback_unless_told_otherwise(settings: dict[str, str], host: str) -> None:
    assert bind_host(Settings().with_values(settings)) == host


def test_defaults_serve_the_sdks_port() -> None:
    assert (Settings().aim_enabled, Settings().aim_port) == (True, 8082)
