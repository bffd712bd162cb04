"""Moments over HTTP: post, feed, a user's moments, detail, delete, likes, comments, and who may
see or touch what (docs/moments.md)."""

from __future__ import annotations

import asyncio
import re
from typing import TYPE_CHECKING, Any

import httpx
import pytest

from tests.api.helpers import assert_error, assert_no_server_errors, befriend, pending
from tests.conftest import register, unique_name
from tests.server import ServerProcess

if TYPE_CHECKING:
    from tests.conftest import TestAgent

MOMENT_ID = re.compile(r"^mo_[0-9A-HJKMNP-TV-Z]{26}$")
COMMENT_ID = re.compile(r"^c_[0-9A-HJKMNP-TV-Z]{26}$")
ISO_UTC = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
UNKNOWN_MOMENT = "mo_00000000000000000000000000"
UNKNOWN_COMMENT = "c_00000000000000000000000000"
MOMENT_KEYS = {
    "id",
    "agent_id",
    "author_id",
    "display_name",
    "content",
    "visibility",
    "media",
    "likes",
    "like_count",
    "comments",
    "comment_count",
    "liked_by_me",
    "created_at",
}


# --- helpers ---------------------------------------------------------------------------------


async def post_moment(
    client: httpx.AsyncClient, who: TestAgent, content: str = "hello", **extra: Any
) -> dict[str, Any]:
    response = await client.post(
        "/v1/moments", headers=who.headers, json={"content": content, **extra}
    )
    assert response.status_code == 201, response.text
    data: dict[str, Any] = response.json()
    return data


async def get_json(
    client: httpx.AsyncClient, who: TestAgent, path: str, **params: Any
) -> dict[str, Any]:
    response = await client.get(path, headers=who.headers, params=params)
    assert response.status_code == 200, response.text
    data: dict[str, Any] = response.json()
    return data


async def feed_ids(client: httpx.AsyncClient, who: TestAgent, limit: int = 100) -> list[str]:
    data = await get_json(client, who, "/v1/moments/feed", limit=limit)
    return [m["id"] for m in data["moments"]]


async def moment_events(
    client: httpx.AsyncClient, who: TestAgent, kind: str
) -> list[dict[str, Any]]:
    return [m for m in await pending(client, who) if m.get("type") == kind]


@pytest.fixture
async def carol(client: httpx.AsyncClient) -> TestAgent:
    return await register(client, unique_name("carol"))


# --- post ------------------------------------------------------------------------------------


async def test_post_returns_the_moment(
    client: httpx.AsyncClient, alice: TestAgent, bob: TestAgent
) -> None:
    # The legacy SDK's `agent_id` is ignored: the credential decides the author.
    moment = await post_moment(client, alice, "Just shipped v2!", agent_id=bob.id)
    assert set(moment) >= MOMENT_KEYS
    assert MOMENT_ID.match(moment["id"]), moment["id"]
    assert moment["agent_id"] == moment["author_id"] == alice.id
    assert moment["display_name"] == alice.display_name
    assert moment["content"] == "Just shipped v2!"
    assert moment["visibility"] == "public"
    assert moment["media"] == []
    assert moment["likes"] == moment["like_count"] == 0
    assert moment["comments"] == moment["comment_count"] == 0
    assert moment["liked_by_me"] is False
    assert ISO_UTC.match(moment["created_at"]), moment["created_at"]


@pytest.mark.parametrize("visibility", ["public", "friends", "private"])
async def test_post_each_visibility_with_media(
    client: httpx.AsyncClient, alice: TestAgent, visibility: str
) -> None:
    media = ["https://example.com/a.png", "f_0123456789"]
    moment = await post_moment(client, alice, "pic", visibility=visibility, media=media)
    assert moment["visibility"] == visibility
    assert moment["media"] == media
    detail = await get_json(client, alice, f"/v1/moments/detail/{moment['id']}")
    assert detail == moment


async def test_post_accepts_the_longest_content(
    client: httpx.AsyncClient, alice: TestAgent
) -> None:
    moment = await post_moment(
        client, alice, "é" * 5000, media=[f"https://e.com/{i}" for i in range(9)]
    )
    assert len(moment["content"]) == 5000
    assert len(moment["media"]) == 9


BAD_POSTS: list[tuple[Any, str]] = [
    ({"content": ""}, "invalid_content"),
    ({"content": "   \n"}, "invalid_content"),
    ({"content": "x" * 5001}, "invalid_content"),
    ({"content": "nul\x00here"}, "invalid_content"),
    ({"content": 42}, "validation_error"),
    ({}, "validation_error"),
    ({"content": "hi", "visibility": "everyone"}, "validation_error"),
    ({"content": "hi", "visibility": 1}, "validation_error"),
    ({"content": "hi", "media": "https://e.com/a.png"}, "validation_error"),
    ({"content": "hi", "media": [f"https://e.com/{i}" for i in range(10)]}, "validation_error"),
    ({"content": "hi", "media": ["javascript:alert(1)"]}, "validation_error"),
    ({"content": "hi", "media": ["https://e.com/a b"]}, "validation_error"),
    ({"content": "hi", "media": ["https://e.com/" + "a" * 2048]}, "validation_error"),
    ({"content": "hi", "media": [1]}, "validation_error"),
    ([{"content": "hi"}], "validation_error"),
]


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        (b'{"content": "a\\ud800"}', "invalid_content"),
        (b'{"content": "ok", "media": ["https://e.com/\\udfff"]}', "validation_error"),
    ],
)
async def test_post_rejects_lone_surrogates(
    server: ServerProcess, client: httpx.AsyncClient, alice: TestAgent, raw: bytes, code: str
) -> None:
    offset = len(server.log())
    response = await client.post(
        "/v1/moments",
        headers={**alice.headers, "Content-Type": "application/json"},
        content=raw,
    )
    assert_error(response, 400, code)
    moment = await post_moment(client, alice)
    response = await client.post(
        f"/v1/moments/{moment['id']}/comments",
        headers={**alice.headers, "Content-Type": "application/json"},
        content=b'{"content": "\\ud800"}',
    )
    assert_error(response, 400, "invalid_content")
    assert_no_server_errors(server, offset)


@pytest.mark.parametrize(("body", "code"), BAD_POSTS)
async def test_post_rejects_bad_input(
    server: ServerProcess, client: httpx.AsyncClient, alice: TestAgent, body: Any, code: str
) -> None:
    offset = len(server.log())
    response = await client.post("/v1/moments", headers=alice.headers, json=body)
    assert_error(response, 400, code)
    assert_no_server_errors(server, offset)


async def test_post_rejects_malformed_json(client: httpx.AsyncClient, alice: TestAgent) -> None:
    response = await client.post(
        "/v1/moments",
        headers={**alice.headers, "Content-Type": "application/json"},
        content=b'{"content": ',
    )
    assert_error(response, 400, "invalid_json")


ENDPOINTS = [
    ("POST", "/v1/moments"),
    ("GET", "/v1/moments/feed"),
    ("GET", "/v1/moments/10001"),
    ("GET", f"/v1/moments/detail/{UNKNOWN_MOMENT}"),
    ("DELETE", f"/v1/moments/{UNKNOWN_MOMENT}"),
    ("POST", f"/v1/moments/{UNKNOWN_MOMENT}/like"),
    ("DELETE", f"/v1/moments/{UNKNOWN_MOMENT}/like"),
    ("POST", f"/v1/moments/{UNKNOWN_MOMENT}/comments"),
    ("GET", f"/v1/moments/{UNKNOWN_MOMENT}/comments"),
    ("DELETE", f"/v1/moments/{UNKNOWN_MOMENT}/comments/{UNKNOWN_COMMENT}"),
]


@pytest.mark.parametrize(("method", "path"), ENDPOINTS)
async def test_every_endpoint_needs_credentials(
    client: httpx.AsyncClient, method: str, path: str
) -> None:
    kwargs: dict[str, Any] = {"json": {"content": "x"}} if method == "POST" else {}
    response = await client.request(method, path, **kwargs)
    assert_error(response, 401, "unauthenticated")
    response = await client.request(
        method, path, headers={"Authorization": "Bearer am_wrong"}, **kwargs
    )
    assert_error(response, 401)


# --- feed ------------------------------------------------------------------------------------


async def test_feed_shows_own_and_public_but_not_strangers_hidden_moments(
    client: httpx.AsyncClient, alice: TestAgent, bob: TestAgent
) -> None:
    public = await post_moment(client, alice, "public", visibility="public")
    friends = await post_moment(client, alice, "friends", visibility="friends")
    private = await post_moment(client, alice, "private", visibility="private")
    bobs = await post_moment(client, bob, "bob's public")

    # Newest first; the author sees all three, a stranger only the public one.
    assert (await feed_ids(client, alice))[:4] == [
        bobs["id"],
        private["id"],
        friends["id"],
        public["id"],
    ]
    seen_by_bob = await feed_ids(client, bob)
    assert seen_by_bob[:2] == [bobs["id"], public["id"]]
    assert friends["id"] not in seen_by_bob
    assert private["id"] not in seen_by_bob


async def test_feed_shows_friends_moments_to_friends_only(
    client: httpx.AsyncClient, alice: TestAgent, bob: TestAgent, carol: TestAgent
) -> None:
    await befriend(client, alice, bob)
    friends = await post_moment(client, alice, "for friends", visibility="friends")
    private = await post_moment(client, alice, "for me", visibility="private")
    bob_feed = await feed_ids(client, bob)
    assert bob_feed[0] == friends["id"]
    assert private["id"] not in bob_feed
    assert friends["id"] not in await feed_ids(client, carol)
    detail = await get_json(client, bob, f"/v1/moments/detail/{friends['id']}")
    assert detail["visibility"] == "friends"


async def test_feed_pages_with_a_cursor_and_no_duplicates(
    client: httpx.AsyncClient, alice: TestAgent
) -> None:
    mine = [
        (await post_moment(client, alice, f"m{i}", visibility="private"))["id"] for i in range(5)
    ]
    seen: list[str] = []
    cursor: str | None = None
    while True:
        params: dict[str, Any] = {"limit": 2}
        if cursor:
            params["before"] = cursor
        page = await get_json(client, alice, "/v1/moments/feed", **params)
        assert len(page["moments"]) <= 2
        seen += [m["id"] for m in page["moments"]]
        assert page["has_more"] is (page["next_cursor"] is not None)
        if not page["has_more"]:
            break
        cursor = page["next_cursor"]
        if len(seen) >= 6:
            break
    assert seen[:5] == list(reversed(mine))
    assert len(seen) == len(set(seen))


async def test_feed_walks_to_the_end(client: httpx.AsyncClient, alice: TestAgent) -> None:
    await post_moment(client, alice, "one")
    cursor: str | None = None
    total: list[str] = []
    for _ in range(1000):
        params: dict[str, Any] = {"limit": 100}
        if cursor:
            params["before"] = cursor
        page = await get_json(client, alice, "/v1/moments/feed", **params)
        total += [m["id"] for m in page["moments"]]
        if not page["has_more"]:
            assert page["next_cursor"] is None
            break
        cursor = page["next_cursor"]
    assert len(total) == len(set(total)) >= 1


@pytest.mark.parametrize(
    ("params", "code"),
    [
        ({"before": "garbage!"}, "invalid_cursor"),
        ({"before": "eDEy"}, "invalid_cursor"),
        ({"limit": 0}, "validation_error"),
        ({"limit": 101}, "validation_error"),
        ({"limit": "ten"}, "validation_error"),
    ],
)
async def test_feed_rejects_bad_parameters(
    client: httpx.AsyncClient, alice: TestAgent, params: dict[str, Any], code: str
) -> None:
    response = await client.get("/v1/moments/feed", headers=alice.headers, params=params)
    assert_error(response, 400, code)


async def test_feed_ignores_the_legacy_agent_id_parameter(
    client: httpx.AsyncClient, alice: TestAgent, bob: TestAgent
) -> None:
    private = await post_moment(client, alice, "mine", visibility="private")
    data = await get_json(client, bob, "/v1/moments/feed", agent_id=alice.id)
    assert private["id"] not in [m["id"] for m in data["moments"]]


# --- a user's moments ------------------------------------------------------------------------


async def test_user_moments_follow_visibility(
    client: httpx.AsyncClient, alice: TestAgent, bob: TestAgent, carol: TestAgent
) -> None:
    await befriend(client, alice, carol)
    public = await post_moment(client, alice, "p", visibility="public")
    friends = await post_moment(client, alice, "f", visibility="friends")
    private = await post_moment(client, alice, "x", visibility="private")

    async def ids_for(viewer: TestAgent) -> list[str]:
        data = await get_json(client, viewer, f"/v1/moments/{alice.id}")
        assert data["agent_id"] == alice.id
        return [m["id"] for m in data["moments"]]

    assert await ids_for(alice) == [private["id"], friends["id"], public["id"]]
    assert await ids_for(carol) == [friends["id"], public["id"]]
    assert await ids_for(bob) == [public["id"]]


async def test_user_moments_page_with_a_cursor(client: httpx.AsyncClient, alice: TestAgent) -> None:
    posted = [(await post_moment(client, alice, f"n{i}"))["id"] for i in range(3)]
    first = await get_json(client, alice, f"/v1/moments/{alice.id}", limit=2)
    assert [m["id"] for m in first["moments"]] == posted[::-1][:2]
    assert first["has_more"] is True
    second = await get_json(
        client, alice, f"/v1/moments/{alice.id}", limit=2, before=first["next_cursor"]
    )
    assert [m["id"] for m in second["moments"]] == [posted[0]]
    assert second["has_more"] is False
    assert second["next_cursor"] is None


async def test_user_moments_of_unknown_or_malformed_ids(
    client: httpx.AsyncClient, alice: TestAgent
) -> None:
    assert_error(
        await client.get("/v1/moments/99999999999", headers=alice.headers), 404, "agent_not_found"
    )
    assert_error(
        await client.get("/v1/moments/P99999999999", headers=alice.headers), 404, "agent_not_found"
    )
    # Not a moment id, so an author's: 404 for one that does not exist, whatever it looks like.
    for bad in ("abc", "0123", "mo_short", "10001x", "P", "x" * 200):
        response = await client.get(f"/v1/moments/{bad}", headers=alice.headers)
        assert_error(response, 404, "agent_not_found")


# --- detail and delete -----------------------------------------------------------------------


async def test_detail_and_its_get_by_id_alias(client: httpx.AsyncClient, alice: TestAgent) -> None:
    moment = await post_moment(client, alice, "hello")
    assert await get_json(client, alice, f"/v1/moments/detail/{moment['id']}") == moment
    assert await get_json(client, alice, f"/v1/moments/{moment['id']}") == moment
    response = await client.get(f"/v1/moments/detail/{UNKNOWN_MOMENT}", headers=alice.headers)
    assert_error(response, 404, "moment_not_found")
    for bad in ("nope", "mo_", "c_00000000000000000000000000", "mo_" + "0" * 27):
        response = await client.get(f"/v1/moments/detail/{bad}", headers=alice.headers)
        assert_error(response, 400, "invalid_id")


async def test_only_the_author_deletes_and_then_it_is_gone(
    client: httpx.AsyncClient, alice: TestAgent, bob: TestAgent
) -> None:
    public = await post_moment(client, alice, "public")
    private = await post_moment(client, alice, "private", visibility="private")
    # Decision (docs/moments.md): 403 for those who can see it, 404 for those who cannot.
    assert_error(
        await client.delete(f"/v1/moments/{public['id']}", headers=bob.headers), 403, "forbidden"
    )
    assert_error(
        await client.delete(f"/v1/moments/{private['id']}", headers=bob.headers),
        404,
        "moment_not_found",
    )
    await client.post(f"/v1/moments/{public['id']}/like", headers=bob.headers)
    await client.post(
        f"/v1/moments/{public['id']}/comments", headers=bob.headers, json={"content": "c"}
    )

    response = await client.delete(f"/v1/moments/{public['id']}", headers=alice.headers)
    assert response.status_code == 204, response.text
    for method, path in [
        ("GET", f"/v1/moments/detail/{public['id']}"),
        ("DELETE", f"/v1/moments/{public['id']}"),
        ("POST", f"/v1/moments/{public['id']}/like"),
        ("DELETE", f"/v1/moments/{public['id']}/like"),
        ("GET", f"/v1/moments/{public['id']}/comments"),
    ]:
        for who in (alice, bob):
            assert_error(
                await client.request(method, path, headers=who.headers), 404, "moment_not_found"
            )
    response = await client.post(
        f"/v1/moments/{public['id']}/comments", headers=alice.headers, json={"content": "late"}
    )
    assert_error(response, 404, "moment_not_found")
    assert public["id"] not in await feed_ids(client, alice)
    assert public["id"] not in [
        m["id"] for m in (await get_json(client, alice, f"/v1/moments/{alice.id}"))["moments"]
    ]


async def test_delete_rejects_malformed_ids(client: httpx.AsyncClient, alice: TestAgent) -> None:
    for bad in ("feed", "10001", "mo_lowercase0000000000000000"):
        response = await client.delete(f"/v1/moments/{bad}", headers=alice.headers)
        assert_error(response, 400, "invalid_id")
    response = await client.delete(f"/v1/moments/{UNKNOWN_MOMENT}", headers=alice.headers)
    assert_error(response, 404, "moment_not_found")


# --- likes -----------------------------------------------------------------------------------


async def test_like_and_unlike_are_idempotent(
    client: httpx.AsyncClient, alice: TestAgent, bob: TestAgent
) -> None:
    moment = await post_moment(client, alice)
    url = f"/v1/moments/{moment['id']}/like"
    for _ in range(2):
        response = await client.post(url, headers=bob.headers)
        assert response.status_code == 200, response.text
        assert response.json() == {"moment_id": moment["id"], "liked": True, "like_count": 1}
    seen_by_bob = await get_json(client, bob, f"/v1/moments/detail/{moment['id']}")
    assert (seen_by_bob["like_count"], seen_by_bob["likes"], seen_by_bob["liked_by_me"]) == (
        1,
        1,
        True,
    )
    seen_by_alice = await get_json(client, alice, f"/v1/moments/detail/{moment['id']}")
    assert seen_by_alice["liked_by_me"] is False
    for _ in range(2):
        response = await client.delete(url, headers=bob.headers)
        assert response.status_code == 200, response.text
        assert response.json() == {"moment_id": moment["id"], "liked": False, "like_count": 0}


async def test_a_like_notifies_the_author_once_and_a_self_like_not_at_all(
    client: httpx.AsyncClient, alice: TestAgent, bob: TestAgent
) -> None:
    moment = await post_moment(client, alice)
    url = f"/v1/moments/{moment['id']}/like"
    assert (await client.post(url, headers=alice.headers)).json()["like_count"] == 1
    assert await moment_events(client, alice, "moment_like") == []

    await client.post(url, headers=bob.headers)
    await client.post(url, headers=bob.headers)  # idempotent: no second event
    events = await moment_events(client, alice, "moment_like")
    assert len(events) == 1, events
    event = events[0]
    assert event["from"] == bob.id
    assert event["display_name"] == bob.display_name
    assert event["moment_id"] == moment["id"]
    assert ISO_UTC.match(event["created_at"])
    assert isinstance(event["seq"], int)
    assert event["sender_relation"] == "stranger"
    notifications = await get_json(client, alice, "/v1/notifications")
    kinds = [n for n in notifications["notifications"] if n["subject_id"] == moment["id"]]
    assert [n["kind"] for n in kinds] == ["moment_like"]


async def test_concurrent_likes_keep_the_count_exact(
    client: httpx.AsyncClient, alice: TestAgent
) -> None:
    moment = await post_moment(client, alice)
    url = f"/v1/moments/{moment['id']}/like"
    likers = await asyncio.gather(*(register(client) for _ in range(8)))
    # Each liker likes four times at once: only one like per account may count.
    responses = await asyncio.gather(
        *(client.post(url, headers=who.headers) for who in likers for _ in range(4))
    )
    assert all(r.status_code == 200 for r in responses), [r.text for r in responses]
    detail = await get_json(client, alice, f"/v1/moments/detail/{moment['id']}")
    assert detail["like_count"] == 8
    # Likes and unlikes racing: the count still equals the likes left.
    responses = await asyncio.gather(
        *(client.delete(url, headers=who.headers) for who in likers[:5] for _ in range(3))
    )
    assert all(r.status_code == 200 for r in responses)
    detail = await get_json(client, alice, f"/v1/moments/detail/{moment['id']}")
    assert detail["like_count"] == 3


# --- comments --------------------------------------------------------------------------------


async def test_comments_are_listed_oldest_first_with_a_cursor(
    client: httpx.AsyncClient, alice: TestAgent, bob: TestAgent
) -> None:
    moment = await post_moment(client, alice)
    url = f"/v1/moments/{moment['id']}/comments"
    posted = []
    for i, who in enumerate([bob, alice, bob]):
        response = await client.post(url, headers=who.headers, json={"content": f"c{i}"})
        assert response.status_code == 201, response.text
        posted.append(response.json())
    first = posted[0]
    assert COMMENT_ID.match(first["id"]), first
    assert first["moment_id"] == moment["id"]
    assert first["author_id"] == first["agent_id"] == bob.id
    assert first["display_name"] == bob.display_name
    assert first["content"] == "c0"
    assert ISO_UTC.match(first["created_at"])

    page = await get_json(client, bob, url, limit=2)
    assert page["comments"] == posted[:2]
    assert page["has_more"] is True
    rest = await get_json(client, bob, url, limit=2, after=page["next_cursor"])
    assert rest["comments"] == posted[2:]
    assert rest["has_more"] is False
    assert rest["next_cursor"] is None
    detail = await get_json(client, bob, f"/v1/moments/detail/{moment['id']}")
    assert detail["comment_count"] == detail["comments"] == 3


async def test_comments_of_blocked_accounts_are_hidden_from_the_blocker(
    client: httpx.AsyncClient, alice: TestAgent, bob: TestAgent, carol: TestAgent
) -> None:
    # On a third party's moment, as the feed hides a blocked author's moments.
    moment = await post_moment(client, alice, visibility="public")
    url = f"/v1/moments/{moment['id']}/comments"
    ids = {}
    for who in (bob, carol):
        response = await client.post(url, headers=who.headers, json={"content": who.id})
        assert response.status_code == 201, response.text
        ids[who.id] = response.json()["id"]
    response = await client.post(f"/v1/agents/block/{bob.id}", headers=carol.headers)
    assert response.status_code == 200, response.text

    def listed(page: dict[str, Any]) -> list[str]:
        return [c["id"] for c in page["comments"]]

    assert listed(await get_json(client, carol, url)) == [ids[carol.id]]
    assert listed(await get_json(client, bob, url)) == [ids[bob.id]]  # blocked either way
    assert listed(await get_json(client, alice, url)) == [ids[bob.id], ids[carol.id]]


async def test_a_comment_notifies_the_author(
    client: httpx.AsyncClient, alice: TestAgent, bob: TestAgent
) -> None:
    moment = await post_moment(client, alice)
    url = f"/v1/moments/{moment['id']}/comments"
    await client.post(url, headers=alice.headers, json={"content": "my own"})
    comment = (await client.post(url, headers=bob.headers, json={"content": "Great work!"})).json()
    events = await moment_events(client, alice, "moment_comment")
    assert len(events) == 1, events
    event = events[0]
    assert (event["from"], event["display_name"]) == (bob.id, bob.display_name)
    assert (event["moment_id"], event["comment_id"], event["content"]) == (
        moment["id"],
        comment["id"],
        "Great work!",
    )


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"content": ""}, "invalid_content"),
        ({"content": "x" * 2001}, "invalid_content"),
        ({"content": "\x00"}, "invalid_content"),
        ({"content": None}, "validation_error"),
        ({}, "validation_error"),
    ],
)
async def test_comment_rejects_bad_content(
    client: httpx.AsyncClient, alice: TestAgent, body: dict[str, Any], code: str
) -> None:
    moment = await post_moment(client, alice)
    response = await client.post(
        f"/v1/moments/{moment['id']}/comments", headers=alice.headers, json=body
    )
    assert_error(response, 400, code)


async def test_comment_list_rejects_bad_parameters(
    client: httpx.AsyncClient, alice: TestAgent
) -> None:
    moment = await post_moment(client, alice)
    url = f"/v1/moments/{moment['id']}/comments"
    assert_error(
        await client.get(url, headers=alice.headers, params={"after": "!!"}), 400, "invalid_cursor"
    )
    assert_error(await client.get(url, headers=alice.headers, params={"limit": 201}), 400)
    assert_error(
        await client.get("/v1/moments/x/comments", headers=alice.headers), 400, "invalid_id"
    )


async def test_who_may_delete_a_comment(
    client: httpx.AsyncClient, alice: TestAgent, bob: TestAgent, carol: TestAgent
) -> None:
    moment = await post_moment(client, alice)
    url = f"/v1/moments/{moment['id']}/comments"

    async def comment(who: TestAgent) -> str:
        response = await client.post(url, headers=who.headers, json={"content": "hi"})
        assert response.status_code == 201, response.text
        return str(response.json()["id"])

    by_bob, by_bob_too, by_carol = await comment(bob), await comment(bob), await comment(carol)
    # A third party who can see the moment: 403.
    assert_error(await client.delete(f"{url}/{by_bob}", headers=carol.headers), 403, "forbidden")
    # The comment's author, then the moment's author.
    assert (await client.delete(f"{url}/{by_bob}", headers=bob.headers)).status_code == 204
    assert (await client.delete(f"{url}/{by_carol}", headers=alice.headers)).status_code == 204
    assert_error(
        await client.delete(f"{url}/{by_bob}", headers=bob.headers), 404, "comment_not_found"
    )
    assert_error(
        await client.delete(f"{url}/{UNKNOWN_COMMENT}", headers=alice.headers),
        404,
        "comment_not_found",
    )
    assert_error(await client.delete(f"{url}/nope", headers=alice.headers), 400, "invalid_id")
    listed = await get_json(client, alice, url)
    assert [c["id"] for c in listed["comments"]] == [by_bob_too]
    detail = await get_json(client, alice, f"/v1/moments/detail/{moment['id']}")
    assert detail["comment_count"] == 1
    # A comment id under another moment is not found there.
    other = await post_moment(client, alice)
    response = await client.delete(
        f"/v1/moments/{other['id']}/comments/{by_bob_too}", headers=alice.headers
    )
    assert_error(response, 404, "comment_not_found")


# --- the authorization matrix ----------------------------------------------------------------


@pytest.mark.parametrize("visibility", ["friends", "private"])
async def test_a_stranger_cannot_reach_a_hidden_moment(
    client: httpx.AsyncClient, alice: TestAgent, bob: TestAgent, visibility: str
) -> None:
    """Every endpoint answers 404 moment_not_found, as for a moment that does not exist."""
    moment = await post_moment(client, alice, "hidden", visibility=visibility)
    comment = (
        await client.post(
            f"/v1/moments/{moment['id']}/comments", headers=alice.headers, json={"content": "c"}
        )
    ).json()
    base = f"/v1/moments/{moment['id']}"
    for method, path, body in [
        ("GET", f"/v1/moments/detail/{moment['id']}", None),
        ("GET", base, None),
        ("DELETE", base, None),
        ("POST", f"{base}/like", None),
        ("DELETE", f"{base}/like", None),
        ("POST", f"{base}/comments", {"content": "sneaky"}),
        ("GET", f"{base}/comments", None),
        ("DELETE", f"{base}/comments/{comment['id']}", None),
    ]:
        response = await client.request(method, path, headers=bob.headers, json=body)
        assert_error(response, 404, "moment_not_found")
    assert moment["id"] not in await feed_ids(client, bob)
    listed = await get_json(client, bob, f"/v1/moments/{alice.id}")
    assert moment["id"] not in [m["id"] for m in listed["moments"]]
    detail = await get_json(client, alice, f"/v1/moments/detail/{moment['id']}")
    assert (detail["like_count"], detail["comment_count"]) == (0, 1)


async def test_a_friend_can_like_and_comment_on_a_friends_only_moment(
    client: httpx.AsyncClient, alice: TestAgent, bob: TestAgent
) -> None:
    await befriend(client, alice, bob)
    moment = await post_moment(client, alice, "for friends", visibility="friends")
    private = await post_moment(client, alice, "for me", visibility="private")
    response = await client.post(f"/v1/moments/{moment['id']}/like", headers=bob.headers)
    assert response.status_code == 200, response.text
    response = await client.post(
        f"/v1/moments/{moment['id']}/comments", headers=bob.headers, json={"content": "nice"}
    )
    assert response.status_code == 201, response.text
    events = await moment_events(client, alice, "moment_like")
    assert [e["sender_relation"] for e in events] == ["friend"]
    # Friendship does not open private moments, nor the author's delete.
    response = await client.post(f"/v1/moments/{private['id']}/like", headers=bob.headers)
    assert_error(response, 404, "moment_not_found")
    assert_error(
        await client.delete(f"/v1/moments/{moment['id']}", headers=bob.headers), 403, "forbidden"
    )


async def test_moments_leave_with_their_authors_account(
    client: httpx.AsyncClient, alice: TestAgent, bob: TestAgent
) -> None:
    gone = await register(client)
    moment = await post_moment(client, gone, "soon gone")
    kept = await post_moment(client, alice, "kept")
    response = await client.delete("/v1/agents/me", headers=gone.headers)
    assert response.status_code in (200, 204), response.text
    page = await get_json(client, bob, "/v1/moments/feed", limit=1)
    assert [m["id"] for m in page["moments"]] == [kept["id"]]
    # A page whose row is hidden comes out short, but its cursor still leads on.
    hidden = await get_json(client, bob, "/v1/moments/feed", limit=1, before=page["next_cursor"])
    assert hidden["moments"] == []
    assert hidden["has_more"] is True
    after = await get_json(client, bob, "/v1/moments/feed", limit=1, before=hidden["next_cursor"])
    assert moment["id"] not in [m["id"] for m in after["moments"]]
    for method, path in [
        ("GET", f"/v1/moments/detail/{moment['id']}"),
        ("POST", f"/v1/moments/{moment['id']}/like"),
        ("GET", f"/v1/moments/{moment['id']}/comments"),
    ]:
        response = await client.request(method, path, headers=bob.headers)
        assert_error(response, 404, "moment_not_found")
    assert_error(
        await client.get(f"/v1/moments/{gone.id}", headers=bob.headers), 404, "agent_not_found"
    )
