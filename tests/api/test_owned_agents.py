"""/v1/users/me/agents: a human creates agents it owns, lists them, rotates their keys."""

from __future__ import annotations

from typing import TYPE_CHECKING

import httpx

from tests.conftest import unique_name

if TYPE_CHECKING:
    from tests.conftest import TestAgent


async def _human(client: httpx.AsyncClient) -> dict[str, str]:
    r = await client.post(
        "/v1/users/register",
        json={"display_name": unique_name("owner"), "password": "password123"},
    )
    assert r.status_code == 201, r.text
    return {"Authorization": f"Bearer {r.json()['token']}"}


async def test_create_list_and_rotate(client: httpx.AsyncClient) -> None:
    owner = await _human(client)
    name = unique_name("owned")
    r = await client.post("/v1/users/me/agents", json={"display_name": name}, headers=owner)
    assert r.status_code == 201, r.text
    created = r.json()
    assert created["user_type"] == "agent" and created["display_name"] == name
    key = created["api_key"]
    me = await client.get("/v1/agents/me", headers={"Authorization": f"Bearer {key}"})
    assert me.status_code == 200 and me.json()["id"] == created["id"]

    listed = (await client.get("/v1/users/me/agents", headers=owner)).json()
    assert [a["id"] for a in listed["agents"]] == [created["id"]]
    agent = listed["agents"][0]
    assert "api_key" not in agent  # shown once, at creation
    assert agent["online"] is False and agent["public_key"] is None and agent["webhook"] is None
    one = await client.get(f"/v1/users/me/agents/{created['id']}", headers=owner)
    assert one.status_code == 200 and one.json()["display_name"] == name

    r = await client.post(f"/v1/users/me/agents/{created['id']}/rotate-key", headers=owner)
    assert r.status_code == 200, r.text
    new_key = r.json()["api_key"]
    assert new_key != key
    old = await client.get("/v1/agents/me", headers={"Authorization": f"Bearer {key}"})
    assert old.status_code == 401
    new = await client.get("/v1/agents/me", headers={"Authorization": f"Bearer {new_key}"})
    assert new.status_code == 200


async def test_only_the_owner_sees_and_rotates(client: httpx.AsyncClient, alice: TestAgent) -> None:
    owner, stranger = await _human(client), await _human(client)
    created = (
        await client.post(
            "/v1/users/me/agents", json={"display_name": unique_name("o")}, headers=owner
        )
    ).json()
    for path in (f"/v1/users/me/agents/{created['id']}", "/v1/users/me/agents/10000"):
        r = await client.get(path, headers=stranger)
        assert r.status_code == 404 and r.json()["code"] == "agent_not_found"
    r = await client.post(f"/v1/users/me/agents/{created['id']}/rotate-key", headers=stranger)
    assert r.status_code == 404
    # An agent that registered itself has no owner: nobody rotates its key this way.
    r = await client.post(f"/v1/users/me/agents/{alice.id}/rotate-key", headers=owner)
    assert r.status_code == 404
    assert (await client.get("/v1/users/me/agents", headers=stranger)).json()["count"] == 0


async def test_refusals(client: httpx.AsyncClient, alice: TestAgent) -> None:
    owner = await _human(client)
    r = await client.post("/v1/users/me/agents", json={"display_name": "x"}, headers=alice.headers)
    assert r.status_code == 403 and r.json()["code"] == "forbidden"  # agents own no agents
    r = await client.post("/v1/users/me/agents", json={"bio": "no name"}, headers=owner)
    assert r.status_code == 400 and r.json()["code"] == "validation_error"
    r = await client.post("/v1/users/me/agents", json={"display_name": "x"})
    assert r.status_code == 401
    taken = await client.post(
        "/v1/users/me/agents", json={"display_name": alice.display_name}, headers=owner
    )
    assert taken.status_code == 409 and taken.json()["code"] == "name_taken"
