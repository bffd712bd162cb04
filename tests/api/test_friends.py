"""Friends over HTTP: requests (send, accept, reject, pending, sent), the list, removal, the
friend_request inbox event, and who may act on whose requests (seed 001 "Friends")."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

import httpx
import pytest

from tests.api.helpers import assert_error, befriend, pending, send
from tests.conftest import register, unique_name

if TYPE_CHECKING:
    from tests.conftest import TestAgent


async def request(
    client: httpx.AsyncClient, frm: TestAgent, to: str, status: int = 201, **body: Any
) -> dict[str, Any]:
    response = await client.post(
        "/v1/friends/request", headers=frm.headers, json={"addressee": to, **body}
    )
    assert response.status_code == status, response.text
    data: dict[str, Any] = response.json()
    return data


async def accept(client: httpx.AsyncClient, who: TestAgent, requester: str) -> dict[str, Any]:
    response = await client.post(
        "/v1/friends/accept", headers=who.headers, json={"requester": requester}
    )
    assert response.status_code == 200, response.text
    data: dict[str, Any] = response.json()
    return data


async def friend_ids(client: httpx.AsyncClient, who: TestAgent) -> list[str]:
    response = await client.get("/v1/friends", headers=who.headers)
    assert response.status_code == 200, response.text
    data = response.json()
    assert data["count"] == len(data["friends"])
    return [f["id"] for f in data["friends"]]


async def request_list(client: httpx.AsyncClient, who: TestAgent, which: str) -> list[Any]:
    response = await client.get(f"/v1/friends/{which}", headers=who.headers)
    assert response.status_code == 200, response.text
    data = response.json()
    assert data["count"] == len(data["requests"])
    items: list[Any] = data["requests"]
    return items


async def ack_all(client: httpx.AsyncClient, who: TestAgent) -> None:
    response = await client.post("/v1/messages/ack", headers=who.headers, json={"up_to_seq": 10**9})
    assert response.status_code == 200, response.text


# --- the happy path -----------------------------------------------------------------------------


async def test_request_accept_and_list(
    client: httpx.AsyncClient, alice: TestAgent, bob: TestAgent
) -> None:
    sent = await request(client, alice, bob.id, message="hi, let's be friends")
    assert sent["requester"] == alice.id
    assert sent["addressee"] == bob.id
    assert sent["message"] == "hi, let's be friends"
    assert sent["status"] == "pending"

    [received] = await request_list(client, bob, "pending")
    assert (received["requester"], received["agent_id"]) == (alice.id, alice.id)
    assert received["display_name"] == alice.display_name
    assert received["agent"]["id"] == alice.id
    [outgoing] = await request_list(client, alice, "requests")
    assert (outgoing["addressee"], outgoing["agent_id"]) == (bob.id, bob.id)
    assert await request_list(client, alice, "pending") == []
    assert await request_list(client, bob, "requests") == []

    accepted = await accept(client, bob, alice.id)
    assert accepted["status"] == "accepted"
    assert await friend_ids(client, alice) == [bob.id]
    assert await friend_ids(client, bob) == [alice.id]
    assert await request_list(client, bob, "pending") == []
    assert await request_list(client, alice, "requests") == []

    # The friend list holds profile objects (agentim-wire §3.6).
    friends = (await client.get("/v1/friends", headers=alice.headers)).json()["friends"]
    assert {"id", "display_name", "bio"} <= set(friends[0])

    # The requester is told: a friend_accepted notification.
    notes = (await client.get("/v1/notifications", headers=alice.headers)).json()
    kinds = [(n["kind"], n["actor_id"]) for n in notes["notifications"]]
    assert ("friend_accepted", bob.id) in kinds


async def test_duplicate_request_is_idempotent(
    client: httpx.AsyncClient, alice: TestAgent, bob: TestAgent
) -> None:
    first = await request(client, alice, bob.id, message="first")
    again = await request(client, alice, bob.id, 200, message="second")
    assert again == first  # the pending request, unchanged
    assert len(await request_list(client, bob, "pending")) == 1
    events = [i for i in await pending(client, bob) if i.get("type") == "friend_request"]
    assert len(events) == 1  # notified once


@pytest.mark.parametrize("key", ["to", "agent_id"])
async def test_request_aliases(client: httpx.AsyncClient, alice: TestAgent, key: str) -> None:
    other = await register(client, unique_name("alias"))
    response = await client.post("/v1/friends/request", headers=alice.headers, json={key: other.id})
    assert response.status_code == 201, response.text
    assert response.json()["addressee"] == other.id


@pytest.mark.parametrize("key", ["friend_id", "agent_id"])
async def test_answer_aliases(
    client: httpx.AsyncClient, alice: TestAgent, bob: TestAgent, key: str
) -> None:
    await request(client, alice, bob.id)
    # The legacy agentim client sends {"agent_id": <itself>, "friend_id": <requester>}.
    body = {key: alice.id} if key == "agent_id" else {"agent_id": bob.id, key: alice.id}
    response = await client.post("/v1/friends/accept", headers=bob.headers, json=body)
    assert response.status_code == 200, response.text
    assert await friend_ids(client, bob) == [alice.id]


async def test_numeric_ids_are_accepted(
    client: httpx.AsyncClient, alice: TestAgent, bob: TestAgent
) -> None:
    await request(client, alice, int(bob.id))  # type: ignore[arg-type]
    response = await client.post(
        "/v1/friends/accept", headers=bob.headers, json={"requester": int(alice.id)}
    )
    assert response.status_code == 200, response.text


async def test_crossing_requests_make_friends(
    client: httpx.AsyncClient, alice: TestAgent, bob: TestAgent
) -> None:
    await request(client, alice, bob.id)
    crossed = await request(client, bob, alice.id, 200)
    assert crossed["status"] == "accepted"
    assert (crossed["requester"], crossed["addressee"]) == (alice.id, bob.id)
    assert await friend_ids(client, alice) == [bob.id]
    assert await friend_ids(client, bob) == [alice.id]
    assert await request_list(client, alice, "requests") == []
    assert await request_list(client, alice, "pending") == []


async def test_reject(client: httpx.AsyncClient, alice: TestAgent, bob: TestAgent) -> None:
    await request(client, alice, bob.id)
    response = await client.post(
        "/v1/friends/reject", headers=bob.headers, json={"requester": alice.id}
    )
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "rejected"
    assert await request_list(client, bob, "pending") == []
    assert await request_list(client, alice, "requests") == []
    assert await friend_ids(client, bob) == []
    assert_error(
        await client.post("/v1/friends/accept", headers=bob.headers, json={"requester": alice.id}),
        404,
        "friend_request_not_found",
    )
    # Rejected is not final: the requester may ask again.
    await request(client, alice, bob.id)


async def test_remove_friend_both_directions(
    client: httpx.AsyncClient, alice: TestAgent, bob: TestAgent
) -> None:
    await befriend(client, alice, bob)
    response = await client.delete(f"/v1/friends/{alice.id}", headers=bob.headers)
    assert response.status_code == 200, response.text
    assert response.json()["removed"] == alice.id
    assert await friend_ids(client, alice) == []
    assert await friend_ids(client, bob) == []
    assert_error(await client.delete(f"/v1/friends/{alice.id}", headers=bob.headers), 404)
    # Strangers again: a DM says so.
    await ack_all(client, bob)
    await send(client, alice, bob.id, "still there?")
    [item] = await pending(client, bob)
    assert (item["sender_relation"], item["trust_level"]) == ("stranger", "minimal")


async def test_friends_dm_carries_friend_context(
    client: httpx.AsyncClient, alice: TestAgent, bob: TestAgent
) -> None:
    await befriend(client, alice, bob)
    await ack_all(client, bob)
    await send(client, alice, bob.id, "hello friend")
    [item] = await pending(client, bob)
    assert (item["scene"], item["sender_relation"], item["trust_level"]) == (
        "dm",
        "friend",
        "trusted",
    )
    sync_items = (
        await client.get("/v1/messages/sync", headers=bob.headers, params={"since_seq": 0})
    ).json()["messages"]
    assert sync_items[-1]["sender_relation"] == "friend"


# --- the friend_request event ---------------------------------------------------------------------


async def test_friend_request_event_wakes_a_long_poll(
    client: httpx.AsyncClient, alice: TestAgent, bob: TestAgent
) -> None:
    await ack_all(client, bob)
    poll = asyncio.create_task(
        client.get("/v1/messages/pending", headers=bob.headers, params={"timeout": 10})
    )
    await asyncio.sleep(0.3)  # let the poll park (a send before it parks is found at once too)
    await request(client, alice, bob.id, message="hello 👋")
    response = await asyncio.wait_for(poll, 15)
    assert response.status_code == 200, response.text
    [event] = response.json()
    assert event["type"] == "friend_request"
    assert event["requester"] == alice.id
    assert event["from"] == alice.id
    assert event["display_name"] == alice.display_name
    assert event["message"] == "hello 👋"
    assert isinstance(event["seq"], int)
    assert event["id"]
    assert event["thread_id"]
    # The event is acked like any message.
    ack = await client.post(f"/v1/messages/{event['id']}/ack", headers=bob.headers)
    assert ack.status_code == 204
    assert await pending(client, bob) == []


# --- errors -------------------------------------------------------------------------------------


async def test_request_errors(client: httpx.AsyncClient, alice: TestAgent, bob: TestAgent) -> None:
    post = "/v1/friends/request"
    h = alice.headers
    assert_error(await client.post(post, headers=h, json={"addressee": alice.id}), 400)
    assert_error(
        await client.post(post, headers=h, json={"addressee": "999999999"}), 404, "agent_not_found"
    )
    # Seed 001: 404 for an agent that does not exist, whatever its id looks like.
    for unknown in ("abc", "someone-who-does-not-exist", "1" * 40):
        response = await client.post(post, headers=h, json={"addressee": unknown})
        assert_error(response, 404, "agent_not_found")
    assert_error(await client.post(post, headers=h, json={"addressee": True}), 400)
    assert_error(await client.post(post, headers=h, json={}), 400, "validation_error")
    assert_error(await client.post(post, headers=h, json=[bob.id]), 400)
    too_long = {"addressee": bob.id, "message": "x" * 501}
    assert_error(await client.post(post, headers=h, json=too_long), 400)
    nul = {"addressee": bob.id, "message": "a\x00b"}
    assert_error(await client.post(post, headers=h, json=nul), 400)
    assert_error(await client.post(post, headers=h, json={"addressee": bob.id, "message": 5}), 400)
    # None of these left a request behind.
    assert await request_list(client, bob, "pending") == []
    # Exactly 500 characters is fine.
    await request(client, alice, bob.id, message="x" * 500)


async def test_request_to_a_friend_is_409(
    client: httpx.AsyncClient, alice: TestAgent, bob: TestAgent
) -> None:
    await befriend(client, alice, bob)
    for frm, to in ((alice, bob), (bob, alice)):
        response = await client.post(
            "/v1/friends/request", headers=frm.headers, json={"addressee": to.id}
        )
        assert_error(response, 409, "conflict")


async def test_accept_or_reject_without_request_is_404(
    client: httpx.AsyncClient, alice: TestAgent, bob: TestAgent
) -> None:
    for path in ("/v1/friends/accept", "/v1/friends/reject"):
        response = await client.post(path, headers=alice.headers, json={"requester": bob.id})
        assert_error(response, 404, "friend_request_not_found")
        # No such account, whatever its id looks like: agent_not_found (seed 001).
        for requester in ("999999999", "x!"):
            response = await client.post(path, headers=alice.headers, json={"requester": requester})
            assert_error(response, 404, "agent_not_found")
        assert_error(
            await client.post(path, headers=alice.headers, json={}), 400, "validation_error"
        )


async def test_requester_cannot_accept_its_own_request(
    client: httpx.AsyncClient, alice: TestAgent, bob: TestAgent
) -> None:
    await request(client, alice, bob.id)
    response = await client.post(
        "/v1/friends/accept", headers=alice.headers, json={"requester": bob.id}
    )
    assert_error(response, 404, "friend_request_not_found")
    assert await friend_ids(client, alice) == []


async def test_others_cannot_accept_or_see_a_request(
    client: httpx.AsyncClient, alice: TestAgent, bob: TestAgent
) -> None:
    carol = await register(client, unique_name("carol"))
    await request(client, alice, bob.id)
    for path in ("/v1/friends/accept", "/v1/friends/reject"):
        response = await client.post(path, headers=carol.headers, json={"requester": alice.id})
        assert_error(response, 404, "friend_request_not_found")
    assert await request_list(client, carol, "pending") == []
    assert await request_list(client, carol, "requests") == []
    assert await friend_ids(client, carol) == []
    # Carol's attempts changed nothing: Bob can still accept.
    await accept(client, bob, alice.id)
    assert await friend_ids(client, alice) == [bob.id]


async def test_every_friends_endpoint_needs_credentials(
    client: httpx.AsyncClient, bob: TestAgent
) -> None:
    calls = [
        ("POST", "/v1/friends/request", {"addressee": bob.id}),
        ("POST", "/v1/friends/accept", {"requester": bob.id}),
        ("POST", "/v1/friends/reject", {"requester": bob.id}),
        ("GET", "/v1/friends", None),
        ("GET", "/v1/friends/pending", None),
        ("GET", "/v1/friends/requests", None),
        ("DELETE", f"/v1/friends/{bob.id}", None),
    ]
    for method, path, body in calls:
        for headers in ({}, {"Authorization": "Bearer am_not_a_key"}):
            response = await client.request(method, path, json=body, headers=headers)
            assert_error(response, 401)


async def test_delete_path_errors(client: httpx.AsyncClient, alice: TestAgent) -> None:
    # Like /v1/agents/{id}: an id of no account, whatever it looks like, is not found.
    for unknown in ("999999999", "abc", "1" * 40):
        response = await client.delete("/v1/friends/" + unknown, headers=alice.headers)
        assert_error(response, 404, "agent_not_found")


@pytest.mark.parametrize("limit", [0, 1001, "x"])
async def test_list_limits_are_validated(
    client: httpx.AsyncClient, alice: TestAgent, limit: int | str
) -> None:
    for path in ("/v1/friends", "/v1/friends/pending", "/v1/friends/requests"):
        response = await client.get(path, headers=alice.headers, params={"limit": limit})
        assert_error(response, 400, "validation_error")


async def test_deleted_account_leaves_lists(
    client: httpx.AsyncClient, alice: TestAgent, bob: TestAgent
) -> None:
    await befriend(client, alice, bob)
    carol = await register(client, unique_name("carol"))
    await request(client, carol, alice.id)
    for gone in (bob, carol):
        assert (await client.delete("/v1/agents/me", headers=gone.headers)).status_code == 204
    assert await friend_ids(client, alice) == []
    assert await request_list(client, alice, "pending") == []


# --- races ----------------------------------------------------------------------------------------


async def test_concurrent_crossing_requests_always_end_as_friends(
    client: httpx.AsyncClient,
) -> None:
    for _ in range(5):
        a, b = await register(client), await register(client)
        responses = await asyncio.gather(
            client.post("/v1/friends/request", headers=a.headers, json={"addressee": b.id}),
            client.post("/v1/friends/request", headers=b.headers, json={"addressee": a.id}),
        )
        assert sorted(r.status_code for r in responses) == [200, 201], [r.text for r in responses]
        assert await friend_ids(client, a) == [b.id]
        assert await friend_ids(client, b) == [a.id]
        assert await request_list(client, a, "pending") == []
        assert await request_list(client, b, "pending") == []


async def test_a_request_racing_a_block_never_survives_it(client: httpx.AsyncClient) -> None:
    for _ in range(5):
        a, b = await register(client), await register(client)
        asked, blocked = await asyncio.gather(
            client.post("/v1/friends/request", headers=a.headers, json={"addressee": b.id}),
            client.post(f"/v1/agents/block/{a.id}", headers=b.headers),
        )
        assert asked.status_code in (201, 403), asked.text
        assert blocked.status_code == 200, blocked.text
        assert await request_list(client, b, "pending") == []
        assert await request_list(client, a, "requests") == []
