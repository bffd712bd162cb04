"""Privacy over HTTP: settings (who_can_message, discoverable, trust overrides), blocks, DM
enforcement with its security context, search discoverability, profile cards."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

import httpx
import pytest
from websockets.asyncio.client import connect

from tests.api.helpers import WAIT_TIMEOUT, assert_error, befriend, pending, post_message, send
from tests.api.test_friends import friend_ids, request, request_list
from tests.conftest import register, unique_name
from tests.server import ServerProcess

if TYPE_CHECKING:
    from tests.conftest import TestAgent

DEFAULTS = {
    "who_can_message": "everyone",
    "discoverable": True,
    "trust_overrides": {},
    "who_can_friend_request": "everyone",
}


async def put_settings(
    client: httpx.AsyncClient, who: TestAgent, body: Any, method: str = "PUT"
) -> dict[str, Any]:
    response = await client.request(method, "/v1/agents/settings", headers=who.headers, json=body)
    assert response.status_code == 200, response.text
    data: dict[str, Any] = response.json()
    return data


async def block(client: httpx.AsyncClient, who: TestAgent, other: str) -> dict[str, Any]:
    response = await client.post(f"/v1/agents/block/{other}", headers=who.headers)
    assert response.status_code == 200, response.text
    data: dict[str, Any] = response.json()
    return data


# --- settings -----------------------------------------------------------------------------------


async def test_settings_defaults_and_partial_updates(
    client: httpx.AsyncClient, alice: TestAgent, bob: TestAgent
) -> None:
    response = await client.get("/v1/agents/settings", headers=alice.headers)
    assert response.status_code == 200, response.text
    assert response.json() == DEFAULTS

    assert await put_settings(client, alice, {"who_can_message": "friends_only"}) == {
        **DEFAULTS,
        "who_can_message": "friends_only",
    }
    updated = await put_settings(client, alice, {"discoverable": False}, method="PATCH")
    assert updated == {**DEFAULTS, "who_can_message": "friends_only", "discoverable": False}
    overrides = {bob.id: "friend", "999999999": "stranger"}
    updated = await put_settings(client, alice, {"trust_overrides": overrides})
    assert updated["trust_overrides"] == overrides
    assert updated["who_can_message"] == "friends_only"
    # `public` (the OpenClaw dmPolicy name) means everyone; unknown keys are ignored.
    updated = await put_settings(client, alice, {"who_can_message": "public", "x": 1})
    assert updated["who_can_message"] == "everyone"
    assert updated["trust_overrides"] == overrides
    # A given map replaces the stored one; {} clears it.
    assert (await put_settings(client, alice, {"trust_overrides": {}}))["trust_overrides"] == {}
    stored = (await client.get("/v1/agents/settings", headers=alice.headers)).json()
    assert stored == {**DEFAULTS, "discoverable": False}
    # An empty body changes nothing.
    assert await put_settings(client, alice, {}) == stored


@pytest.mark.parametrize(
    "body",
    [
        {"who_can_message": "friends"},
        {"who_can_message": 3},
        {"who_can_message": "x" * 100},
        {"discoverable": "no"},
        {"discoverable": 0},
        {"trust_overrides": ["10001"]},
        {"trust_overrides": {"not-an-id": "friend"}},
        {"trust_overrides": {"10001": "enemy"}},
        {"trust_overrides": {"10001": 1}},
        {"trust_overrides": {str(20000 + n): "friend" for n in range(201)}},
        [],
        "everyone",
    ],
)
async def test_bad_settings_are_400_and_change_nothing(
    client: httpx.AsyncClient, alice: TestAgent, body: Any
) -> None:
    for method in ("PUT", "PATCH"):
        response = await client.request(
            method, "/v1/agents/settings", headers=alice.headers, json=body
        )
        assert_error(response, 400)
    assert (await client.get("/v1/agents/settings", headers=alice.headers)).json() == DEFAULTS


async def test_trust_override_for_yourself_is_400(
    client: httpx.AsyncClient, alice: TestAgent
) -> None:
    response = await client.put(
        "/v1/agents/settings", headers=alice.headers, json={"trust_overrides": {alice.id: "friend"}}
    )
    assert_error(response, 400)


async def test_200_overrides_are_fine(client: httpx.AsyncClient, alice: TestAgent) -> None:
    overrides = {str(20000 + n): "friend" for n in range(200)}
    assert (await put_settings(client, alice, {"trust_overrides": overrides}))[
        "trust_overrides"
    ] == overrides


async def test_privacy_endpoints_need_credentials(
    client: httpx.AsyncClient, bob: TestAgent
) -> None:
    calls = [
        ("GET", "/v1/agents/settings", None),
        ("PUT", "/v1/agents/settings", {"discoverable": False}),
        ("PATCH", "/v1/agents/settings", {"discoverable": False}),
        ("POST", f"/v1/agents/block/{bob.id}", None),
        ("DELETE", f"/v1/agents/block/{bob.id}", None),
        ("GET", "/v1/agents/blocks", None),
        ("GET", "/v1/card/preview", None),
    ]
    for method, path, body in calls:
        for headers in ({}, {"Authorization": "Bearer am_not_a_key"}):
            assert_error(await client.request(method, path, json=body, headers=headers), 401)


# --- who_can_message ------------------------------------------------------------------------------


async def test_friends_only_refuses_strangers_and_admits_friends(
    client: httpx.AsyncClient, alice: TestAgent, bob: TestAgent
) -> None:
    await put_settings(client, bob, {"who_can_message": "friends_only"})
    body = assert_error(await post_message(client, alice, bob), 403, "messaging_restricted")
    assert "only accepts messages from friends" in body["detail"]
    assert await pending(client, bob) == []  # nothing was delivered

    await befriend(client, alice, bob)
    assert (await post_message(client, alice, bob)).status_code == 201
    [item] = [i for i in await pending(client, bob) if i.get("type") != "friend_request"]
    assert (item["scene"], item["sender_relation"], item["trust_level"]) == (
        "dm",
        "friend",
        "trusted",
    )
    # Bob's setting only restricts what Bob receives.
    assert (await post_message(client, bob, alice)).status_code == 201


async def test_nobody_refuses_even_friends(
    client: httpx.AsyncClient, alice: TestAgent, bob: TestAgent
) -> None:
    await befriend(client, alice, bob)
    await put_settings(client, bob, {"who_can_message": "nobody"})
    assert_error(await post_message(client, alice, bob), 403, "messaging_restricted")
    stranger = await register(client, unique_name("stranger"))
    assert_error(await post_message(client, stranger, bob), 403, "messaging_restricted")
    assert [i for i in await pending(client, bob) if i.get("type") != "friend_request"] == []
    await put_settings(client, bob, {"who_can_message": "everyone"})
    assert (await post_message(client, stranger, bob)).status_code == 201


async def test_friend_override_trusts_a_stranger_and_passes_friends_only(
    client: httpx.AsyncClient, alice: TestAgent, bob: TestAgent
) -> None:
    await put_settings(client, bob, {"trust_overrides": {alice.id: "friend"}})
    await send(client, alice, bob.id, "trusted?")
    [item] = await pending(client, bob)
    assert (item["sender_relation"], item["trust_level"]) == ("stranger", "trusted")
    # The override is an allow-list entry under friends_only.
    await put_settings(client, bob, {"who_can_message": "friends_only"})
    assert (await post_message(client, alice, bob)).status_code == 201


async def test_stranger_override_lowers_a_friends_trust(
    client: httpx.AsyncClient, alice: TestAgent, bob: TestAgent
) -> None:
    await befriend(client, alice, bob)
    await put_settings(client, bob, {"trust_overrides": {alice.id: "stranger"}})
    await send(client, alice, bob.id, "still trusted?")
    [item] = [i for i in await pending(client, bob) if i.get("type") != "friend_request"]
    assert (item["sender_relation"], item["trust_level"]) == ("friend", "minimal")


# --- blocks -------------------------------------------------------------------------------------


async def test_block_refuses_dms_both_ways_and_nothing_is_delivered(
    client: httpx.AsyncClient, alice: TestAgent, bob: TestAgent
) -> None:
    data = await block(client, bob, alice.id)
    assert (data["blocked"], data["agent_id"], data["changed"]) == (True, alice.id, True)
    assert (await block(client, bob, alice.id))["changed"] is False  # idempotent

    assert_error(await post_message(client, alice, bob), 403, "blocked")
    assert_error(await post_message(client, bob, alice), 403, "blocked")
    assert await pending(client, bob) == []
    assert await pending(client, alice) == []

    blocks = (await client.get("/v1/agents/blocks", headers=bob.headers)).json()
    assert [b["id"] for b in blocks["blocks"]] == [alice.id]
    assert blocks["count"] == 1
    # Only Bob's own list: Alice has blocked nobody.
    assert (await client.get("/v1/agents/blocks", headers=alice.headers)).json()["count"] == 0

    response = await client.delete(f"/v1/agents/block/{alice.id}", headers=bob.headers)
    assert response.status_code == 200, response.text
    assert response.json()["changed"] is True
    again = await client.delete(f"/v1/agents/block/{alice.id}", headers=bob.headers)
    assert (again.status_code, again.json()["changed"]) == (200, False)
    assert (await post_message(client, alice, bob)).status_code == 201


async def test_block_ends_friendship_and_requests(
    client: httpx.AsyncClient, alice: TestAgent, bob: TestAgent
) -> None:
    await befriend(client, alice, bob)
    carol = await register(client, unique_name("carol"))
    await request(client, carol, bob.id)
    await request(client, bob, carol.id, 200)  # crosses Carol's: friends
    dave = await register(client, unique_name("dave"))
    await request(client, bob, dave.id)

    await block(client, bob, alice.id)
    await block(client, bob, dave.id)
    assert await friend_ids(client, alice) == []
    assert await friend_ids(client, bob) == [carol.id]
    assert await request_list(client, bob, "requests") == []
    assert await request_list(client, dave, "pending") == []
    # Friend requests across a block are refused, whoever blocked.
    for frm, to in ((alice, bob), (bob, alice), (dave, bob)):
        response = await client.post(
            "/v1/friends/request", headers=frm.headers, json={"addressee": to.id}
        )
        assert_error(response, 403, "blocked")
    # Unblocking does not restore the friendship.
    await client.delete(f"/v1/agents/block/{alice.id}", headers=bob.headers)
    assert await friend_ids(client, bob) == [carol.id]


async def test_block_errors(client: httpx.AsyncClient, alice: TestAgent) -> None:
    h = alice.headers
    assert_error(await client.post(f"/v1/agents/block/{alice.id}", headers=h), 400)
    assert_error(await client.post("/v1/agents/block/999999999", headers=h), 404, "agent_not_found")
    assert_error(await client.post("/v1/agents/block/abc", headers=h), 404, "agent_not_found")
    assert_error(
        await client.post("/v1/agents/block/" + "1" * 40, headers=h), 404, "agent_not_found"
    )
    assert_error(await client.delete("/v1/agents/block/abc", headers=h), 404, "agent_not_found")
    assert_error(
        await client.get("/v1/agents/blocks", headers=h, params={"limit": 0}),
        400,
        "validation_error",
    )


# --- search and profile cards -------------------------------------------------------------------


async def _search_ids(client: httpx.AsyncClient, q: str) -> list[str]:
    response = await client.get("/v1/agents/search", params={"q": q})
    assert response.status_code == 200, response.text
    return [a["id"] for a in response.json()["agents"]]


async def test_undiscoverable_accounts_leave_search_but_keep_their_profile(
    client: httpx.AsyncClient,
) -> None:
    tag = unique_name("hidden")
    hidden = await register(client, f"{tag}-a")
    shown = await register(client, f"{tag}-b")
    assert await _search_ids(client, tag) == [hidden.id, shown.id]
    await put_settings(client, hidden, {"discoverable": False})
    assert await _search_ids(client, tag) == [shown.id]
    profile = await client.get(f"/v1/profile/{hidden.id}")
    assert profile.status_code == 200, profile.text
    assert profile.json()["id"] == hidden.id
    # Still reachable by id for a DM too.
    assert (await post_message(client, shown, hidden)).status_code == 201
    await put_settings(client, hidden, {"discoverable": True})
    assert await _search_ids(client, tag) == [hidden.id, shown.id]


async def test_profile_and_card_counts(
    client: httpx.AsyncClient, alice: TestAgent, bob: TestAgent
) -> None:
    profile = (await client.get(f"/v1/profile/{alice.id}")).json()
    assert (profile["friends_count"], profile["moments_count"], profile["groups_count"]) == (
        0,
        0,
        0,
    )
    await befriend(client, alice, bob)
    carol = await register(client, unique_name("carol"))
    await befriend(client, carol, alice)
    profile = (await client.get(f"/v1/profile/{alice.id}")).json()
    assert profile["friends_count"] == 2
    assert profile["display_name"] == alice.display_name
    assert profile["status"] in ("online", "offline")

    card = await client.get("/v1/card/preview", headers=alice.headers)
    assert card.status_code == 200, card.text
    data = card.json()
    assert data["id"] == alice.id
    assert data["friends_count"] == 2
    assert isinstance(data["moments_count"], int)
    assert isinstance(data["groups_count"], int)
    assert "is_friend" not in data

    # A friend who deregisters no longer counts.
    assert (await client.delete("/v1/agents/me", headers=carol.headers)).status_code == 204
    assert (await client.get(f"/v1/profile/{alice.id}")).json()["friends_count"] == 1


async def test_profile_errors(client: httpx.AsyncClient) -> None:
    assert_error(await client.get("/v1/profile/999999999"), 404, "agent_not_found")
    assert_error(await client.get("/v1/profile/abc"), 404, "agent_not_found")
    assert_error(await client.get("/v1/profile/" + "1" * 40), 404, "agent_not_found")


# --- groups and notifications respect blocks and who_can_message --------------------------------


async def new_group(
    client: httpx.AsyncClient, owner: TestAgent, members: list[TestAgent]
) -> httpx.Response:
    return await client.post(
        "/v1/groups",
        headers=owner.headers,
        json={"name": unique_name("g"), "members": [m.id for m in members]},
    )


async def invite(
    client: httpx.AsyncClient, actor: TestAgent, gid: str, member: TestAgent
) -> httpx.Response:
    return await client.post(
        f"/v1/groups/{gid}/members", headers=actor.headers, json={"members": [member.id]}
    )


async def test_adding_to_a_group_needs_the_consent_a_dm_needs(client: httpx.AsyncClient) -> None:
    owner, blocker, blocked, closed, picky, friend = [await register(client) for _ in range(6)]
    await block(client, blocker, owner.id)  # the invitee blocked the owner
    await block(client, owner, blocked.id)  # the owner blocked the invitee
    await put_settings(client, closed, {"who_can_message": "nobody"})
    await put_settings(client, picky, {"who_can_message": "friends_only"})
    await befriend(client, owner, friend)
    await put_settings(client, friend, {"who_can_message": "friends_only"})

    for refused, code in [
        (blocker, "blocked"),
        (blocked, "blocked"),
        (closed, None),
        (picky, None),
    ]:
        body = assert_error(await new_group(client, owner, [refused]), 403)
        assert refused.id in body["detail"]
        if code is not None:
            assert body["code"] == code
    created = await new_group(client, owner, [friend])  # a friend accepts friends
    assert created.status_code == 201, created.text
    gid = created.json()["id"]
    for refused in (blocker, blocked, closed, picky):
        assert_error(await invite(client, owner, gid, refused), 403)
    roster = await client.get(f"/v1/groups/{gid}/members", headers=owner.headers)
    assert {m["agent_id"] for m in roster.json()["members"]} == {owner.id, friend.id}
    # Joining a public group yourself needs no one's consent.
    public = await client.post(
        "/v1/groups", headers=owner.headers, json={"name": unique_name("p"), "is_public": True}
    )
    joined = await client.post(f"/v1/groups/{public.json()['id']}/join", headers=closed.headers)
    assert joined.status_code == 200, joined.text


async def test_no_notification_from_an_account_you_blocked(client: httpx.AsyncClient) -> None:
    owner, member = await register(client), await register(client)
    gid = (await new_group(client, owner, [member])).json()["id"]
    await block(client, member, owner.id)  # after joining: the membership stays
    response = await client.post(
        f"/v1/groups/{gid}/announcement", headers=owner.headers, json={"announcement": "hey"}
    )
    assert response.status_code == 200, response.text
    moment = await client.post(
        "/v1/moments", headers=member.headers, json={"content": "mine", "visibility": "public"}
    )
    assert moment.status_code == 201, moment.text
    # (a like from the blocked is refused outright: the block hides the moment)
    assert_error(
        await client.post(f"/v1/moments/{moment.json()['id']}/like", headers=owner.headers), 404
    )
    notes = (await client.get("/v1/notifications", headers=member.headers)).json()
    kinds = [n["kind"] for n in notes["notifications"]]
    assert "group_invited" in kinds  # from before the block
    assert "group_announcement" not in kinds and "moment_like" not in kinds


async def test_a_block_hides_moments_from_likes_and_comments(client: httpx.AsyncClient) -> None:
    author, other = await register(client), await register(client)
    posted = await client.post(
        "/v1/moments", headers=author.headers, json={"content": "hi", "visibility": "public"}
    )
    mid = posted.json()["id"]
    said = await client.post(
        f"/v1/moments/{mid}/comments", headers=other.headers, json={"content": "before"}
    )
    assert said.status_code == 201, said.text
    await block(client, author, other.id)
    assert_error(await client.post(f"/v1/moments/{mid}/like", headers=other.headers), 404)
    assert_error(
        await client.post(
            f"/v1/moments/{mid}/comments", headers=other.headers, json={"content": "after"}
        ),
        404,
    )
    assert_error(await client.get(f"/v1/moments/{mid}", headers=other.headers), 404)
    own = await client.delete(
        f"/v1/moments/{mid}/comments/{said.json()['id']}", headers=other.headers
    )
    assert own.status_code == 204, own.text
    seen = await client.get(f"/v1/moments/{mid}", headers=author.headers)
    assert seen.status_code == 200 and seen.json()["comment_count"] == 0


async def test_a_block_hides_each_ones_moments_from_the_other_everywhere(
    client: httpx.AsyncClient,
) -> None:
    """By-author listing, feed and detail: a block (either way) hides every moment of each
    from the other; everyone else still sees them; unblocking shows them again."""
    blocker, blocked, bystander = [await register(client) for _ in range(3)]
    mine: dict[str, str] = {}
    for who in (blocker, blocked):
        posted = await client.post(
            "/v1/moments", headers=who.headers, json={"content": "hi", "visibility": "public"}
        )
        assert posted.status_code == 201, posted.text
        mine[who.id] = posted.json()["id"]
    await block(client, blocker, blocked.id)

    async def listed(viewer: TestAgent, author: TestAgent) -> list[str]:
        response = await client.get(f"/v1/moments/{author.id}", headers=viewer.headers)
        assert response.status_code == 200, response.text
        return [m["id"] for m in response.json()["moments"]]

    async def feed(viewer: TestAgent) -> list[str]:
        response = await client.get("/v1/moments/feed?limit=100", headers=viewer.headers)
        assert response.status_code == 200, response.text
        return [m["id"] for m in response.json()["moments"]]

    for viewer, author in ((blocked, blocker), (blocker, blocked)):
        hidden = mine[author.id]
        assert await listed(viewer, author) == []
        assert hidden not in await feed(viewer)
        assert mine[viewer.id] in await feed(viewer)  # one's own stay
        assert_error(
            await client.get(f"/v1/moments/detail/{hidden}", headers=viewer.headers),
            404,
            "moment_not_found",
        )
        assert await listed(bystander, author) == [hidden]
        assert hidden in await feed(bystander)

    response = await client.delete(f"/v1/agents/block/{blocked.id}", headers=blocker.headers)
    assert response.status_code == 200, response.text
    assert await listed(blocked, blocker) == [mine[blocker.id]]
    assert mine[blocker.id] in await feed(blocked)


# --- friend requests and privacy ----------------------------------------------------------------


async def test_who_can_friend_request_nobody_refuses_new_requests(
    client: httpx.AsyncClient, alice: TestAgent, bob: TestAgent
) -> None:
    settings = await put_settings(client, bob, {"who_can_friend_request": "nobody"})
    assert settings == {**DEFAULTS, "who_can_friend_request": "nobody"}
    response = await client.get("/v1/agents/settings", headers=bob.headers)
    assert response.json()["who_can_friend_request"] == "nobody"

    refused = await client.post(
        "/v1/friends/request", headers=alice.headers, json={"addressee": bob.id, "message": "hi"}
    )
    assert_error(refused, 403, "friend_requests_restricted")
    assert await request_list(client, bob, "pending") == []
    assert not [m for m in await pending(client, bob) if m.get("type") == "friend_request"]

    # Bob may still ask, and Alice asking back is then an acceptance, not a new request.
    await request(client, bob, alice.id)
    assert (await request(client, alice, bob.id, status=200))["status"] == "accepted"
    assert await friend_ids(client, bob) == [alice.id]


async def test_a_friend_request_carries_no_text_the_addressee_would_not_take_as_a_dm(
    client: httpx.AsyncClient,
) -> None:
    """A request's message is a message: where the addressee would refuse the requester's DM
    (who_can_message nobody, or friends_only without a "friend" override) the request still
    goes, without its text, in the response, the pending list and the pushed event."""
    requester = await register(client)
    cases = [
        ({"who_can_message": "nobody"}, ""),
        ({"who_can_message": "friends_only"}, ""),
        ({"who_can_message": "friends_only", "trust_overrides": {requester.id: "friend"}}, "hi!"),
        ({"who_can_message": "everyone"}, "hi!"),
    ]
    for settings, expected in cases:
        addressee = await register(client)
        await put_settings(client, addressee, settings)
        sent = await request(client, requester, addressee.id, message="hi!")
        assert sent["message"] == expected, settings
        listed = await request_list(client, addressee, "pending")
        assert [r["message"] for r in listed] == [expected], settings
        events = [m for m in await pending(client, addressee) if m.get("type") == "friend_request"]
        assert [e["message"] for e in events] == [expected], settings
        notes = (await client.get("/v1/notifications", headers=addressee.headers)).json()
        assert [n["data"]["message"] for n in notes["notifications"]] == [expected], settings


async def test_profiles_do_not_reveal_the_presence_of_undiscoverable_accounts(
    client: httpx.AsyncClient, server: ServerProcess, alice: TestAgent, bob: TestAgent
) -> None:
    """Ids are sequential: a profile read (no credential needed) must not tell whether an
    account that opted out of discovery is online. Its owner still sees it on /me."""
    await put_settings(client, bob, {"discoverable": False})
    headers = {"Authorization": f"Bearer {bob.api_key}"}
    async with connect(server.ws_url, additional_headers=headers, proxy=None) as ws:
        await asyncio.wait_for(ws.recv(), WAIT_TIMEOUT)  # registered once the first frame comes
        me = (await client.get("/v1/agents/me", headers=bob.headers)).json()
        assert (me["status"], me["online"]) == ("online", True)
        for path in (f"/v1/agents/{bob.id}", f"/v1/profile/{bob.id}"):
            for reader in ({}, alice.headers):
                response = await client.get(path, headers=reader)
                assert response.status_code == 200, response.text
                view = response.json()
                assert view["id"] == bob.id
                assert "online" not in view and "status" not in view, (path, view)
        await put_settings(client, bob, {"discoverable": True})
        for path in (f"/v1/agents/{bob.id}", f"/v1/profile/{bob.id}"):
            view = (await client.get(path)).json()
            assert (view["status"], view["online"]) == ("online", True), path
