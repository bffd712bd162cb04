"""Accounts over HTTP: agent registration and profile, login, search, public profiles, online
presence, and human accounts (password + `pt_` session token)."""

from __future__ import annotations

import asyncio
import json
import random
import re
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import httpx
import pytest
from websockets.asyncio.client import connect

from tests.api.helpers import WAIT_TIMEOUT, assert_error, wait_until
from tests.conftest import register, unique_name
from tests.server import ServerProcess

if TYPE_CHECKING:
    from tests.conftest import TestAgent

PUBLIC_FIELDS = {
    "id",
    "display_name",
    "bio",
    "avatar_url",
    "capabilities",
    "user_type",
    "created_at",
}
ISO_UTC = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
PASSWORD = "correct horse battery"


def _assert_no_secrets(data: Any, *secrets: str) -> None:
    text = json.dumps(data)
    for key in ("api_key", "recovery_secret", "password", "password_hash", "key_hash", "token"):
        assert f'"{key}"' not in text, text
    for secret in secrets:
        assert secret not in text


async def _register_raw(client: httpx.AsyncClient, payload: dict[str, Any]) -> httpx.Response:
    return await client.post("/v1/agents/register", json=payload)


# --- registration ---------------------------------------------------------------------------


async def test_register_returns_credentials_once(client: httpx.AsyncClient) -> None:
    name = unique_name("reg")
    response = await _register_raw(client, {"display_name": name, "bio": "A one-line intro"})
    assert response.status_code == 201, response.text
    data = response.json()
    assert set(data) >= PUBLIC_FIELDS | {"agent_id", "api_key", "recovery_secret"}
    assert data["id"] == data["agent_id"]
    assert re.fullmatch(r"[1-9][0-9]*", data["id"]), data["id"]
    assert data["display_name"] == name
    assert data["bio"] == "A one-line intro"
    assert data["user_type"] == "agent"
    assert data["capabilities"] == []
    assert ISO_UTC.match(data["created_at"]), data["created_at"]
    assert data["api_key"].startswith("am_")
    assert len(data["api_key"]) >= 3 + 40  # 256 random bits, base64
    assert data["recovery_secret"] and data["recovery_secret"] != data["api_key"]

    headers = {"Authorization": f"Bearer {data['api_key']}"}
    me = await client.get("/v1/agents/me", headers=headers)
    assert me.status_code == 200
    assert me.json()["id"] == data["id"]
    # The key (and recovery secret) are shown once: never again, anywhere.
    for response in [
        me,
        await client.post("/v1/agents/login", headers=headers),
        await client.get(f"/v1/profile/{data['id']}"),
        await client.get(f"/v1/agents/{data['id']}"),
        await client.get("/v1/agents/search", params={"q": name}),
    ]:
        assert response.status_code == 200, response.text
        _assert_no_secrets(response.json(), data["api_key"], data["recovery_secret"])


async def test_register_gives_distinct_ids_and_keys(client: httpx.AsyncClient) -> None:
    agents = [await register(client) for _ in range(5)]
    assert len({a.id for a in agents}) == 5
    assert len({a.api_key for a in agents}) == 5
    assert len({a.recovery_secret for a in agents}) == 5


async def test_display_name_length_bounds(client: httpx.AsyncClient) -> None:
    one_char = chr(0x4E00 + random.randrange(20000))  # a CJK ideograph: 1 character
    response = await _register_raw(client, {"display_name": one_char})
    assert response.status_code == 201, response.text
    assert response.json()["display_name"] == one_char

    sixty_four = unique_name("n").ljust(64, "n")
    assert len(sixty_four) == 64
    response = await _register_raw(client, {"display_name": sixty_four})
    assert response.status_code == 201, response.text
    assert response.json()["display_name"] == sixty_four

    assert_error(await _register_raw(client, {"display_name": sixty_four + "n"}), 400)
    assert_error(await _register_raw(client, {"display_name": ""}), 400)
    assert_error(await _register_raw(client, {"display_name": " \t "}), 400)
    # 64 emoji are 64 characters (not 256 bytes): allowed.
    emoji = "🤖" * 63 + chr(0x1F600 + random.randrange(80))
    response = await _register_raw(client, {"display_name": emoji})
    assert response.status_code == 201, response.text


async def test_display_name_is_trimmed(client: httpx.AsyncClient) -> None:
    name = unique_name("trim")
    response = await _register_raw(client, {"display_name": f"  {name}  "})
    assert response.status_code == 201, response.text
    assert response.json()["display_name"] == name


@pytest.mark.parametrize(
    "variant",
    [str.upper, str.lower, str.swapcase, lambda n: n.translate({ord("a"): "ａ", ord("b"): "ｂ"})],
    ids=["upper", "lower", "swapcase", "fullwidth"],
)
async def test_display_name_unique_case_insensitively(
    client: httpx.AsyncClient, variant: Any
) -> None:
    name = "Ab-" + unique_name("uniq")
    await register(client, name)
    body = assert_error(await _register_raw(client, {"display_name": variant(name)}), 409)
    assert body["code"] == "name_taken"
    # Humans share the namespace.
    response = await client.post(
        "/v1/users/register", json={"display_name": variant(name), "password": PASSWORD}
    )
    assert_error(response, 409, "name_taken")


# Malformed input is 400 (seed 001's status table).
INVALID = 400


@pytest.mark.parametrize(
    "name",
    [
        "\u3164",  # HANGUL FILLER: looks empty
        "ad\u3164min",
        "\u115f\u1160",  # Hangul choseong/jungseong fillers
        "ab\u034fcd",  # COMBINING GRAPHEME JOINER
        "bot\U000e0041",  # a TAG character
        "\ufe0fbot",  # a variation selector with nothing to select
        "\u2800\u2800",  # BRAILLE PATTERN BLANK: a symbol that shows nothing
        "\ue000boss",  # private use
        "\u0378x",  # unassigned
        "\u0430lice",  # Cyrillic а among Latin letters
        "p\u0430yp\u0430l",
        "\u0391dmin",  # Greek Alpha among Latin letters
        "\u0410\u03b2\u0441",  # Cyrillic with Greek
    ],
    ids=repr,
)
async def test_display_name_refuses_invisible_and_mixed_script_names(
    client: httpx.AsyncClient, alice: TestAgent, name: str
) -> None:
    if name.strip("\u2800"):  # (a blank name stays blank)
        name = f"{name}{random.randrange(10**6)}"  # unique; digits mix with any script
    assert_error(await _register_raw(client, {"display_name": name}), INVALID)
    response = await client.post(
        "/v1/users/register", json={"display_name": name, "password": PASSWORD}
    )
    assert_error(response, INVALID)
    response = await client.patch(
        "/v1/agents/me", headers=alice.headers, json={"display_name": name}
    )
    assert_error(response, INVALID)
    me = (await client.get("/v1/agents/me", headers=alice.headers)).json()
    assert me["display_name"] == alice.display_name


@pytest.mark.parametrize(
    "name",
    [
        "小明bot",  # Han with Latin: the usual Chinese agent name
        "王小明",
        "山田　太郎",  # an ideographic space
        "ひらがなとカタカナと漢字abc",  # Japanese: kana, Han and Latin
        "김철수 bot",  # Korean with Latin
        "Привет",  # all Cyrillic
        "Ελένη",  # all Greek
        "สวัสดี bot",  # Thai with Latin
        "مرحبا bot",  # Arabic with Latin
        "Zoë ❤️ 🤖",  # an emoji variation selector right after its emoji
        "José Núñez",
    ],
)
async def test_display_name_keeps_real_names_of_every_script(
    client: httpx.AsyncClient, name: str
) -> None:
    name = f"{name} {random.randrange(10**9)}"
    response = await _register_raw(client, {"display_name": name})
    assert response.status_code == 201, response.text
    assert response.json()["display_name"] == name


@pytest.mark.parametrize(
    ("first", "look_alike"),
    [
        ("lily-{n}", "IiIy-{n}"),  # capital i for l
        ("modern-{n}", "rnodern-{n}"),
        ("ape-{n}", "\u0430\u0440\u0435-{n}"),  # all Cyrillic: one script, same look
        ("bob-{n}", "bob\ufe0f-{n}"),  # an invisible variation selector
        ("bob {n}", "bob  {n}"),  # two spaces for one
        ("bob-{n}", "\uff42\uff4f\uff42-{n}"),  # full-width
    ],
)
async def test_display_names_that_look_alike_are_taken(
    client: httpx.AsyncClient, alice: TestAgent, first: str, look_alike: str
) -> None:
    n = random.randrange(10**9)
    first, look_alike = first.format(n=n), look_alike.format(n=n)
    owner = await register(client, first)
    body = assert_error(await _register_raw(client, {"display_name": look_alike}), 409)
    assert body["code"] == "name_taken"
    response = await client.post(
        "/v1/users/register", json={"display_name": look_alike, "password": PASSWORD}
    )
    assert_error(response, 409, "name_taken")
    response = await client.patch(
        "/v1/agents/me", headers=alice.headers, json={"display_name": look_alike}
    )
    assert_error(response, 409, "name_taken")
    # Its holder may take the look-alike (its own name), and then the first form is free.
    response = await client.patch(
        "/v1/agents/me", headers=owner.headers, json={"display_name": look_alike}
    )
    assert response.status_code == 200, response.text
    assert (await _register_raw(client, {"display_name": first})).status_code == 409
    response = await client.patch(
        "/v1/agents/me", headers=owner.headers, json={"display_name": f"renamed-{n}"}
    )
    assert response.status_code == 200, response.text
    assert (await _register_raw(client, {"display_name": first})).status_code == 201


# --- /v1/agents/me --------------------------------------------------------------------------


async def test_get_me(client: httpx.AsyncClient) -> None:
    agent = await register(client, bio="my bio")
    response = await client.get("/v1/agents/me", headers=agent.headers)
    assert response.status_code == 200
    data = response.json()
    assert set(data) >= PUBLIC_FIELDS | {"status", "online"}
    assert (data["id"], data["display_name"], data["bio"]) == (
        agent.id,
        agent.display_name,
        "my bio",
    )
    assert data["user_type"] == "agent"
    assert data["online"] is False
    assert data["status"] == "offline"
    _assert_no_secrets(data, agent.api_key, agent.recovery_secret)


async def test_patch_me_updates_and_persists(client: httpx.AsyncClient, alice: TestAgent) -> None:
    new_name = unique_name("renamed")
    changes = {
        "display_name": new_name,
        "bio": "line one\nline two ✓",
        "avatar_url": "https://example.com/a.png",
        "capabilities": ["code-review", "translate"],
    }
    response = await client.patch("/v1/agents/me", headers=alice.headers, json=changes)
    assert response.status_code == 200, response.text
    for view in (
        response.json(),
        (await client.get("/v1/agents/me", headers=alice.headers)).json(),
    ):
        assert view["id"] == alice.id
        assert {k: view[k] for k in changes} == changes

    # A partial PATCH changes only what it names; {} changes nothing.
    response = await client.patch("/v1/agents/me", headers=alice.headers, json={"bio": ""})
    assert response.status_code == 200
    assert response.json()["bio"] == ""
    assert response.json()["display_name"] == new_name
    response = await client.patch("/v1/agents/me", headers=alice.headers, json={})
    assert response.status_code == 200
    assert response.json()["capabilities"] == ["code-review", "translate"]

    # The old name is free again; the public profile shows the new one.
    await register(client, alice.display_name)
    profile = (await client.get(f"/v1/profile/{alice.id}")).json()
    assert profile["display_name"] == new_name


async def test_patch_me_name_rules(
    client: httpx.AsyncClient, alice: TestAgent, bob: TestAgent
) -> None:
    # Re-casing one's own name is not a conflict with oneself.
    response = await client.patch(
        "/v1/agents/me", headers=alice.headers, json={"display_name": alice.display_name.upper()}
    )
    assert response.status_code == 200, response.text
    assert response.json()["display_name"] == alice.display_name.upper()
    response = await client.patch(
        "/v1/agents/me", headers=alice.headers, json={"display_name": bob.display_name.title()}
    )
    assert_error(response, 409, "name_taken")
    me = (await client.get("/v1/agents/me", headers=alice.headers)).json()
    assert me["display_name"] == alice.display_name.upper()


async def test_delete_me(client: httpx.AsyncClient, alice: TestAgent) -> None:
    response = await client.delete("/v1/agents/me", headers=alice.headers)
    assert response.status_code == 204
    assert_error(await client.get("/v1/agents/me", headers=alice.headers), 401)
    assert_error(await client.get(f"/v1/agents/{alice.id}"), 404, "agent_not_found")
    response = await client.get("/v1/agents/search", params={"q": alice.display_name})
    assert response.json()["agents"] == []
    # Ids are never reused.
    again = await register(client, alice.display_name)
    assert again.id != alice.id


# --- login ----------------------------------------------------------------------------------


@pytest.mark.parametrize("how", ["x-api-key", "bearer", "both"])
async def test_login(client: httpx.AsyncClient, alice: TestAgent, how: str) -> None:
    headers = {
        "x-api-key": {"X-API-Key": alice.api_key},
        "bearer": alice.headers,
        "both": {**alice.headers, "X-API-Key": alice.api_key, "Content-Type": "application/json"},
    }[how]
    response = await client.post("/v1/agents/login", headers=headers)
    assert response.status_code == 200, response.text
    data = response.json()
    assert set(data) >= PUBLIC_FIELDS
    assert (data["id"], data["display_name"]) == (alice.id, alice.display_name)
    _assert_no_secrets(data, alice.api_key)


async def test_login_rejects_bad_keys(client: httpx.AsyncClient, alice: TestAgent) -> None:
    assert_error(await client.post("/v1/agents/login"), 401, "unauthenticated")
    response = await client.post("/v1/agents/login", headers={"X-API-Key": alice.api_key + "x"})
    assert_error(response, 401, "invalid_credentials")


# --- search, public profiles -----------------------------------------------------------------


async def test_search_is_public_and_has_the_documented_shape(
    client: httpx.AsyncClient, alice: TestAgent
) -> None:
    tag = unique_name("srch")
    mine = await register(client, f"{tag}-Reviewer", bio="I review code")
    await register(client, f"{tag}-other", bio="unrelated")

    for headers in ({}, alice.headers, {"Authorization": "Bearer am_not_a_key"}):
        response = await client.get(
            "/v1/agents/search", params={"q": f"{tag}-rev"}, headers=headers
        )
        assert response.status_code == 200, response.text
        data = response.json()
        assert data["count"] == 1
        [item] = data["agents"]
        assert set(item) >= PUBLIC_FIELDS | {"status", "online"}
        assert (item["id"], item["display_name"], item["bio"]) == (
            mine.id,
            mine.display_name,
            "I review code",
        )
        _assert_no_secrets(item, mine.api_key)


async def test_search_matches_case_insensitively_in_name_and_bio(
    client: httpx.AsyncClient,
) -> None:
    tag = unique_name("findme")
    by_name = await register(client, f"{tag}-Name")
    by_bio = await register(client, unique_name("x"), bio=f"ask me, {tag.upper()} expert")
    response = await client.get("/v1/agents/search", params={"q": tag.lower()})
    assert {a["id"] for a in response.json()["agents"]} == {by_name.id, by_bio.id}

    response = await client.get("/v1/agents/search", params={"q": tag, "limit": 1})
    assert response.json()["count"] == 1
    assert len(response.json()["agents"]) == 1


async def test_search_finds_non_ascii_names(client: httpx.AsyncClient) -> None:
    tag = unique_name("u")
    agent = await register(client, f"名前\u3000テスト 🤖 {tag}")
    for q in ("前\u3000テ", f"🤖 {tag}", f"テスト 🤖 {tag.upper()}"):
        response = await client.get("/v1/agents/search", params={"q": q})
        assert response.status_code == 200, response.text
        assert [a["id"] for a in response.json()["agents"]] == [agent.id], q


@pytest.mark.parametrize("wildcard", ["%", "_"])
async def test_search_treats_sql_wildcards_literally(
    client: httpx.AsyncClient, wildcard: str
) -> None:
    tag = unique_name("wild")
    literal = await register(client, f"{tag}{wildcard}x")
    await register(client, f"{tag}ax")
    response = await client.get("/v1/agents/search", params={"q": f"{tag}{wildcard}"})
    assert [a["id"] for a in response.json()["agents"]] == [literal.id]


async def test_public_profile_and_agent_by_id(client: httpx.AsyncClient, alice: TestAgent) -> None:
    for path in (f"/v1/profile/{alice.id}", f"/v1/agents/{alice.id}"):
        for headers in ({}, alice.headers):
            response = await client.get(path, headers=headers)
            assert response.status_code == 200, response.text
            data = response.json()
            assert set(data) >= PUBLIC_FIELDS
            assert (data["id"], data["display_name"]) == (alice.id, alice.display_name)
            _assert_no_secrets(data, alice.api_key)
    assert_error(await client.get("/v1/profile/999999999"), 404, "agent_not_found")
    assert_error(await client.get("/v1/agents/999999999"), 404, "agent_not_found")


# --- online ---------------------------------------------------------------------------------


async def _online(client: httpx.AsyncClient, viewer: TestAgent) -> dict[str, Any]:
    response = await client.get("/v1/agents/online", headers=viewer.headers)
    assert response.status_code == 200, response.text
    data: dict[str, Any] = response.json()
    assert data["count"] == data["online"] == len(data["agents"])
    return data


async def test_agent_with_open_websocket_counts_as_online(
    client: httpx.AsyncClient, server: ServerProcess, alice: TestAgent, bob: TestAgent
) -> None:
    assert_error(await client.get("/v1/agents/online"), 401)
    before = await _online(client, alice)
    assert bob.id not in before["agents"]

    async with connect(
        server.ws_url, additional_headers={"Authorization": f"Bearer {bob.api_key}"}, proxy=None
    ) as ws:
        # The server sends its first frame once the connection is registered.
        first = json.loads(await asyncio.wait_for(ws.recv(), WAIT_TIMEOUT))
        assert first["type"] == "notifications"
        during = await _online(client, alice)
        assert bob.id in during["agents"]
        assert alice.id not in during["agents"]
        assert during["count"] >= 1
        profile = (await client.get(f"/v1/agents/{bob.id}")).json()
        assert (profile["status"], profile["online"]) == ("online", True)
        # Opting out of discovery takes bob off the list (a lookup by id still answers).
        hidden = await client.put(
            "/v1/agents/settings", headers=bob.headers, json={"discoverable": False}
        )
        assert hidden.status_code == 200, hidden.text
        assert bob.id not in (await _online(client, alice))["agents"]
        await client.put("/v1/agents/settings", headers=bob.headers, json={"discoverable": True})
        assert bob.id in (await _online(client, alice))["agents"]

    async def bob_offline() -> bool:
        return bob.id not in (await _online(client, alice))["agents"]

    await wait_until(bob_offline, what="bob to go offline after closing the WebSocket")
    profile = (await client.get(f"/v1/agents/{bob.id}")).json()
    assert (profile["status"], profile["online"]) == ("offline", False)


# --- humans ---------------------------------------------------------------------------------


async def test_human_register_and_login(client: httpx.AsyncClient) -> None:
    name = unique_name("Human")
    response = await client.post(
        "/v1/users/register", json={"display_name": name, "password": PASSWORD, "bio": "hi"}
    )
    assert response.status_code == 201, response.text
    data = response.json()
    assert re.fullmatch(r"P[1-9][0-9]*", data["id"]), data["id"]
    assert (data["display_name"], data["bio"], data["user_type"]) == (name, "hi", "human")
    assert data["token"].startswith("pt_")
    expires = datetime.fromisoformat(data["expires_at"].replace("Z", "+00:00"))
    assert expires > datetime.now(UTC)
    assert PASSWORD not in response.text
    assert "password" not in data

    logins = []
    for payload in (
        {"display_name": name, "password": PASSWORD},
        {"display_name": name.upper(), "password": PASSWORD},
        {"id": data["id"], "password": PASSWORD},
        # Seed 001: humans "log in with username and password".
        {"username": name, "password": PASSWORD},
    ):
        response = await client.post("/v1/users/login", json=payload)
        assert response.status_code == 200, (payload, response.text)
        login = response.json()
        assert login["id"] == data["id"]
        assert login["token"].startswith("pt_")
        assert PASSWORD not in response.text
        logins.append(login["token"])
    assert len({data["token"], *logins}) == 5  # a fresh session each time

    me = await client.get("/v1/agents/me", headers={"Authorization": f"Bearer {logins[0]}"})
    assert me.status_code == 200
    assert (me.json()["id"], me.json()["user_type"]) == (data["id"], "human")


async def test_human_wrong_password_is_401_without_telling_which_part(
    client: httpx.AsyncClient,
) -> None:
    name = unique_name("Human")
    response = await client.post(
        "/v1/users/register", json={"display_name": name, "password": PASSWORD}
    )
    assert response.status_code == 201
    human_id = response.json()["id"]
    wrong = [
        {"display_name": name, "password": PASSWORD + "!"},
        {"display_name": name, "password": PASSWORD.upper()},
        {"id": human_id, "password": "not the password"},
        {"username": name, "password": PASSWORD + "!"},
    ]
    unknown = {"display_name": unique_name("nobody"), "password": PASSWORD}
    details = set()
    for payload in [*wrong, unknown]:
        body = assert_error(await client.post("/v1/users/login", json=payload), 401)
        assert body["code"] == "invalid_credentials"
        details.add(body["detail"])
    assert len(details) == 1


async def test_human_password_length_rules(client: httpx.AsyncClient) -> None:
    short = {"display_name": unique_name("h"), "password": "1234567"}
    assert_error(await client.post("/v1/users/register", json=short), 400, "validation_error")
    eight = {"display_name": unique_name("h"), "password": "12345678"}
    assert (await client.post("/v1/users/register", json=eight)).status_code == 201
