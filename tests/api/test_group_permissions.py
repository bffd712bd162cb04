"""The group authorization matrix: every endpoint refuses whoever may not call it.

Outsiders get 404 `group_not_found` on a private group (its existence is not revealed) and
403 `not_a_member` on a public group's member-only endpoints; a member gets 403
`insufficient_role` on an admin's actions, an admin on the owner's. A refused call changes
nothing.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import httpx
import pytest

from tests.api.helpers import assert_error
from tests.conftest import register

if TYPE_CHECKING:  # not imported at runtime: pytest would try to collect the `Test*` class
    from tests.conftest import TestAgent


@dataclass
class World:
    owner: TestAgent
    admin: TestAgent
    admin2: TestAgent
    member: TestAgent
    member2: TestAgent
    outsider: TestAgent
    newcomer: TestAgent
    gid: str


Call = tuple[str, str, dict[str, Any] | None]


async def make_world(client: httpx.AsyncClient, *, public: bool) -> World:
    owner, admin, admin2, member, member2, outsider, newcomer = await asyncio.gather(
        *(register(client) for _ in range(7))
    )
    response = await client.post(
        "/v1/groups",
        headers=owner.headers,
        json={
            "name": "matrix",
            "members": [admin.id, admin2.id, member.id, member2.id],
            "is_public": public,
        },
    )
    assert response.status_code == 201, response.text
    gid = response.json()["id"]
    for who in (admin, admin2):
        promoted = await client.put(
            f"/v1/groups/{gid}/members/{who.id}/role", headers=owner.headers, json={"role": "admin"}
        )
        assert promoted.status_code == 200, promoted.text
    return World(owner, admin, admin2, member, member2, outsider, newcomer, gid)


def every_endpoint(w: World) -> list[Call]:
    g = f"/v1/groups/{w.gid}"
    return [
        ("GET", g, None),
        ("PATCH", g, {"name": "renamed"}),
        ("PUT", g, {"name": "renamed"}),
        ("DELETE", g, None),
        ("GET", f"{g}/members", None),
        ("POST", f"{g}/members", {"members": [w.newcomer.id]}),
        ("DELETE", f"{g}/members/{w.member2.id}", None),
        ("PUT", f"{g}/members/{w.member2.id}/role", {"role": "admin"}),
        ("POST", f"{g}/leave", None),
        ("POST", f"{g}/transfer", {"new_owner": w.member2.id}),
        ("POST", f"{g}/mute/{w.member2.id}", {"duration": 60}),
        ("DELETE", f"{g}/mute/{w.member2.id}", None),
        ("POST", f"{g}/announcement", {"announcement": "hi"}),
        ("GET", f"{g}/messages", None),
        ("POST", f"{g}/messages", {"content": {"format": "text", "body": "hi"}}),
        ("POST", f"{g}/join", None),
    ]


async def call(
    client: httpx.AsyncClient, who: TestAgent, method: str, url: str, body: dict[str, Any] | None
) -> httpx.Response:
    return await client.request(method, url, headers=who.headers, json=body)


async def snapshot(client: httpx.AsyncClient, w: World) -> tuple[Any, Any, Any]:
    g = f"/v1/groups/{w.gid}"
    detail = (await client.get(g, headers=w.owner.headers)).json()
    detail.pop("updated_at")
    members = (await client.get(f"{g}/members", headers=w.owner.headers)).json()
    history = (await client.get(f"{g}/messages", headers=w.owner.headers)).json()
    return detail, members, history


async def expect_refused(
    client: httpx.AsyncClient,
    w: World,
    who: TestAgent,
    calls: list[Call],
    status: int,
    code: str,
) -> None:
    before = await snapshot(client, w)
    failures = []
    for method, url, body in calls:
        response = await call(client, who, method, url, body)
        try:
            assert_error(response, status, code)
        except AssertionError as exc:
            failures.append(f"{method} {url}: {exc}")
    assert not failures, "\n".join(failures)
    assert await snapshot(client, w) == before, "a refused call changed the group"


# --- outsiders ---------------------------------------------------------------------------------


async def test_outsider_finds_no_private_group_anywhere(client: httpx.AsyncClient) -> None:
    w = await make_world(client, public=False)
    await expect_refused(client, w, w.outsider, every_endpoint(w), 404, "group_not_found")
    mine = await client.get("/v1/groups", headers=w.outsider.headers)
    assert mine.json()["groups"] == []


async def test_outsider_may_only_read_and_join_a_public_group(client: httpx.AsyncClient) -> None:
    w = await make_world(client, public=True)
    readable = {("GET", f"/v1/groups/{w.gid}"), ("GET", f"/v1/groups/{w.gid}/members")}
    calls = [c for c in every_endpoint(w) if (c[0], c[1]) not in readable and "/join" not in c[1]]
    await expect_refused(client, w, w.outsider, calls, 403, "not_a_member")
    for method, url in readable:
        assert (await call(client, w.outsider, method, url, None)).status_code == 200


# --- members and admins ------------------------------------------------------------------------


def admin_actions(w: World) -> list[Call]:
    g = f"/v1/groups/{w.gid}"
    return [
        ("PATCH", g, {"name": "renamed"}),
        ("PUT", g, {"description": "x"}),
        ("POST", f"{g}/members", {"members": [w.newcomer.id]}),
        ("DELETE", f"{g}/members/{w.member2.id}", None),
        ("POST", f"{g}/mute/{w.member2.id}", {"duration": 60}),
        ("DELETE", f"{g}/mute/{w.member2.id}", None),
        ("POST", f"{g}/announcement", {"announcement": "hi"}),
    ]


def owner_actions(w: World) -> list[Call]:
    g = f"/v1/groups/{w.gid}"
    return [
        ("DELETE", g, None),
        ("PATCH", g, {"is_public": True}),
        ("PUT", f"{g}/members/{w.member2.id}/role", {"role": "admin"}),
        ("PUT", f"{g}/members/{w.admin2.id}/role", {"role": "member"}),
        ("POST", f"{g}/transfer", {"new_owner": w.member2.id}),
    ]


@pytest.mark.parametrize("public", [False, True])
async def test_member_cannot_do_admin_or_owner_actions(
    client: httpx.AsyncClient, public: bool
) -> None:
    w = await make_world(client, public=public)
    calls = admin_actions(w) + owner_actions(w)
    await expect_refused(client, w, w.member, calls, 403, "insufficient_role")


async def test_admin_cannot_do_owner_actions_nor_act_on_admins_or_the_owner(
    client: httpx.AsyncClient,
) -> None:
    w = await make_world(client, public=False)
    g = f"/v1/groups/{w.gid}"
    on_peers = [
        ("DELETE", f"{g}/members/{w.admin2.id}", None),
        ("DELETE", f"{g}/members/{w.owner.id}", None),
        ("POST", f"{g}/mute/{w.admin2.id}", {"duration": 60}),
        ("POST", f"{g}/mute/{w.owner.id}", {"duration": 60}),
        ("DELETE", f"{g}/mute/{w.admin2.id}", None),
    ]
    await expect_refused(client, w, w.admin, owner_actions(w) + on_peers, 403, "insufficient_role")


async def test_what_each_role_may_do(client: httpx.AsyncClient) -> None:
    """The positive side of the matrix, in an order that keeps every actor a member."""
    w = await make_world(client, public=False)
    g = f"/v1/groups/{w.gid}"

    async def ok(who: TestAgent, method: str, url: str, body: dict[str, Any] | None) -> None:
        response = await call(client, who, method, url, body)
        assert response.status_code in (200, 201), f"{method} {url}: {response.text}"

    # a member sends, reads, lists members
    await ok(w.member, "POST", f"{g}/messages", {"content": {"body": "hi"}})
    await ok(w.member, "GET", f"{g}/messages", None)
    await ok(w.member, "GET", f"{g}/members", None)
    await ok(w.member, "GET", g, None)
    # an admin moderates members and edits the group
    await ok(w.admin, "PATCH", g, {"name": "by admin"})
    await ok(w.admin, "POST", f"{g}/announcement", {"announcement": "by admin"})
    await ok(w.admin, "POST", f"{g}/members", {"members": [w.newcomer.id]})
    await ok(w.admin, "POST", f"{g}/mute/{w.member2.id}", {"duration": 60})
    await ok(w.admin, "DELETE", f"{g}/mute/{w.member2.id}", None)
    await ok(w.admin, "DELETE", f"{g}/members/{w.newcomer.id}", None)
    # the owner acts on admins too, and nobody (the owner included) removes the owner
    await ok(w.owner, "POST", f"{g}/mute/{w.admin2.id}", {"duration": 60})
    await ok(w.owner, "DELETE", f"{g}/mute/{w.admin2.id}", None)
    await ok(w.owner, "PATCH", g, {"is_public": True})
    assert_error(await call(client, w.owner, "DELETE", f"{g}/members/{w.owner.id}", None), 409)
    assert_error(
        await call(client, w.owner, "POST", f"{g}/mute/{w.owner.id}", None),
        403,
        "insufficient_role",
    )
    await ok(w.owner, "DELETE", f"{g}/members/{w.admin2.id}", None)
    await ok(w.member, "POST", f"{g}/leave", None)
    await ok(w.owner, "POST", f"{g}/transfer", {"new_owner": w.admin.id})
    # the previous owner is an admin now: owner actions are refused to it
    assert_error(await call(client, w.owner, "DELETE", g, None), 403, "insufficient_role")
    await ok(w.admin, "DELETE", g, None)


async def test_unauthenticated_calls_are_401(client: httpx.AsyncClient) -> None:
    w = await make_world(client, public=True)
    for method, url, body in [
        ("GET", "/v1/groups", None),
        ("POST", "/v1/groups", {}),
        *every_endpoint(w),
    ]:
        response = await client.request(method, url, json=body)
        assert_error(response, 401, "unauthenticated")
