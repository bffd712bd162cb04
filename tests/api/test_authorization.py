"""Who may see what: an account only ever reads, acks and syncs its own inbox; dead credentials
(deleted account, rotated or recovered key, expired or unknown session token) stop working at once.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import httpx
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from tests.api.helpers import assert_error, pending, send, sync
from tests.conftest import register, unique_name
from tests.server import ServerProcess

if TYPE_CHECKING:
    from tests.conftest import TestAgent

PASSWORD = "correct horse battery"


async def _human(client: httpx.AsyncClient) -> tuple[str, dict[str, str]]:
    response = await client.post(
        "/v1/users/register", json={"display_name": unique_name("human"), "password": PASSWORD}
    )
    assert response.status_code == 201, response.text
    data = response.json()
    return data["id"], {"Authorization": f"Bearer {data['token']}"}


async def _ws_status(server: ServerProcess, api_key: str) -> int:
    """101 if a WebSocket with this key is accepted, else the refusal's HTTP status."""
    try:
        async with connect(
            server.ws_url, additional_headers={"Authorization": f"Bearer {api_key}"}, proxy=None
        ):
            return 101
    except InvalidStatus as exc:
        return exc.response.status_code


async def test_nobody_sees_another_agents_inbox(
    client: httpx.AsyncClient, alice: TestAgent, bob: TestAgent
) -> None:
    carol = await register(client, unique_name("carol"))
    to_alice = [await send(client, carol, alice.id, f"secret for alice {i}") for i in range(3)]
    to_bob = await send(client, carol, bob.id, "for bob")
    alice_ids = {m["id"] for m in to_alice}

    bob_pending = await pending(client, bob)
    assert [m["id"] for m in bob_pending] == [to_bob["id"]]
    bob_sync = await sync(client, bob, since_seq=0)
    assert [m["id"] for m in bob_sync["messages"]] == [to_bob["id"]]
    bob_since = await sync(client, bob, since="2000-01-01T00:00:00Z")
    assert [m["id"] for m in bob_since["messages"]] == [to_bob["id"]]
    threads = (await client.get("/v1/messages/threads", headers=bob.headers)).json()["threads"]
    assert [t["thread_id"] for t in threads] == [to_bob["thread_id"]]
    assert threads[0]["last_message"]["id"] == to_bob["id"]
    assert to_alice[0]["thread_id"] != to_bob["thread_id"]

    # Alice sees exactly hers; the sender sees none of what it sent (no self-echo).
    assert {m["id"] for m in await pending(client, alice)} == alice_ids
    assert await pending(client, carol) == []
    assert (await sync(client, carol, since_seq=0))["messages"] == []


async def test_ack_of_another_agents_message_is_404_and_changes_nothing(
    client: httpx.AsyncClient, alice: TestAgent, bob: TestAgent
) -> None:
    carol = await register(client, unique_name("carol"))
    message = await send(client, carol, alice.id, "only alice may ack this")

    for intruder in (bob, carol):  # a stranger, and the sender itself
        response = await client.post(f"/v1/messages/{message['id']}/ack", headers=intruder.headers)
        assert_error(response, 404, "message_not_found")
    # Acking "everything" in one's own inbox touches nobody else's.
    response = await client.post(
        "/v1/messages/ack", headers=bob.headers, json={"up_to_seq": 2**63 - 1}
    )
    assert response.status_code == 200, response.text
    assert response.json()["acked"] == 0

    assert [m["id"] for m in await pending(client, alice)] == [message["id"]]
    response = await client.post(f"/v1/messages/{message['id']}/ack", headers=alice.headers)
    assert response.status_code == 204
    assert await pending(client, alice) == []


async def test_thread_of_others_is_404(
    client: httpx.AsyncClient, alice: TestAgent, bob: TestAgent
) -> None:
    carol = await register(client, unique_name("carol"))
    thread_id = (await send(client, alice, carol.id, "just us"))["thread_id"]

    response = await client.get(f"/v1/threads/{thread_id}/messages", headers=bob.headers)
    assert_error(response, 404, "thread_not_found")
    for member in (alice, carol):
        response = await client.get(f"/v1/threads/{thread_id}/messages", headers=member.headers)
        assert response.status_code == 200, response.text
        assert [m["content"]["body"] for m in response.json()["messages"]] == ["just us"]


async def test_deleted_agents_key_is_401(
    client: httpx.AsyncClient, server: ServerProcess, alice: TestAgent, bob: TestAgent
) -> None:
    assert (await client.get("/v1/agents/me", headers=alice.headers)).status_code == 200
    response = await client.delete("/v1/agents/me", headers=alice.headers)
    assert response.status_code == 204
    assert response.content == b""

    for method, path in [
        ("GET", "/v1/agents/me"),
        ("GET", "/v1/messages/pending"),
        ("GET", "/v1/messages/sync"),
        ("POST", "/v1/agents/login"),
        ("DELETE", "/v1/agents/me"),
    ]:
        response = await client.request(method, path, headers=alice.headers)
        assert_error(response, 401, "invalid_credentials")
    response = await client.post(
        "/v1/messages", headers=alice.headers, json={"to": bob.id, "body": "ghost"}
    )
    assert_error(response, 401, "invalid_credentials")
    assert await _ws_status(server, alice.api_key) == 401
    # The account is gone for everyone else too.
    assert_error(await client.get(f"/v1/profile/{alice.id}"), 404, "agent_not_found")
    response = await client.post(
        "/v1/messages", headers=bob.headers, json={"to": alice.id, "body": "anyone?"}
    )
    assert_error(response, 404, "agent_not_found")


async def test_rotated_key_old_401_new_works(
    client: httpx.AsyncClient, server: ServerProcess, alice: TestAgent
) -> None:
    # Use the old key first, so a credential cache would have it.
    assert (await client.get("/v1/agents/me", headers=alice.headers)).status_code == 200

    response = await client.post("/v1/agents/me/rotate-key", headers=alice.headers)
    assert response.status_code == 200, response.text
    data = response.json()
    assert data["id"] == alice.id
    new_key = data["api_key"]
    assert new_key.startswith("am_")
    assert new_key != alice.api_key

    assert_error(await client.get("/v1/agents/me", headers=alice.headers), 401)
    assert await _ws_status(server, alice.api_key) == 401
    response = await client.get("/v1/agents/me", headers={"Authorization": f"Bearer {new_key}"})
    assert response.status_code == 200
    assert response.json()["id"] == alice.id
    assert await _ws_status(server, new_key) == 101


async def test_recovery_secret_gives_new_key_and_revokes_old(
    client: httpx.AsyncClient, alice: TestAgent, bob: TestAgent
) -> None:
    assert (await client.get("/v1/agents/me", headers=alice.headers)).status_code == 200
    message = await send(client, bob, alice.id, "kept across recovery")

    response = await client.post(
        "/v1/agents/recover", json={"recovery_secret": alice.recovery_secret}
    )
    assert response.status_code == 200, response.text
    data = response.json()
    assert data["id"] == data["agent_id"] == alice.id
    assert data["display_name"] == alice.display_name
    new_key = data["api_key"]
    assert new_key.startswith("am_")
    assert new_key != alice.api_key

    assert_error(
        await client.get("/v1/agents/me", headers=alice.headers), 401, "invalid_credentials"
    )
    new_headers = {"Authorization": f"Bearer {new_key}"}
    response = await client.get("/v1/messages/pending", headers=new_headers)
    assert response.status_code == 200
    assert [m["id"] for m in response.json()] == [message["id"]]

    # With agent_id given it must match; bob's recovery secret is not alice's.
    response = await client.post(
        "/v1/agents/recover", json={"recovery_secret": bob.recovery_secret, "agent_id": alice.id}
    )
    assert_error(response, 401, "invalid_credentials")
    assert (await client.get("/v1/agents/me", headers=bob.headers)).status_code == 200


async def test_human_session_token_works_on_messages(
    client: httpx.AsyncClient, alice: TestAgent
) -> None:
    human_id, human = await _human(client)
    assert human_id.startswith("P")

    response = await client.post(
        "/v1/messages", headers=human, json={"to": alice.id, "content": {"body": "from a human"}}
    )
    assert response.status_code == 201, response.text
    sent = response.json()
    assert sent["from"] == human_id
    received = await pending(client, alice)
    assert [(m["id"], m["from"]) for m in received] == [(sent["id"], human_id)]

    reply = await send(client, alice, human_id, "hello human", reply_to=sent["id"])
    response = await client.get("/v1/messages/pending", headers=human)
    assert response.status_code == 200
    assert [m["id"] for m in response.json()] == [reply["id"]]
    response = await client.post(f"/v1/messages/{reply['id']}/ack", headers=human)
    assert response.status_code == 204
    response = await client.get("/v1/messages/sync", headers=human, params={"since_seq": 0})
    assert [m["id"] for m in response.json()["messages"]] == [reply["id"]]
    response = await client.get(f"/v1/threads/{sent['thread_id']}/messages", headers=human)
    assert [m["id"] for m in response.json()["messages"]] == [sent["id"], reply["id"]]


async def test_human_login_token_works_and_garbage_token_is_401(
    client: httpx.AsyncClient, alice: TestAgent
) -> None:
    human_id, _ = await _human(client)
    response = await client.post("/v1/users/login", json={"id": human_id, "password": PASSWORD})
    assert response.status_code == 200, response.text
    token = response.json()["token"]
    assert token.startswith("pt_")
    response = await client.post(
        "/v1/messages",
        headers={"Authorization": f"Bearer {token}"},
        json={"to": alice.id, "body": "logged in"},
    )
    assert response.status_code == 201, response.text

    for bad in ("pt_invalid", token + "x", token[:-1], "pt_"):
        response = await client.get(
            "/v1/messages/pending", headers={"Authorization": f"Bearer {bad}"}
        )
        assert_error(response, 401, "invalid_credentials")


async def test_expired_session_token_is_401(
    server_factory: Callable[..., ServerProcess],
) -> None:
    srv = server_factory(
        env={"AGENTPLAZA_SESSION_TTL_HOURS": "0", "AGENTPLAZA_RATE_LIMITS_ENABLED": "0"}
    )
    async with httpx.AsyncClient(base_url=srv.url, timeout=30) as c:
        agent = await register(c)
        _, human = await _human(c)  # its token expires the moment it is issued
        response = await c.post("/v1/messages", headers=human, json={"to": agent.id, "body": "x"})
        assert_error(response, 401, "invalid_credentials")
        assert_error(await c.get("/v1/messages/pending", headers=human), 401)
        # Agents' API keys do not expire.
        assert (await c.get("/v1/agents/me", headers=agent.headers)).status_code == 200


@pytest.mark.parametrize("header", ["Authorization", "X-API-Key"])
async def test_other_agents_key_in_either_header_acts_as_that_agent_only(
    client: httpx.AsyncClient, alice: TestAgent, bob: TestAgent, header: str
) -> None:
    value = f"Bearer {bob.api_key}" if header == "Authorization" else bob.api_key
    response = await client.get("/v1/agents/me", headers={header: value})
    assert response.status_code == 200
    assert response.json()["id"] == bob.id
