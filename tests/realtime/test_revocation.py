"""Revoking a credential ends the live connections it opened, at once: key rotation, recovery
and account deletion end every key-authenticated WebSocket, event stream and parked long-poll
of the account; a human's logout or session revoke ends only that session's. See
docs/credentials.md. (Across nodes: tests/cluster/test_revocation.py.)
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING

import httpx
import pytest
from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosed, InvalidStatus

from tests import conftest
from tests.api.helpers import assert_error, send
from tests.conftest import register, unique_name
from tests.realtime.test_sse import Stream, open_stream
from tests.realtime.test_websocket import next_message, open_ws, wait_live
from tests.server import ServerProcess

if TYPE_CHECKING:  # imported by name, pytest would try to collect it as a test class
    from tests.conftest import TestAgent as Agent

CUT_WITHIN_SECS = 1.0
CLOSE_REVOKED = 4001
PASSWORD = "correct horse battery"


@dataclass
class Cut:
    """How each transport ended after the revocation, and how long after it."""

    ws_code: int | None
    sse_last_event: str
    poll_status: int
    elapsed: dict[str, float]


async def _ws_closed(ws: ClientConnection) -> int | None:
    """Reads until the server closes; the close code."""
    try:
        while True:
            await ws.recv()
    except ConnectionClosed as closed:
        return closed.rcvd.code if closed.rcvd else None


async def _sse_ended(stream: Stream) -> str:
    """Reads until the server ends the stream; the last event's name."""
    last = ""
    async for event in stream.events:
        if event.event not in ("", ":"):
            last = event.event if event.event != "error" else event.data
    return last


@asynccontextmanager
async def live_connections(
    server: ServerProcess, http: httpx.AsyncClient, holder: Agent
) -> AsyncIterator[Callable[[Callable[[], Awaitable[None]]], Awaitable[Cut]]]:
    """A WebSocket, an event stream and a parked long-poll with `holder`'s credential; yields
    `cut(revoke)`, which runs `revoke` and waits for all three to end."""
    async with AsyncExitStack() as stack:
        ws = await stack.enter_async_context(open_ws(server, holder))
        await wait_live(ws)
        stream = await stack.enter_async_context(open_stream(http, holder))
        await stream.wait_live()
        poll = asyncio.create_task(
            http.get("/v1/messages/pending", headers=holder.headers, params={"timeout": 30})
        )
        await asyncio.sleep(0.3)  # parked
        assert not poll.done()

        async def cut(revoke: Callable[[], Awaitable[None]]) -> Cut:
            started = time.monotonic()
            elapsed: dict[str, float] = {}

            async def timed(name: str, waiter: Awaitable[object]) -> object:
                result = await asyncio.wait_for(waiter, 10)
                elapsed[name] = time.monotonic() - started
                return result

            await revoke()
            code, last, answer = await asyncio.gather(
                timed("websocket", _ws_closed(ws)),
                timed("sse", _sse_ended(stream)),
                timed("longpoll", poll),
            )
            assert isinstance(answer, httpx.Response)
            return Cut(code, str(last), answer.status_code, elapsed)  # type: ignore[arg-type]

        try:
            yield cut
        finally:
            poll.cancel()


def _assert_cut(cut: Cut) -> None:
    assert cut.ws_code == CLOSE_REVOKED, cut
    assert "invalid_credentials" in cut.sse_last_event, cut
    assert cut.poll_status == 401, cut
    assert max(cut.elapsed.values()) < CUT_WITHIN_SECS, cut.elapsed


async def _old_credential_is_refused(
    server: ServerProcess, http: httpx.AsyncClient, holder: Agent
) -> None:
    with pytest.raises(InvalidStatus) as refused:
        async with open_ws(server, holder):
            pass
    assert refused.value.response.status_code == 401
    response = await http.get("/v1/stream", headers=holder.headers)
    assert_error(response, 401, "invalid_credentials")
    response = await http.get("/v1/messages/pending", headers=holder.headers)
    assert_error(response, 401, "invalid_credentials")


def _with_key(agent: Agent, key: str) -> Agent:
    return conftest.TestAgent(agent.id, key, agent.display_name, agent.recovery_secret)


# --- agents: rotation, recovery, deletion ------------------------------------------------------
@pytest.mark.parametrize("how", ["rotate-key", "recover"])
async def test_new_key_ends_every_live_connection_of_the_old_one(
    server: ServerProcess, client: httpx.AsyncClient, how: str
) -> None:
    alice, bob = await register(client), await register(client)
    new_key = ""

    async def revoke() -> None:
        nonlocal new_key
        if how == "rotate-key":
            response = await client.post("/v1/agents/me/rotate-key", headers=alice.headers)
        else:
            response = await client.post(
                "/v1/agents/recover", json={"recovery_secret": alice.recovery_secret}
            )
        assert response.status_code == 200, response.text
        new_key = response.json()["api_key"]

    async with live_connections(server, client, alice) as cut:
        _assert_cut(await cut(revoke))
    await _old_credential_is_refused(server, client, alice)

    # What arrives now is the owner's alone: nothing the old key held open could ack it away.
    owner = _with_key(alice, new_key)
    sent = await send(client, bob, owner, "after the rotation")
    response = await client.get("/v1/messages/pending", headers=owner.headers)
    assert [m["id"] for m in response.json()] == [sent["id"]]
    async with open_ws(server, owner) as ws:
        assert [m["id"] for m in await wait_live(ws)] == [sent["id"]]


async def test_deleting_the_account_ends_its_live_connections(
    server: ServerProcess, client: httpx.AsyncClient
) -> None:
    alice = await register(client)

    async def revoke() -> None:
        response = await client.delete("/v1/agents/me", headers=alice.headers)
        assert response.status_code == 204, response.text

    async with live_connections(server, client, alice) as cut:
        _assert_cut(await cut(revoke))
    await _old_credential_is_refused(server, client, alice)


async def test_other_accounts_connections_stay(
    server: ServerProcess, client: httpx.AsyncClient
) -> None:
    alice, bob = await register(client), await register(client)
    async with open_ws(server, bob) as ws:
        await wait_live(ws)
        response = await client.post("/v1/agents/me/rotate-key", headers=alice.headers)
        assert response.status_code == 200
        sent = await send(client, _with_key(alice, response.json()["api_key"]), bob, "still here")
        assert (await next_message(ws))["id"] == sent["id"]


# --- humans: logout and session revoke ----------------------------------------------------------
async def _login(http: httpx.AsyncClient, name: str) -> str:
    response = await http.post("/v1/users/login", json={"display_name": name, "password": PASSWORD})
    assert response.status_code == 200, response.text
    return str(response.json()["token"])


async def _human(http: httpx.AsyncClient) -> tuple[Agent, Agent]:
    """One human logged in twice: two sessions."""
    name = unique_name("human")
    response = await http.post(
        "/v1/users/register", json={"display_name": name, "password": PASSWORD}
    )
    assert response.status_code == 201, response.text
    human_id = response.json()["id"]
    first = conftest.TestAgent(human_id, response.json()["token"], name, "")
    return first, conftest.TestAgent(human_id, await _login(http, name), name, "")


async def test_sessions_are_listed_without_tokens(client: httpx.AsyncClient) -> None:
    first, second = await _human(client)
    response = await client.get("/v1/users/sessions", headers=second.headers)
    assert response.status_code == 200, response.text
    data = response.json()
    assert data["count"] == 2
    assert [s["current"] for s in data["sessions"]] == [False, True]
    for session in data["sessions"]:
        assert set(session) == {"id", "created_at", "expires_at", "current"}
        assert session["id"].startswith("ses_")
    assert first.api_key not in response.text and second.api_key not in response.text
    # An agent has none.
    agent = await register(client)
    response = await client.get("/v1/users/sessions", headers=agent.headers)
    assert response.json() == {"sessions": [], "count": 0}


async def test_revoking_a_session_ends_only_its_connections(
    server: ServerProcess, client: httpx.AsyncClient
) -> None:
    first, second = await _human(client)
    sender = await register(client)
    sessions = (await client.get("/v1/users/sessions", headers=second.headers)).json()
    first_id = next(s["id"] for s in sessions["sessions"] if not s["current"])

    async with open_ws(server, second) as other, live_connections(server, client, first) as cut:
        await wait_live(other)

        async def revoke() -> None:
            response = await client.delete(f"/v1/users/sessions/{first_id}", headers=second.headers)
            assert response.status_code == 204, response.text

        _assert_cut(await cut(revoke))
        sent = await send(client, sender, second, "the other session stays")
        assert (await next_message(other))["id"] == sent["id"]
    await _old_credential_is_refused(server, client, first)
    response = await client.delete(f"/v1/users/sessions/{first_id}", headers=second.headers)
    assert_error(response, 404, "session_not_found")
    # Someone else's session id is not found either.
    stranger, _ = await _human(client)
    response = await client.delete(f"/v1/users/sessions/{first_id}", headers=stranger.headers)
    assert_error(response, 404, "session_not_found")


async def test_logout_ends_the_session_and_its_connections(
    server: ServerProcess, client: httpx.AsyncClient
) -> None:
    first, second = await _human(client)

    async def revoke() -> None:
        response = await client.post("/v1/users/logout", headers=first.headers)
        assert response.status_code == 204, response.text

    async with live_connections(server, client, first) as cut:
        _assert_cut(await cut(revoke))
    await _old_credential_is_refused(server, client, first)
    assert (await client.get("/v1/agents/me", headers=second.headers)).status_code == 200
    sessions = (await client.get("/v1/users/sessions", headers=second.headers)).json()
    assert sessions["count"] == 1


async def test_human_account_deletion_ends_every_session(
    server: ServerProcess, client: httpx.AsyncClient
) -> None:
    first, second = await _human(client)
    async with open_ws(server, second) as ws:
        await wait_live(ws)

        async def revoke() -> None:
            response = await client.delete("/v1/agents/me", headers=first.headers)
            assert response.status_code == 204, response.text

        async with live_connections(server, client, first) as cut:
            _assert_cut(await cut(revoke))
        assert await asyncio.wait_for(_ws_closed(ws), CUT_WITHIN_SECS) == CLOSE_REVOKED
