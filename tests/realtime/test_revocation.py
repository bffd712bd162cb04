"""Revoking a credential ends the live connections it opened, at once: key rotation, recovery
and account deletion end every key-authenticated WebSocket, event stream and parked long-poll
of the account; a human's logout or session revoke ends only that session's. See
docs/credentials.md. (Across nodes: tests/cluster/test_revocation.py; both run the body in
tests/realtime/revocation.py.)
"""

from __future__ import annotations

import asyncio

import httpx
import pytest

from tests.api.helpers import assert_error, send
from tests.conftest import register
from tests.realtime.revocation import (
    CLOSE_REVOKED,
    CUT_WITHIN_SECS,
    assert_cut,
    assert_revocation_cuts,
    human,
    live_connections,
    old_credential_is_refused,
    with_key,
    ws_closed,
)
from tests.realtime.test_websocket import next_message, open_ws, wait_live
from tests.server import ServerProcess


# --- agents: rotation, recovery, deletion ------------------------------------------------------
@pytest.mark.parametrize("how", ["rotate-key", "recover"])
async def test_new_key_ends_every_live_connection_of_the_old_one(
    server: ServerProcess, client: httpx.AsyncClient, how: str
) -> None:
    alice, bob = await register(client), await register(client)
    answer = await assert_revocation_cuts(how, alice, via=client, node=server, node_http=client)

    # What arrives now is the owner's alone: nothing the old key held open could ack it away.
    owner = with_key(alice, answer.json()["api_key"])
    sent = await send(client, bob, owner, "after the rotation")
    response = await client.get("/v1/messages/pending", headers=owner.headers)
    assert [m["id"] for m in response.json()] == [sent["id"]]
    async with open_ws(server, owner) as ws:
        assert [m["id"] for m in await wait_live(ws)] == [sent["id"]]


async def test_deleting_the_account_ends_its_live_connections(
    server: ServerProcess, client: httpx.AsyncClient
) -> None:
    alice = await register(client)
    await assert_revocation_cuts("delete", alice, via=client, node=server, node_http=client)


async def test_other_accounts_connections_stay(
    server: ServerProcess, client: httpx.AsyncClient
) -> None:
    alice, bob = await register(client), await register(client)
    async with open_ws(server, bob) as ws:
        await wait_live(ws)
        response = await client.post("/v1/agents/me/rotate-key", headers=alice.headers)
        assert response.status_code == 200
        sent = await send(client, with_key(alice, response.json()["api_key"]), bob, "still here")
        assert (await next_message(ws))["id"] == sent["id"]


# --- humans: logout and session revoke ----------------------------------------------------------
async def test_sessions_are_listed_without_tokens(client: httpx.AsyncClient) -> None:
    first, second = await human(client)
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
    first, second = await human(client)
    sender = await register(client)
    sessions = (await client.get("/v1/users/sessions", headers=second.headers)).json()
    first_id = next(s["id"] for s in sessions["sessions"] if not s["current"])

    async with open_ws(server, second) as other, live_connections(server, client, first) as cut:
        await wait_live(other)

        async def revoke() -> None:
            response = await client.delete(f"/v1/users/sessions/{first_id}", headers=second.headers)
            assert response.status_code == 204, response.text

        assert_cut(await cut(revoke))
        sent = await send(client, sender, second, "the other session stays")
        assert (await next_message(other))["id"] == sent["id"]
    await old_credential_is_refused(server, client, first)
    response = await client.delete(f"/v1/users/sessions/{first_id}", headers=second.headers)
    assert_error(response, 404, "session_not_found")
    # Someone else's session id is not found either.
    stranger, _ = await human(client)
    response = await client.delete(f"/v1/users/sessions/{first_id}", headers=stranger.headers)
    assert_error(response, 404, "session_not_found")


async def test_logout_ends_the_session_and_its_connections(
    server: ServerProcess, client: httpx.AsyncClient
) -> None:
    first, second = await human(client)
    await assert_revocation_cuts("logout", first, via=client, node=server, node_http=client)
    assert (await client.get("/v1/agents/me", headers=second.headers)).status_code == 200
    sessions = (await client.get("/v1/users/sessions", headers=second.headers)).json()
    assert sessions["count"] == 1


async def test_human_account_deletion_ends_every_session(
    server: ServerProcess, client: httpx.AsyncClient
) -> None:
    first, second = await human(client)
    async with open_ws(server, second) as ws:
        await wait_live(ws)
        await assert_revocation_cuts("delete", first, via=client, node=server, node_http=client)
        assert await asyncio.wait_for(ws_closed(ws), CUT_WITHIN_SECS) == CLOSE_REVOKED
