"""Seed 001's status table, replayed: 400 for missing or malformed parameters (the table has
no 422), 404 for an agent that does not exist, whatever its id looks like (the agentim SDK
raises NotFoundError for a 404 only). Both sends also run through the fast ASGI path
(api/sends.py), which renders its own errors."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import httpx
import pytest

from tests.api.bad_input_cases import PNG_BYTES
from tests.api.helpers import assert_error
from tests.conftest import unique_name

if TYPE_CHECKING:
    from tests.conftest import TestAgent

UNKNOWN_IDS = ["someone-who-does-not-exist", "99999999", "P99999999", "", "x" * 300, -1]


async def _group(client: httpx.AsyncClient, owner: TestAgent) -> str:
    response = await client.post("/v1/groups", headers=owner.headers, json={"name": "g"})
    assert response.status_code == 201, response.text
    group_id: str = response.json()["id"]
    return group_id


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/v1/agents/register", {"bio": "no name"}),
        ("/v1/users/register", {"password": "long enough password"}),
    ],
)
async def test_registration_without_a_name_is_400(
    client: httpx.AsyncClient, path: str, body: dict[str, Any]
) -> None:
    body = assert_error(await client.post(path, json=body), 400, "validation_error")
    assert body["errors"], body  # the per-field list is kept


@pytest.mark.parametrize(
    "body",
    [
        {"content": {"format": "text", "body": "no recipient"}},
        {"to": "{peer}"},
        {"to": "{peer}", "content": {"format": "text"}},
        {"to": "{peer}", "content": {"format": "video", "body": "hi"}},
        {"to": "{peer}", "content": {"format": "text", "body": ""}},
    ],
)
async def test_malformed_direct_message_is_400(
    client: httpx.AsyncClient, alice: TestAgent, bob: TestAgent, body: dict[str, Any]
) -> None:
    if body.get("to") == "{peer}":
        body = {**body, "to": bob.id}
    response = await client.post("/v1/messages", headers=alice.headers, json=body)
    assert_error(response, 400)


async def test_malformed_group_message_is_400(client: httpx.AsyncClient, alice: TestAgent) -> None:
    group_id = await _group(client, alice)
    for body in ({}, {"content": {"format": "video", "body": "hi"}}, {"body": 5}):
        response = await client.post(
            f"/v1/groups/{group_id}/messages", headers=alice.headers, json=body
        )
        assert_error(response, 400)


async def test_body_that_is_not_an_object_is_400(
    client: httpx.AsyncClient, alice: TestAgent
) -> None:
    for path in ("/v1/messages", "/v1/friends/request", "/v1/groups"):
        response = await client.post(path, headers=alice.headers, json=["a", "list"])
        assert_error(response, 400, "validation_error")


async def test_a_text_file_as_avatar_is_400(client: httpx.AsyncClient, alice: TestAgent) -> None:
    files = {"file": ("a.png", b"hello, not an image", "image/png")}
    response = await client.post("/v1/agents/avatar", headers=alice.headers, files=files)
    assert_error(response, 400, "unsupported_media_type")
    files = {"file": ("a.png", PNG_BYTES, "image/png")}
    response = await client.post("/v1/agents/avatar", headers=alice.headers, files=files)
    assert response.status_code in (200, 201), response.text


@pytest.mark.parametrize("unknown", UNKNOWN_IDS)
async def test_unknown_recipient_is_404_whatever_it_looks_like(
    client: httpx.AsyncClient, alice: TestAgent, unknown: str | int
) -> None:
    # Seed 001's own curl: `{"to": "recipient_id", "content": {"format": "text", ...}}`.
    body = {"to": unknown, "content": {"format": "text", "body": "Hello!"}}
    response = await client.post("/v1/messages", headers=alice.headers, json=body)
    assert_error(response, 404, "agent_not_found")
    flat = {"to": unknown, "body": "Hello!"}
    response = await client.post("/v1/messages", headers=alice.headers, json=flat)
    assert_error(response, 404, "agent_not_found")


@pytest.mark.parametrize("unknown", UNKNOWN_IDS)
async def test_every_path_naming_an_unknown_account_is_404(
    client: httpx.AsyncClient, alice: TestAgent, unknown: str | int
) -> None:
    h = alice.headers
    group_id = await _group(client, alice)
    in_body = [
        ("/v1/friends/request", {"addressee": unknown}),
        ("/v1/friends/request", {"to": unknown}),
        ("/v1/friends/accept", {"requester": unknown}),
        ("/v1/friends/reject", {"requester": unknown}),
        ("/v1/groups", {"name": "g", "members": [unknown]}),
        (f"/v1/groups/{group_id}/members", {"members": [unknown]}),
        (f"/v1/groups/{group_id}/transfer", {"new_owner": unknown}),
    ]
    for path, body in in_body:
        assert_error(await client.post(path, headers=h, json=body), 404, "agent_not_found")
    if not unknown or not isinstance(unknown, str):
        return  # an empty path segment is another route; a number is the same string
    in_path = [
        ("GET", f"/v1/agents/{unknown}"),
        ("GET", f"/v1/profile/{unknown}"),
        ("GET", f"/v1/moments/{unknown}"),
        ("POST", f"/v1/agents/block/{unknown}"),
        ("DELETE", f"/v1/friends/{unknown}"),
    ]
    for method, path in in_path:
        response = await client.request(method, path, headers=h)
        assert_error(response, 404, "agent_not_found")


async def test_missing_ids_stay_400(client: httpx.AsyncClient, alice: TestAgent) -> None:
    """No id at all is a missing parameter, not an unknown agent."""
    h = alice.headers
    for path in ("/v1/friends/request", "/v1/friends/accept", "/v1/friends/reject"):
        assert_error(await client.post(path, headers=h, json={}), 400, "validation_error")
    for to in (None, True, ["1"], {"id": "1"}):
        response = await client.post("/v1/messages", headers=h, json={"to": to, "body": "x"})
        assert_error(response, 400, "validation_error")


async def test_human_recipient_that_does_not_exist_is_404(
    client: httpx.AsyncClient, alice: TestAgent
) -> None:
    name = unique_name("h")
    response = await client.post(
        "/v1/users/register", json={"display_name": name, "password": "long enough password"}
    )
    assert response.status_code == 201, response.text
    human = response.json()["id"]
    assert human.startswith("P")
    # The same number as an agent id names nobody.
    body = {"to": human[1:] + "0" * 6, "body": "x"}
    response = await client.post("/v1/messages", headers=alice.headers, json=body)
    assert_error(response, 404, "agent_not_found")
    ok = await client.post("/v1/messages", headers=alice.headers, json={"to": human, "body": "x"})
    assert ok.status_code == 201, ok.text


# --- seed 003: sync -------------------------------------------------------------------------


async def test_sync_without_since_or_since_seq_is_400(
    client: httpx.AsyncClient, alice: TestAgent, bob: TestAgent
) -> None:
    sent = await client.post(
        "/v1/messages", headers=alice.headers, json={"to": bob.id, "body": "x"}
    )
    assert sent.status_code == 201, sent.text
    body = assert_error(
        await client.get("/v1/messages/sync", headers=bob.headers), 400, "validation_error"
    )
    assert "since" in body["detail"] and "since_seq" in body["detail"], body
    response = await client.get("/v1/messages/sync", headers=bob.headers, params={"limit": 5})
    assert_error(response, 400, "validation_error")
    # Authentication still comes first.
    assert_error(await client.get("/v1/messages/sync"), 401)


async def test_seed_003_sync_call_answers_as_documented(
    client: httpx.AsyncClient, alice: TestAgent, bob: TestAgent
) -> None:
    """Seed 003's curl: `GET /v1/messages/sync?since=2026-04-13T09:00:00Z`, and the agentim
    SDK's `?since_seq=N&limit=L`."""
    sent = await client.post(
        "/v1/messages",
        headers=alice.headers,
        json={"to": bob.id, "content": {"format": "text", "body": "You missed this!"}},
    )
    assert sent.status_code == 201, sent.text
    by_time = await client.get(
        "/v1/messages/sync", headers=bob.headers, params={"since": "2020-04-13T09:00:00Z"}
    )
    assert by_time.status_code == 200, by_time.text
    page = by_time.json()
    assert page["has_more"] is False
    [message] = page["messages"]
    assert (message["id"], message["from"]) == (sent.json()["id"], alice.id)
    assert message["content"] == {"format": "text", "body": "You missed this!"}
    assert isinstance(message["created_at"], str)
    by_seq = await client.get(
        "/v1/messages/sync", headers=bob.headers, params={"since_seq": 0, "limit": 100}
    )
    assert by_seq.status_code == 200, by_seq.text
    assert [m["id"] for m in by_seq.json()["messages"]] == [message["id"]]
