"""/v1/notifications against a real server: what creates them, read state, pagination, who
may see them, bad input; and the counts the WebSocket sends on connect."""

from __future__ import annotations

import asyncio
import json
from typing import TYPE_CHECKING, Any

import httpx
from websockets.asyncio.client import connect

from tests.api.helpers import assert_error, pending
from tests.conftest import register
from tests.server import ServerProcess

if TYPE_CHECKING:  # imported by name, pytest would try to collect it as a test class
    from tests.conftest import TestAgent


async def notifications(
    client: httpx.AsyncClient, agent: TestAgent, **params: Any
) -> dict[str, Any]:
    response = await client.get("/v1/notifications", headers=agent.headers, params=params)
    assert response.status_code == 200, response.text
    data: dict[str, Any] = response.json()
    return data


async def befriend_request(
    client: httpx.AsyncClient, requester: TestAgent, addressee: TestAgent, message: str = "hi"
) -> None:
    response = await client.post(
        "/v1/friends/request",
        headers=requester.headers,
        json={"addressee": addressee.id, "message": message},
    )
    assert response.status_code in (200, 201), response.text


async def test_a_friend_request_is_a_notification_and_an_inbox_event(
    client: httpx.AsyncClient, alice: TestAgent, bob: TestAgent
) -> None:
    assert (await notifications(client, bob))["notifications"] == []
    await befriend_request(client, alice, bob, "let's work together")

    listed = await notifications(client, bob)
    assert listed["unread"] == 1
    assert listed["pending_friend_requests"] == 1
    [note] = listed["notifications"]
    assert note["kind"] == note["type"] == "friend_request"
    assert note["actor_id"] == alice.id
    assert note["read"] is False
    assert note["read_at"] is None
    assert note["id"].startswith("n_")

    # The same event reaches the inbox in the shape the agentim SDK dispatches (wire §3.4).
    [event] = await pending(client, bob)
    assert event["type"] == "friend_request"
    assert event["requester"] == event["from"] == alice.id
    assert event["display_name"] == alice.display_name
    assert event["message"] == "let's work together"
    assert isinstance(event["seq"], int)
    assert event["id"] == note["message_id"]
    assert event["thread_id"]
    # The requester is not told about its own action.
    assert (await notifications(client, alice))["notifications"] == []


async def test_marking_read_one_by_one_and_all(client: httpx.AsyncClient, bob: TestAgent) -> None:
    others = [await register(client) for _ in range(3)]
    for other in others:
        await befriend_request(client, other, bob)
    listed = await notifications(client, bob)
    assert listed["unread"] == 3
    first = listed["notifications"][0]["id"]

    response = await client.post(f"/v1/notifications/{first}/read", headers=bob.headers)
    assert response.status_code == 200, response.text
    assert response.json()["read"] is True
    again = await client.post(f"/v1/notifications/{first}/read", headers=bob.headers)
    assert again.status_code == 200  # idempotent
    assert (await notifications(client, bob))["unread"] == 2
    unread = await notifications(client, bob, unread_only="true")
    assert first not in [n["id"] for n in unread["notifications"]]
    assert len(unread["notifications"]) == 2

    response = await client.post("/v1/notifications/read", headers=bob.headers, json={})
    assert response.status_code == 200, response.text
    assert response.json() == {"marked": 2, "unread": 0}
    assert all(n["read"] for n in (await notifications(client, bob))["notifications"])


async def test_pages_are_newest_first_and_complete(
    client: httpx.AsyncClient, bob: TestAgent
) -> None:
    others = [await register(client) for _ in range(5)]
    for other in others:
        await befriend_request(client, other, bob)
    seen: list[str] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"limit": 2}
        if cursor:
            params["before"] = cursor
        page = await notifications(client, bob, **params)
        seen += [n["actor_id"] for n in page["notifications"]]
        if not page["has_more"]:
            assert page["next_cursor"] is None
            break
        cursor = page["next_cursor"]
    assert seen == [o.id for o in reversed(others)]


async def test_nobody_else_sees_or_marks_my_notifications(
    client: httpx.AsyncClient, alice: TestAgent, bob: TestAgent
) -> None:
    await befriend_request(client, alice, bob)
    [note] = (await notifications(client, bob))["notifications"]
    mallory = await register(client)

    assert (await notifications(client, mallory))["notifications"] == []
    assert_error(
        await client.post(f"/v1/notifications/{note['id']}/read", headers=mallory.headers),
        404,
        "notification_not_found",
    )
    response = await client.post(
        "/v1/notifications/read", headers=mallory.headers, json={"ids": [note["id"]]}
    )
    assert response.json()["marked"] == 0
    assert (await notifications(client, bob))["unread"] == 1
    assert_error(await client.get("/v1/notifications"), 401, "unauthenticated")
    assert_error(await client.post("/v1/notifications/read", json={}), 401, "unauthenticated")


async def test_bad_input_is_refused_with_the_error_shape(
    client: httpx.AsyncClient, bob: TestAgent
) -> None:
    h = bob.headers
    assert_error(await client.get("/v1/notifications", headers=h, params={"limit": 0}), 400)
    assert_error(await client.get("/v1/notifications", headers=h, params={"limit": 201}), 400)
    assert_error(
        await client.get("/v1/notifications", headers=h, params={"before": "garbage!"}),
        400,
        "invalid_cursor",
    )
    for body in ({"ids": "n_1"}, {"ids": [1, 2]}, {"ids": ["x"], "all": True}, {"bogus": 1}):
        assert_error(await client.post("/v1/notifications/read", headers=h, json=body), 400)
    assert_error(
        await client.post("/v1/notifications/read", headers=h, json={"ids": ["x"] * 501}), 400
    )
    assert_error(
        await client.post("/v1/notifications/not-an-id/read", headers=h),
        404,
        "notification_not_found",
    )


async def test_the_websocket_tells_the_counts_on_connect(
    server: ServerProcess, client: httpx.AsyncClient, alice: TestAgent, bob: TestAgent
) -> None:
    await befriend_request(client, alice, bob)
    async with connect(server.ws_url, additional_headers=bob.headers) as ws:
        frames = [json.loads(await asyncio.wait_for(ws.recv(), 5)) for _ in range(2)]
    event, counts = frames
    assert event["type"] == "msg"
    assert event["data"]["message"]["type"] == "friend_request"
    assert counts == {
        "type": "notifications",
        "data": {"unread": 1, "unread_notifications": 1, "pending_friend_requests": 1},
    }
