"""Groups over HTTP: lifecycle, members, roles, mutes, messages, mentions, fan-out."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import httpx

from agentplaza.domain.groups import GroupSendFacts, NewGroup, new_group_id, plan_group_delivery
from agentplaza.domain.messages import DeliveryContext
from agentplaza.store.base import Store
from tests.api.helpers import assert_error, assert_no_server_errors, send, sync
from tests.conftest import register, unique_name
from tests.contract.storedata import T0, group_message, new_agent
from tests.server import ServerProcess

if TYPE_CHECKING:
    from tests.conftest import TestAgent


async def create_group(
    client: httpx.AsyncClient, owner: TestAgent, members: list[TestAgent], **extra: Any
) -> dict[str, Any]:
    response = await client.post(
        "/v1/groups",
        headers=owner.headers,
        json={"name": extra.pop("name", unique_name("g")), "members": [m.id for m in members]}
        | extra,
    )
    assert response.status_code == 201, response.text
    group: dict[str, Any] = response.json()
    return group


async def group_send(
    client: httpx.AsyncClient, sender: TestAgent, group_id: str, body: str = "hi", **extra: Any
) -> httpx.Response:
    return await client.post(
        f"/v1/groups/{group_id}/messages",
        headers=sender.headers,
        json={"content": {"format": "text", "body": body}, **extra},
    )


async def sent(
    client: httpx.AsyncClient, sender: TestAgent, group_id: str, body: str = "hi"
) -> dict[str, Any]:
    response = await group_send(client, sender, group_id, body)
    assert response.status_code == 201, response.text
    data: dict[str, Any] = response.json()
    return data


async def received(client: httpx.AsyncClient, agent: TestAgent) -> list[dict[str, Any]]:
    messages: list[dict[str, Any]] = (await sync(client, agent, since_seq=0, limit=500))["messages"]
    return messages


async def roster(client: httpx.AsyncClient, who: TestAgent, group_id: str) -> dict[str, str]:
    response = await client.get(f"/v1/groups/{group_id}/members", headers=who.headers)
    assert response.status_code == 200, response.text
    return {m["agent_id"]: m["role"] for m in response.json()["members"]}


async def agents(client: httpx.AsyncClient, n: int) -> list[TestAgent]:
    return list(await asyncio.gather(*(register(client) for _ in range(n))))


# --- create, read ------------------------------------------------------------------------------


async def test_create_returns_the_group_with_the_creator_as_owner(
    client: httpx.AsyncClient, alice: TestAgent, bob: TestAgent
) -> None:
    group = await create_group(
        client, alice, [bob, alice], name="Research", description="d", is_public=False
    )
    gid = group["id"]
    assert uuid.UUID(gid) and gid.count("-") == 4
    assert group["group_id"] == group["thread_id"] == gid
    assert group["name"] == "Research"
    assert group["description"] == "d"
    assert group["owner"] == group["owner_id"] == alice.id
    assert group["is_public"] is False
    assert group["member_count"] == 2
    assert group["announcement"] == ""
    roles = {m["agent_id"]: m["role"] for m in group["members"]}
    assert roles == {alice.id: "owner", bob.id: "member"}  # the creator listed twice is one owner
    member = next(m for m in group["members"] if m["agent_id"] == bob.id)
    assert member["id"] == bob.id
    assert member["display_name"] == bob.display_name
    assert member["muted_until"] is None and member["muted"] is False
    assert group["created_at"].endswith("Z")


async def test_create_validates_every_field(
    client: httpx.AsyncClient, alice: TestAgent, bob: TestAgent
) -> None:
    async def post(body: dict[str, Any]) -> httpx.Response:
        return await client.post("/v1/groups", headers=alice.headers, json=body)

    assert_error(await post({"name": "", "members": []}), 400)
    assert_error(await post({"name": "   ", "members": []}), 400)
    assert_error(await post({"name": "x" * 65, "members": []}), 400)
    assert_error(await post({"members": [bob.id]}), 400)
    assert_error(await post({"name": "g", "members": "10001"}), 400)
    assert_error(await post({"name": "g", "members": [True]}), 400)
    assert_error(await post({"name": "g", "members": ["not-an-id"]}), 404, "agent_not_found")
    assert_error(await post({"name": "g", "description": "d" * 501}), 400)
    assert_error(await post({"name": "g", "avatar_url": "javascript:alert(1)"}), 400)
    assert_error(await post({"name": "g", "is_public": "yes"}), 400)
    assert_error(await post({"name": "nul\x00"}), 400)
    # unknown ids: 404 agent_not_found, and nothing is created
    body = assert_error(await post({"name": "g", "members": [bob.id, "999999999"]}), 404)
    assert body["code"] == "agent_not_found" and "999999999" in body["detail"]
    # at most 500 members, owner included
    many = [str(10**12 + i) for i in range(500)]
    assert_error(await post({"name": "g", "members": many}), 400)
    assert_error(await post({"name": "g", "members": [*many, "1"]}), 400)
    mine = await client.get("/v1/groups", headers=alice.headers)
    assert mine.json()["groups"] == []


async def test_my_groups_and_details(
    client: httpx.AsyncClient, alice: TestAgent, bob: TestAgent
) -> None:
    one = await create_group(client, alice, [bob])
    two = await create_group(client, bob, [alice])
    response = await client.get("/v1/groups", headers=alice.headers)
    assert response.status_code == 200
    listed = {g["id"]: g for g in response.json()["groups"]}
    assert set(listed) == {one["id"], two["id"]}
    assert listed[one["id"]]["role"] == "owner"
    assert listed[two["id"]]["role"] == "member"
    detail = (await client.get(f"/v1/groups/{one['id']}", headers=bob.headers)).json()
    assert detail["name"] == one["name"] and detail["role"] == "member"
    assert {m["agent_id"] for m in detail["members"]} == {alice.id, bob.id}


async def test_my_groups_come_in_pages_most_recently_active_first(
    client: httpx.AsyncClient, alice: TestAgent, bob: TestAgent
) -> None:
    made = [(await create_group(client, alice, [bob]))["id"] for _ in range(5)]
    # A message makes the oldest group the most recently active one.
    await sent(client, bob, made[0], "wake up")
    expected = [made[0], *reversed(made[1:])]
    seen: list[str] = []
    cursor = None
    while True:
        params = {"limit": 2} | ({"cursor": cursor} if cursor else {})
        response = await client.get("/v1/groups", headers=alice.headers, params=params)
        assert response.status_code == 200, response.text
        page = response.json()
        assert len(page["groups"]) <= 2
        seen += [g["id"] for g in page["groups"]]
        assert page["has_more"] is (page["next_cursor"] is not None)
        if not page["has_more"]:
            break
        cursor = page["next_cursor"]
    assert seen == expected
    whole = (await client.get("/v1/groups", headers=alice.headers)).json()
    assert [g["id"] for g in whole["groups"]] == expected and whole["has_more"] is False
    for bad in ({"limit": 0}, {"limit": 501}, {"cursor": "nope"}, {"cursor": "r12"}):
        assert_error(await client.get("/v1/groups", headers=alice.headers, params=bad), 400)


async def test_private_group_is_invisible_to_outsiders_public_one_is_readable(
    client: httpx.AsyncClient, alice: TestAgent, bob: TestAgent
) -> None:
    private = await create_group(client, alice, [])
    public = await create_group(client, alice, [], is_public=True)
    assert_error(
        await client.get(f"/v1/groups/{private['id']}", headers=bob.headers),
        404,
        "group_not_found",
    )
    seen = await client.get(f"/v1/groups/{public['id']}", headers=bob.headers)
    assert seen.status_code == 200 and seen.json()["role"] is None
    members = await client.get(f"/v1/groups/{public['id']}/members", headers=bob.headers)
    assert members.status_code == 200 and len(members.json()["members"]) == 1
    # ids that cannot be groups, and unknown ones, are simply not found
    for gid in ("nope", str(uuid.uuid4()), "dm_0123456789abcdef0123"):
        assert_error(await client.get(f"/v1/groups/{gid}", headers=bob.headers), 404)


# --- update, announcement ----------------------------------------------------------------------


async def test_patch_and_put_update_the_group(
    client: httpx.AsyncClient, alice: TestAgent, bob: TestAgent
) -> None:
    gid = (await create_group(client, alice, [bob]))["id"]
    patched = await client.patch(
        f"/v1/groups/{gid}",
        headers=alice.headers,
        json={"name": "Renamed", "avatar_url": "https://example.com/a.png"},
    )
    assert patched.status_code == 200, patched.text
    assert patched.json()["name"] == "Renamed"
    put = await client.put(f"/v1/groups/{gid}", headers=alice.headers, json={"description": "x"})
    assert put.status_code == 200, put.text
    assert put.json()["name"] == "Renamed" and put.json()["description"] == "x"
    assert put.json()["avatar_url"] == "https://example.com/a.png"
    assert_error(
        await client.put(f"/v1/groups/{gid}", headers=alice.headers, json={"owner": bob.id}), 400
    )
    assert_error(
        await client.patch(f"/v1/groups/{gid}", headers=alice.headers, json={"name": ""}), 400
    )


async def test_announcement_is_stored_and_notifies_members(
    client: httpx.AsyncClient, alice: TestAgent, bob: TestAgent
) -> None:
    gid = (await create_group(client, alice, [bob]))["id"]
    response = await client.post(
        f"/v1/groups/{gid}/announcement", headers=alice.headers, json={"announcement": "Rules!"}
    )
    assert response.status_code == 200, response.text
    assert response.json()["announcement"] == "Rules!"
    assert response.json()["announcement_at"].endswith("Z")
    also = await client.post(
        f"/v1/groups/{gid}/announcement", headers=alice.headers, json={"content": "v2"}
    )
    assert also.json()["announcement"] == "v2"
    assert_error(
        await client.post(
            f"/v1/groups/{gid}/announcement", headers=alice.headers, json={"content": "a" * 2001}
        ),
        400,
    )
    assert_error(
        await client.post(f"/v1/groups/{gid}/announcement", headers=alice.headers, json={}), 400
    )
    notes = (await client.get("/v1/notifications", headers=bob.headers)).json()["notifications"]
    kinds = [n["kind"] for n in notes if n["subject_id"] == gid]
    assert kinds.count("group_announcement") == 2
    assert "group_invited" in kinds


# --- members -----------------------------------------------------------------------------------


async def test_invite_adds_only_new_members_and_validates(
    client: httpx.AsyncClient, alice: TestAgent, bob: TestAgent
) -> None:
    carol, dave = await agents(client, 2)
    gid = (await create_group(client, alice, [bob]))["id"]
    response = await client.post(
        f"/v1/groups/{gid}/members",
        headers=alice.headers,
        json={"members": [bob.id, carol.id, dave.id, carol.id]},
    )
    assert response.status_code == 200, response.text
    assert response.json()["added"] == [carol.id, dave.id]
    assert response.json()["member_count"] == 4
    assert (await roster(client, alice, gid))[carol.id] == "member"
    url = f"/v1/groups/{gid}/members"
    assert_error(await client.post(url, headers=alice.headers, json={"members": []}), 400)
    too_many = [str(10**12 + i) for i in range(201)]
    assert_error(await client.post(url, headers=alice.headers, json={"members": too_many}), 400)
    assert_error(
        await client.post(url, headers=alice.headers, json={"members": ["424242424242"]}),
        404,
        "agent_not_found",
    )
    notes = (await client.get("/v1/notifications", headers=carol.headers)).json()["notifications"]
    assert any(n["kind"] == "group_invited" and n["subject_id"] == gid for n in notes)


async def test_kick_stops_delivery_and_access(
    client: httpx.AsyncClient, alice: TestAgent, bob: TestAgent
) -> None:
    carol = await register(client)
    gid = (await create_group(client, alice, [bob, carol]))["id"]
    response = await client.delete(f"/v1/groups/{gid}/members/{bob.id}", headers=alice.headers)
    assert response.status_code == 200, response.text
    assert response.json()["member_count"] == 2
    await sent(client, carol, gid, "after the kick")
    assert not [m for m in await received(client, bob) if m.get("group_id") == gid]
    assert_error(await client.get(f"/v1/groups/{gid}", headers=bob.headers), 404)
    assert_error(await group_send(client, bob, gid), 404, "group_not_found")
    assert_error(
        await client.delete(f"/v1/groups/{gid}/members/{bob.id}", headers=alice.headers),
        404,
        "not_a_member",
    )
    assert_error(
        await client.delete(f"/v1/groups/{gid}/members/abc", headers=alice.headers),
        404,
        "not_a_member",
    )


async def test_leave_with_or_without_body_and_owner_must_transfer(
    client: httpx.AsyncClient, alice: TestAgent, bob: TestAgent
) -> None:
    carol = await register(client)
    gid = (await create_group(client, alice, [bob, carol]))["id"]
    assert (await client.post(f"/v1/groups/{gid}/leave", headers=bob.headers)).status_code == 200
    left = await client.post(f"/v1/groups/{gid}/leave", headers=carol.headers, json={})
    assert left.status_code == 200, left.text
    assert set(await roster(client, alice, gid)) == {alice.id}
    body = assert_error(
        await client.post(f"/v1/groups/{gid}/leave", headers=alice.headers), 409, "conflict"
    )
    assert "transfer" in body["detail"]
    groups = (await client.get("/v1/groups", headers=bob.headers)).json()["groups"]
    assert gid not in {g["id"] for g in groups}


async def test_roles_transfer_and_disband(
    client: httpx.AsyncClient, alice: TestAgent, bob: TestAgent
) -> None:
    carol = await register(client)
    gid = (await create_group(client, alice, [bob, carol]))["id"]
    promoted = await client.put(
        f"/v1/groups/{gid}/members/{bob.id}/role", headers=alice.headers, json={"role": "admin"}
    )
    assert promoted.status_code == 200, promoted.text
    assert promoted.json()["role"] == "admin"
    assert_error(
        await client.put(
            f"/v1/groups/{gid}/members/{bob.id}/role", headers=alice.headers, json={"role": "god"}
        ),
        400,
    )
    assert_error(
        await client.put(
            f"/v1/groups/{gid}/members/{alice.id}/role",
            headers=alice.headers,
            json={"role": "member"},
        ),
        409,
    )
    transferred = await client.post(
        f"/v1/groups/{gid}/transfer", headers=alice.headers, json={"new_owner": carol.id}
    )
    assert transferred.status_code == 200, transferred.text
    assert transferred.json()["owner"] == carol.id
    assert await roster(client, carol, gid) == {
        alice.id: "admin",
        bob.id: "admin",
        carol.id: "owner",
    }
    outsider = await register(client)
    assert_error(
        await client.post(
            f"/v1/groups/{gid}/transfer", headers=carol.headers, json={"new_owner": outsider.id}
        ),
        404,
        "not_a_member",
    )
    assert (await client.post(f"/v1/groups/{gid}/leave", headers=alice.headers)).status_code == 200
    gone = await client.delete(f"/v1/groups/{gid}", headers=carol.headers)
    assert gone.status_code == 200, gone.text
    for who in (bob, carol):
        assert_error(await client.get(f"/v1/groups/{gid}", headers=who.headers), 404)
        assert_error(await client.get(f"/v1/groups/{gid}/members", headers=who.headers), 404)
        assert_error(await client.get(f"/v1/groups/{gid}/messages", headers=who.headers), 404)
        assert_error(await group_send(client, who, gid), 404)
        assert_error(await client.delete(f"/v1/groups/{gid}", headers=who.headers), 404)
        assert (await client.get("/v1/groups", headers=who.headers)).json()["groups"] == []
    notes = (await client.get("/v1/notifications", headers=bob.headers)).json()["notifications"]
    assert any(n["kind"] == "group_disbanded" for n in notes)


async def test_join_public_group_only(
    client: httpx.AsyncClient, alice: TestAgent, bob: TestAgent
) -> None:
    public = (await create_group(client, alice, [], is_public=True))["id"]
    private = (await create_group(client, alice, []))["id"]
    joined = await client.post(f"/v1/groups/{public}/join", headers=bob.headers)
    assert joined.status_code == 200, joined.text
    assert joined.json()["role"] == "member" and joined.json()["member_count"] == 2
    again = await client.post(f"/v1/groups/{public}/join", headers=bob.headers)
    assert again.status_code == 200 and again.json()["member_count"] == 2
    assert_error(
        await client.post(f"/v1/groups/{private}/join", headers=bob.headers), 404, "group_not_found"
    )
    await sent(client, bob, public, "hello from a joiner")


# --- mute --------------------------------------------------------------------------------------


async def test_mute_blocks_sending_until_it_is_lifted(
    client: httpx.AsyncClient, alice: TestAgent, bob: TestAgent
) -> None:
    """Over HTTP; a timed mute's expiry: tests/services/test_group_mutes.py."""
    gid = (await create_group(client, alice, [bob]))["id"]
    muted = await client.post(
        f"/v1/groups/{gid}/mute/{bob.id}", headers=alice.headers, json={"duration": 60}
    )
    assert muted.status_code == 200, muted.text
    assert muted.json()["muted"] is True and muted.json()["muted_until"].endswith("Z")
    until = datetime.fromisoformat(muted.json()["muted_until"].replace("Z", "+00:00"))
    assert 50 < (until - datetime.now(UTC)).total_seconds() <= 60
    assert_error(await group_send(client, bob, gid), 403, "muted")
    # permanent (no body, or duration 0) until unmuted
    forever = await client.post(f"/v1/groups/{gid}/mute/{bob.id}", headers=alice.headers)
    assert forever.status_code == 200, forever.text
    assert forever.json()["muted"] is True and forever.json()["muted_until"] is None
    assert_error(await group_send(client, bob, gid), 403, "muted")
    listed = {
        m["agent_id"]: m
        for m in (await client.get(f"/v1/groups/{gid}/members", headers=bob.headers)).json()[
            "members"
        ]
    }
    assert listed[bob.id]["muted"] is True
    lifted = await client.delete(f"/v1/groups/{gid}/mute/{bob.id}", headers=alice.headers)
    assert lifted.status_code == 200 and lifted.json()["muted"] is False
    await sent(client, bob, gid, "unmuted")
    zero = await client.post(
        f"/v1/groups/{gid}/mute/{bob.id}", headers=alice.headers, json={"duration": 0}
    )
    assert zero.json()["muted"] is True
    url = f"/v1/groups/{gid}/mute/{bob.id}"
    for bad in ({"duration": -1}, {"duration": "60"}, {"duration": 1.5}, {"duration": 10**12}):
        assert_error(await client.post(url, headers=alice.headers, json=bad), 400)


# --- messages ----------------------------------------------------------------------------------


async def test_group_message_reaches_every_other_member_with_context(
    client: httpx.AsyncClient, alice: TestAgent, bob: TestAgent
) -> None:
    carol = await register(client)
    gid = (await create_group(client, alice, [bob, carol]))["id"]
    response = await group_send(client, alice, gid, "hello group")
    assert response.status_code == 201, response.text
    out = response.json()
    assert out["thread_id"] == out["group_id"] == gid
    assert out["id"].startswith("m_") and out["from"] == alice.id
    assert out["content"] == {"format": "text", "body": "hello group"}
    assert out["recipients"] == 2
    assert "to" not in out
    for who in (bob, carol):
        [item] = [m for m in await received(client, who) if m["id"] == out["id"]]
        assert item["thread_id"] == item["group_id"] == gid
        assert item["to"] == who.id and item["from"] == alice.id
        assert item["scene"] == "group"
        assert item["sender_relation"] == "stranger" and item["trust_level"] == "minimal"
        assert isinstance(item["seq"], int)
        assert "intent" not in item
    assert not [m for m in await received(client, alice) if m["id"] == out["id"]]  # no echo


async def test_mentions_set_intent_and_notify_only_named_members(
    client: httpx.AsyncClient, alice: TestAgent, bob: TestAgent
) -> None:
    carol, outsider = await agents(client, 2)
    gid = (await create_group(client, alice, [bob, carol]))["id"]
    out = await sent(
        client, alice, gid, f"@{{{bob.id}}} please look; also @{outsider.id} and @{alice.id}"
    )
    by_bob = next(m for m in await received(client, bob) if m["id"] == out["id"])
    by_carol = next(m for m in await received(client, carol) if m["id"] == out["id"])
    assert by_bob["intent"] == "mentioned"
    assert "intent" not in by_carol
    notes = (await client.get("/v1/notifications", headers=bob.headers)).json()["notifications"]
    [mention] = [n for n in notes if n["kind"] == "mention"]
    assert mention["subject_id"] == gid and mention["actor_id"] == alice.id
    assert mention["message_id"] == out["id"] and mention["data"]["group_id"] == gid
    for who in (carol, outsider, alice):
        notes = (await client.get("/v1/notifications", headers=who.headers)).json()
        assert not [n for n in notes["notifications"] if n["kind"] == "mention"]
    plain = await sent(client, alice, gid, f"@{bob.id}")
    assert next(m for m in await received(client, bob) if m["id"] == plain["id"])["intent"] == (
        "mentioned"
    )


async def test_history_pages_newest_first_with_a_cursor(
    client: httpx.AsyncClient, alice: TestAgent, bob: TestAgent
) -> None:
    gid = (await create_group(client, alice, [bob]))["id"]
    ids = [(await sent(client, alice if i % 2 else bob, gid, f"m{i}"))["id"] for i in range(5)]
    url = f"/v1/groups/{gid}/messages"
    first = (await client.get(url, headers=bob.headers, params={"limit": 2})).json()
    assert [m["id"] for m in first["messages"]] == ids[3:]
    assert first["has_more"] is True and first["messages"][0]["group_id"] == gid
    second = (
        await client.get(
            url, headers=bob.headers, params={"limit": 2, "before": first["next_cursor"]}
        )
    ).json()
    assert [m["id"] for m in second["messages"]] == ids[1:3]
    third = (
        await client.get(
            url, headers=bob.headers, params={"limit": 2, "before": second["next_cursor"]}
        )
    ).json()
    assert [m["id"] for m in third["messages"]] == ids[:1] and third["has_more"] is False
    assert_error(await client.get(url, headers=bob.headers, params={"before": "xx"}), 400)
    # the generic thread endpoint serves the same history to members, and hides it otherwise
    thread = await client.get(f"/v1/threads/{gid}/messages", headers=alice.headers)
    assert thread.status_code == 200, thread.text
    assert [m["id"] for m in thread.json()["messages"]] == ids
    outsider = await register(client)
    assert_error(
        await client.get(f"/v1/threads/{gid}/messages", headers=outsider.headers),
        404,
        "thread_not_found",
    )


async def test_dm_reply_with_the_group_thread_id_posts_into_the_group(
    client: httpx.AsyncClient, alice: TestAgent, bob: TestAgent
) -> None:
    """agentim's msg.reply() on a group message: POST /v1/messages {"to", "thread_id"}."""
    carol, outsider = await agents(client, 2)
    gid = (await create_group(client, alice, [bob, carol]))["id"]
    original = await sent(client, alice, gid, "question")
    reply = await send(client, bob, alice.id, "answer", thread_id=gid, reply_to=original["id"])
    assert reply["thread_id"] == reply["group_id"] == gid
    assert reply["reply_to"] == original["id"]
    for who in (alice, carol):
        item = next(m for m in await received(client, who) if m["id"] == reply["id"])
        assert item["scene"] == "group" and item["type"] == "response"
    # not a member: a plain DM in the pair's thread, nothing leaks into the group
    dm = await send(client, outsider, alice.id, "hi", thread_id=gid)
    assert dm["thread_id"].startswith("dm_") and "group_id" not in dm
    history = (await client.get(f"/v1/groups/{gid}/messages", headers=alice.headers)).json()
    assert dm["id"] not in {m["id"] for m in history["messages"]}
    # a muted member's reply is refused like its group send
    await client.post(f"/v1/groups/{gid}/mute/{bob.id}", headers=alice.headers)
    muted = await client.post(
        "/v1/messages",
        headers=bob.headers,
        json={"to": alice.id, "thread_id": gid, "content": {"body": "x"}},
    )
    assert_error(muted, 403, "muted")


async def test_group_send_validates_content_and_replays_idempotency_keys(
    client: httpx.AsyncClient, alice: TestAgent, bob: TestAgent
) -> None:
    gid = (await create_group(client, alice, [bob]))["id"]
    url = f"/v1/groups/{gid}/messages"
    for bad in (
        {"content": {"format": "text", "body": ""}},
        {"content": {"format": "exe", "body": "x"}},
        {"content": {"format": "json", "body": "{nope"}},
        {"content": {"format": "text", "body": 5}},
        {"content": {"format": "text", "body": "x" * 65_537}},
        {"content": {"body": "x"}, "reply_to": "not-a-message-id"},
    ):
        assert_error(await client.post(url, headers=alice.headers, json=bad), 400)
    flat = await client.post(url, headers=alice.headers, json={"body": "flat form"})
    assert flat.status_code == 201, flat.text
    image = '{"url": "https://example.com/cat.png", "width": 1, "height": 1}'
    pic = await client.post(
        url, headers=alice.headers, json={"content": {"format": "image", "body": image}}
    )
    assert pic.status_code == 201, pic.text
    assert pic.json()["content"] == {"format": "image", "body": image}
    headers = {**alice.headers, "Idempotency-Key": "k-1"}
    first = await client.post(url, headers=headers, json={"content": {"body": "once"}})
    again = await client.post(url, headers=headers, json={"content": {"body": "once"}})
    assert first.status_code == 201 and again.status_code == 200
    assert again.headers["Idempotent-Replayed"] == "true"
    assert first.json()["id"] == again.json()["id"]
    assert [m["content"]["body"] for m in await received(client, bob)].count("once") == 1


async def test_fan_out_to_100_members_is_gapless_per_inbox(client: httpx.AsyncClient) -> None:
    owner, *members = await agents(client, 100)
    # Give every member some earlier inbox traffic so the seqs differ between members.
    for i, member in enumerate(members[:10]):
        for _ in range(i % 3 + 1):
            await send(client, owner, member.id, "warm-up")
    heads = {}
    for member in members:
        heads[member.id] = (await sync(client, member, since_seq=0, limit=500))["next_seq"]
    gid = (await create_group(client, owner, members))["id"]
    out = await sent(client, owner, gid, "to everyone")
    assert out["recipients"] == 99

    async def check(member: TestAgent) -> None:
        page = await sync(client, member, since_seq=heads[member.id])
        assert [m["id"] for m in page["messages"]] == [out["id"]], member.id
        assert page["messages"][0]["seq"] == heads[member.id] + 1
        assert page["messages"][0]["group_id"] == gid

    await asyncio.gather(*(check(m) for m in members))
    own = await sync(client, owner, since_seq=0)
    assert out["id"] not in {m["id"] for m in own["messages"]}


# --- garbage never reaches a 5xx ----------------------------------------------------------------

GARBAGE_SEGMENTS = [
    ("x" * 5000, 400),
    ("%E2%9C%93%F0%9F%A4%96", 404),
    ("%E2%80%AE10001", 404),
    ("%00", 404),
    ("%2E%2E", 404),
    ("%20", 404),
    ("1%27%20OR%20%271%27%3D%271", 404),
    ("99999999999999999999999", 404),
]
GROUP_PATHS = [
    ("GET", "/v1/groups/{g}"),
    ("PATCH", "/v1/groups/{g}"),
    ("PUT", "/v1/groups/{g}"),
    ("DELETE", "/v1/groups/{g}"),
    ("GET", "/v1/groups/{g}/members"),
    ("POST", "/v1/groups/{g}/members"),
    ("POST", "/v1/groups/{g}/leave"),
    ("POST", "/v1/groups/{g}/join"),
    ("POST", "/v1/groups/{g}/transfer"),
    ("POST", "/v1/groups/{g}/announcement"),
    ("GET", "/v1/groups/{g}/messages"),
    ("POST", "/v1/groups/{g}/messages"),
    ("DELETE", "/v1/groups/{g}/members/{m}"),
    ("PUT", "/v1/groups/{g}/members/{m}/role"),
    ("POST", "/v1/groups/{g}/mute/{m}"),
    ("DELETE", "/v1/groups/{g}/mute/{m}"),
]


async def test_garbage_paths_and_bodies_get_4xx_with_the_error_shape(
    client: httpx.AsyncClient, server: ServerProcess, alice: TestAgent, bob: TestAgent
) -> None:
    gid = (await create_group(client, alice, [bob]))["id"]
    log_offset = len(server.log())
    bodies: dict[str, dict[str, Any]] = {
        "/members": {"members": [bob.id]},
        "/transfer": {"new_owner": bob.id},
        "/announcement": {"announcement": "x"},
        "/messages": {"content": {"body": "x"}},
        "/role": {"role": "admin"},
    }
    for method, template in GROUP_PATHS:
        found = next((b for k, b in bodies.items() if template.endswith(k)), {"name": "x"})
        body = found if method in ("POST", "PUT", "PATCH") else None
        for segment, status in GARBAGE_SEGMENTS:
            paths = [template.replace("{g}", segment).replace("{m}", bob.id)]
            if "{m}" in template:
                paths.append(template.replace("{g}", gid).replace("{m}", segment))
            for path in paths:
                response = await client.request(method, path, headers=alice.headers, json=body)
                assert response.status_code in (status, 404), f"{method} {path}: {response.text}"
                assert_error(response, response.status_code)
    base = f"/v1/groups/{gid}"
    for method, path, bad in [
        ("POST", "/v1/groups", [1, 2]),
        ("POST", "/v1/groups", {"name": {"x": 1}}),
        ("POST", "/v1/groups", {"name": "g", "members": [{"id": 1}]}),
        ("POST", "/v1/groups", {"name": "g", "members": [10**30]}),
        ("PATCH", base, {"name": None, "is_public": 1}),
        ("PUT", base, "text"),
        ("POST", f"{base}/members", {"members": None}),
        ("POST", f"{base}/members", {"members": ["x" * 10_000]}),
        ("POST", f"{base}/transfer", {"new_owner": None}),
        ("POST", f"{base}/transfer", {"new_owner": "abc"}),
        ("POST", f"{base}/transfer", {}),
        ("POST", f"{base}/announcement", {"announcement": 5}),
        ("POST", f"{base}/messages", {"content": {"format": "text", "body": "a\u0000b"}}),
        ("POST", f"{base}/messages", {"content": None, "body": None}),
        ("PUT", f"{base}/members/{bob.id}/role", {"role": ["admin"]}),
        ("POST", f"{base}/mute/{bob.id}", {"duration": "forever"}),
        ("POST", f"{base}/mute/{bob.id}", [60]),
    ]:
        response = await client.request(method, path, headers=alice.headers, json=bad)
        assert 400 <= response.status_code < 500, f"{method} {path} {bad}: {response.text}"
        assert_error(response, response.status_code)
    for params in ({"limit": 0}, {"limit": 201}, {"before": "!!"}, {"before": "x" * 100}):
        response = await client.get(f"{base}/messages", headers=alice.headers, params=params)
        assert_error(response, 400)
    assert_no_server_errors(server, log_offset)


async def test_a_member_removed_during_sends_gets_exactly_the_messages_before_its_removal(
    client: httpx.AsyncClient, alice: TestAgent, bob: TestAgent
) -> None:
    """The fan-out reads the members in the message's own transaction: what bob received is
    a prefix of the group's history, never a message written after his removal."""
    carol = await register(client)
    gid = (await create_group(client, alice, [bob, carol]))["id"]

    async def kick() -> None:
        await asyncio.sleep(0.01)  # lands among the sends
        response = await client.delete(f"/v1/groups/{gid}/members/{bob.id}", headers=alice.headers)
        assert response.status_code == 200, response.text

    results = await asyncio.gather(
        *(group_send(client, alice, gid, f"m{i}") for i in range(30)), kick()
    )
    assert all(r is not None and r.status_code == 201 for r in results[:-1])
    history = (
        await client.get(f"/v1/groups/{gid}/messages", headers=carol.headers, params={"limit": 50})
    ).json()["messages"]
    order = [m["id"] for m in history]
    got = [m["id"] for m in await received(client, bob) if m.get("group_id") == gid]
    assert got == order[: len(got)], "bob received a message written after his removal"
    assert sorted(got, key=order.index) == got  # and in the order they were written


# --- the fan-out's facts, read by the store -----------------------------------------------------
# Friendships, trust overrides and blocks have no endpoints in this module; the rows are
# written straight to a store to check that the send reads each in the member's direction.


async def test_fan_out_reads_friendship_trust_and_blocks_from_each_members_side(
    store: Store,
) -> None:
    sender, friend, trusting, blocking, plain = [
        await new_agent(store, unique_name(n)) for n in ("s", "f", "t", "b", "p")
    ]
    rows = [
        ("INSERT INTO friendships (account_id, friend_id, created_at) VALUES (?, ?, 0)", friend),
        (
            "INSERT INTO trust_overrides (account_id, other_id, relation, created_at)"
            " VALUES (?, ?, 'friend', 0)",
            trusting,
        ),
        ("INSERT INTO blocks (account_id, blocked_id, created_at) VALUES (?, ?, 0)", blocking),
    ]

    def write_rows(txn: Any) -> None:
        for sql, member in rows:
            txn.execute(sql, (member, sender))
        # the sender's side only: does not make `plain` see the sender as a friend
        txn.execute(
            "INSERT INTO friendships (account_id, friend_id, created_at) VALUES (?, ?, 0)",
            (sender, plain),
        )

    gid = new_group_id(uuid.uuid4().bytes)
    await store.create_group(
        NewGroup(
            id=gid,
            name="facts",
            description="",
            avatar_url="",
            is_public=False,
            owner_id=sender,
            member_ids=(friend, trusting, blocking, plain),
            now_us=T0,
        )
    )

    def decide(facts: GroupSendFacts) -> tuple[list[DeliveryContext], list[Any]]:
        deliveries, _ = plan_group_delivery(facts, now_us=T0, mentions=[plain])
        return deliveries, []

    # A send before the rows exist: what it read (and the facts memo) must not outlive them.
    before = await store.append_group_message(
        group_message(sender, gid, f"@{plain} hi"), decide=decide, idempotency_key=None
    )
    assert len(before.items) == 4
    assert all(i.context.sender_relation == "stranger" for i in before.items)
    # After the group exists: a block refuses being added, not a membership that was there.
    await store._write(write_rows)
    message = group_message(sender, gid, f"@{plain} hi")
    appended = await store.append_group_message(message, decide=decide, idempotency_key=None)
    got = {i.context.recipient_id: i.context for i in appended.items}
    assert set(got) == {friend, trusting, plain}  # not the sender, not who blocks it
    assert (got[friend].sender_relation, got[friend].trust_level) == ("friend", "trusted")
    assert (got[trusting].sender_relation, got[trusting].trust_level) == ("stranger", "trusted")
    assert (got[plain].sender_relation, got[plain].trust_level) == ("stranger", "minimal")
    assert got[plain].intent == "mentioned" and got[friend].intent is None
    assert all(i.seq == 2 for i in appended.items)  # each member's second inbox row
    [(_, stored), _] = await store.read_group_messages(gid, friend, before_num=None, limit=5)
    assert stored.id == message.id


# --- account deletion -------------------------------------------------------------------------


async def test_a_deleted_account_leaves_its_groups_and_hands_on_what_it_owned(
    client: httpx.AsyncClient,
) -> None:
    owner, member, admin, loner = await agents(client, 4)
    gid = (await create_group(client, owner, [member, admin]))["id"]
    response = await client.put(
        f"/v1/groups/{gid}/members/{admin.id}/role", headers=owner.headers, json={"role": "admin"}
    )
    assert response.status_code == 200, response.text
    solo = (await create_group(client, loner, []))["id"]
    for gone in (owner, loner):
        assert (await client.delete("/v1/agents/me", headers=gone.headers)).status_code == 204
    # The admin (not the earlier-joined member) owns the group now, and can run it.
    assert await roster(client, admin, gid) == {admin.id: "owner", member.id: "member"}
    group = (await client.get(f"/v1/groups/{gid}", headers=admin.headers)).json()
    assert (group["owner_id"], group["member_count"]) == (admin.id, 2)
    renamed = await client.patch(f"/v1/groups/{gid}", headers=admin.headers, json={"name": "ours"})
    assert renamed.status_code == 200, renamed.text
    # A group its owner was the last member of is disbanded.
    assert_error(await client.get(f"/v1/groups/{solo}", headers=member.headers), 404)
