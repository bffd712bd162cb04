"""The exception tree from real server answers, and the retry rules (transport.py)."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Callable

import httpx
import pytest

from agentplaza.sdk import (
    AsyncClient,
    AuthenticationError,
    Client,
    ConflictError,
    ForbiddenError,
    NotFoundError,
    PlazaConnectionError,
    PlazaError,
    PlazaTimeoutError,
    RateLimitError,
    ServerError,
    ValidationError,
)
from tests.client.proxies import HttpProxy
from tests.conftest import TestAgent as Registered
from tests.server import TEST_HOST, ServerProcess, free_port


async def test_each_error_from_the_server(
    server: ServerProcess, client: httpx.AsyncClient, alice: Registered, bob: Registered
) -> None:
    async with AsyncClient(alice.api_key, server=server.url) as a:
        with pytest.raises(NotFoundError) as not_found:
            await a.get_agent("99999")
        assert (not_found.value.status, not_found.value.code) == (404, "agent_not_found")
        with pytest.raises(NotFoundError) as unknown_recipient:  # seed 001: 404, not 422
            await a.send("99999", "anyone there?")
        assert unknown_recipient.value.code == "agent_not_found"

        with pytest.raises(ValidationError) as invalid:
            await a.send(bob.id, "")
        assert invalid.value.status == 400 and invalid.value.code == "invalid_content"
        assert invalid.value.detail

        with pytest.raises(ConflictError) as conflict:
            await a.register(bob.display_name)
        assert conflict.value.code == "name_taken"

        await client.post(f"/v1/agents/block/{alice.id}", headers=bob.headers)
        with pytest.raises(ForbiddenError) as forbidden:
            await a.send(bob.id, "hi")
        assert forbidden.value.code == "blocked"

    async with AsyncClient("am_wrong", server=server.url) as wrong:
        with pytest.raises(AuthenticationError) as unauthenticated:
            await wrong.me()
        assert unauthenticated.value.status == 401
        assert isinstance(unauthenticated.value, PlazaError)


def test_sync_client_raises_the_same(server: ServerProcess) -> None:
    with Client("am_wrong", server=server.url) as wrong, pytest.raises(AuthenticationError):
        wrong.me()


async def test_rate_limited_with_retry_after(
    server_factory: Callable[..., ServerProcess],
) -> None:
    limited = server_factory({"AGENTPLAZA_RATE_LIMIT_MESSAGES_PER_SEC": "1"})
    async with AsyncClient(server=limited.url, max_retries=0) as a:
        me = await a.register("limited-a")
        async with AsyncClient(server=limited.url) as b:
            peer = await b.register("limited-b")
        with pytest.raises(RateLimitError) as caught:
            for i in range(20):
                await a.send(peer["id"], f"m{i}")
        assert caught.value.status == 429 and caught.value.code == "rate_limited"
        assert caught.value.retry_after >= 1
    # With retries the client waits Retry-After and the send goes through, once.
    async with AsyncClient(me["api_key"], server=limited.url, max_retries=3) as a:
        for i in range(3):
            await a.send(peer["id"], f"r{i}")
    async with AsyncClient(peer["api_key"], server=limited.url) as b:
        bodies = [m.body for m in await b.sync(0)]
    assert bodies[-3:] == ["r0", "r1", "r2"] and len(set(bodies)) == len(bodies)


async def _close(listener: asyncio.Server, accepted: list[asyncio.StreamWriter]) -> None:
    """Close a test listener and the connections it accepted, on this loop: a socket left to
    the garbage collector is a leak (ResourceWarning)."""
    listener.close()
    for writer in accepted:
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()
    await listener.wait_closed()


async def test_connection_refused_and_timeout() -> None:
    async with AsyncClient("am_x", server=f"http://{TEST_HOST}:{free_port()}", max_retries=1) as c:
        with pytest.raises(PlazaConnectionError):
            await c.me()

    accepted: list[asyncio.StreamWriter] = []

    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        accepted.append(writer)
        await asyncio.sleep(30)

    listener = await asyncio.start_server(silent, TEST_HOST, 0)
    port = listener.sockets[0].getsockname()[1]
    try:
        async with AsyncClient("am_x", server=f"http://{TEST_HOST}:{port}", timeout=0.3) as c:
            with pytest.raises(PlazaTimeoutError):
                await c.send("10001", "never answered")
    finally:
        await _close(listener, accepted)


async def test_server_error_retried_only_when_safe() -> None:
    """503 (what the server answers when its store is unavailable): reads are retried,
    plain POSTs are not; the last answer is raised as ServerError."""
    hits: list[str] = []

    async def unavailable(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        hits.append(head.split(b" ")[0].decode())
        length = next(
            (
                int(ln.split(b":")[1])
                for ln in head.split(b"\r\n")
                if ln.lower().startswith(b"content-length")
            ),
            0,
        )
        await reader.readexactly(length)
        body = json.dumps(
            {"detail": "storage temporarily unavailable; retry", "code": "unavailable"}
        )
        writer.write(
            f"HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\n"
            f"content-length: {len(body)}\r\nconnection: close\r\n\r\n{body}".encode()
        )
        await writer.drain()
        writer.close()
        await writer.wait_closed()

    listener = await asyncio.start_server(unavailable, TEST_HOST, 0)
    url = f"http://{TEST_HOST}:{listener.sockets[0].getsockname()[1]}"
    try:
        async with AsyncClient("am_x", server=url, max_retries=2) as c:
            with pytest.raises(ServerError) as caught:
                await c.me()
            assert (caught.value.status, caught.value.code) == (503, "unavailable")
            assert hits == ["GET"] * 3
            hits.clear()
            with pytest.raises(ServerError):
                await c.add_friend("10001")
            assert hits == ["POST"]
            hits.clear()
            with pytest.raises(ServerError):
                await c.send("10001", "keyed, so retried")
            assert hits == ["POST"] * 3
    finally:
        await _close(listener, [])


async def test_retried_send_is_delivered_once(
    server: ServerProcess, client: httpx.AsyncClient, alice: Registered, bob: Registered
) -> None:
    """The proxy lets the first send reach the server and cuts the line before its answer
    comes back; the SDK retries with the same Idempotency-Key: one message, not two."""
    dropped: list[str] = []

    def decide(method: str, path: str) -> str | None:
        is_send = path == "/v1/messages" or path.endswith("/messages")
        if method == "POST" and is_send and path not in dropped:
            dropped.append(path)  # the first answer of each kind of send is lost
            return "drop-response"
        return None

    proxy = await HttpProxy(server.port, decide).start()
    try:
        async with AsyncClient(alice.api_key, server=proxy.url, max_retries=3) as a:
            sent = await a.send(bob.id, "exactly once")
            group = (
                await client.post(
                    "/v1/groups", headers=alice.headers, json={"name": "once", "members": [bob.id]}
                )
            ).json()
            in_group = await a.group_send(group["group_id"], "group once")
    finally:
        await proxy.drop()
    assert len(dropped) == 2
    assert [m for m in proxy.seen if m[0] == "POST"].count(("POST", "/v1/messages")) == 2
    inbox = (await client.get("/v1/messages/sync?since_seq=0", headers=bob.headers)).json()
    bodies = [m["content"]["body"] for m in inbox["messages"]]
    assert bodies.count("exactly once") == 1 and bodies.count("group once") == 1
    assert [m["id"] for m in inbox["messages"] if m["content"]["body"] == "exactly once"] == [
        sent.id
    ]
    assert any(m["id"] == in_group.id for m in inbox["messages"])
