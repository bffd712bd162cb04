"""/ai (seeds/000): the documented calls replayed against a real server, with the documented
statuses, fields and types; the error shape, statuses and rate limits of the dialect."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import httpx
import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from tests.conftest import register, unique_name
from tests.server import ServerProcess

if TYPE_CHECKING:  # imported at run time pytest would try to collect it as a test class
    from tests.conftest import TestAgent

GROUP_UNKNOWN = "00000000-0000-4000-8000-000000000000"


def ai_error(response: httpx.Response, status: int, code: str | None = None) -> dict[str, Any]:
    """The /ai error shape: `{"error": str}` (seed), plus `detail` and `code` (native)."""
    assert response.status_code == status, (status, response.status_code, response.text)
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert isinstance(body, dict), body
    assert isinstance(body.get("error"), str) and body["error"], body
    assert isinstance(body.get("detail"), str) and body["detail"], body
    assert isinstance(body.get("code"), str) and body["code"], body
    if code is not None:
        assert body["code"] == code, body
    return body


# --- the seed's documented calls -----------------------------------------------------------


async def test_health(client: httpx.AsyncClient) -> None:
    # curl -X GET https://aiclient.top/ai/health
    response = await client.get("/ai/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "service": "AI Agent API"}


async def test_me(client: httpx.AsyncClient, alice: TestAgent) -> None:
    # curl -X GET https://aiclient.top/ai/me -H "Authorization: Bearer YOUR_API_KEY"
    response = await client.get("/ai/me", headers=alice.headers)
    assert response.status_code == 200, response.text
    data = response.json()
    assert data["message"] == "AI Agent API 连接成功"
    agent = data["aiAgent"]
    assert agent["id"] == alice.id and isinstance(agent["id"], str)
    assert agent["name"] == alice.display_name
    assert agent["status"] == "active"
    assert "public_key" not in agent  # only once one is registered


async def test_send_and_receive(
    client: httpx.AsyncClient, alice: TestAgent, bob: TestAgent
) -> None:
    # curl -X POST https://aiclient.top/ai/messages -d '{"toAiId": "目标AI的ID", …}'
    response = await client.post(
        "/ai/messages", headers=alice.headers, json={"toAiId": bob.id, "content": "你好!"}
    )
    assert response.status_code == 200, response.text
    sent = response.json()
    assert sent["success"] is True
    assert sent["message"]["content"] == "你好!"
    assert sent["message"]["from_ai_id"] == alice.id
    assert sent["message"]["to_ai_id"] == bob.id
    assert "X-RateLimit-Limit" not in response.headers  # limits are off on this server

    # curl -X GET https://aiclient.top/ai/messages
    response = await client.get("/ai/messages", headers=bob.headers)
    assert response.status_code == 200, response.text
    [message] = response.json()["messages"]
    assert message["id"] == sent["message"]["id"]
    assert message["from_ai_id"] == alice.id
    assert message["content"] == "你好!"
    assert isinstance(message["timestamp"], int)
    assert abs(message["timestamp"] - time.time()) < 600
    assert message["from_ai"] == {"id": alice.id, "name": alice.display_name, "public_key": None}
    assert "signature" not in message

    # The same message on /v1: one account, one inbox.
    native = await client.get("/v1/messages/pending", headers=bob.headers)
    assert [m["id"] for m in native.json()] == [message["id"]]


async def test_signed_send_as_documented(
    client: httpx.AsyncClient, alice: TestAgent, bob: TestAgent
) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    pem = (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    registered = await client.put(
        "/v1/agents/me/public-key", headers=alice.headers, json={"public_key": pem}
    )
    assert registered.status_code == 200, registered.text
    # "AI 的公钥在获取 AI 信息时返回"
    me = (await client.get("/ai/me", headers=alice.headers)).json()
    assert me["aiAgent"]["public_key"] == pem
    assert me["aiAgent"]["public_key"].startswith("-----BEGIN PUBLIC KEY-----\n")

    signature = key.sign("你好!".encode(), ec.ECDSA(hashes.SHA256())).hex()
    assert signature.startswith("30")  # "30440220...": hex DER, as the seed shows
    response = await client.post(
        "/ai/messages",
        headers=alice.headers,
        json={"toAiId": bob.id, "content": "你好!", "signature": signature},
    )
    assert response.status_code == 200, response.text
    [message] = (await client.get("/ai/messages", headers=bob.headers)).json()["messages"]
    assert message["signature"] == signature
    assert message["from_ai"] == {"id": alice.id, "name": alice.display_name, "public_key": pem}
    # "可用发送方公钥验证"
    loaded = serialization.load_pem_public_key(message["from_ai"]["public_key"].encode())
    assert isinstance(loaded, ec.EllipticCurvePublicKey)
    loaded.verify(
        bytes.fromhex(message["signature"]), b"\xe4\xbd\xa0\xe5\xa5\xbd!", ec.ECDSA(hashes.SHA256())
    )

    bad = await client.post(
        "/ai/messages",
        headers=alice.headers,
        json={"toAiId": bob.id, "content": "你好?", "signature": signature},
    )
    ai_error(bad, 400, "invalid_signature")


async def test_friends(client: httpx.AsyncClient, alice: TestAgent, bob: TestAgent) -> None:
    # curl -X GET https://aiclient.top/ai/friends
    assert (await client.get("/ai/friends", headers=alice.headers)).json()["friends"] == []
    request = await client.post(
        "/v1/friends/request", headers=alice.headers, json={"agent_id": bob.id}
    )
    assert request.status_code in (200, 201), request.text
    accept = await client.post(
        "/v1/friends/accept", headers=bob.headers, json={"agent_id": alice.id}
    )
    assert accept.status_code in (200, 201), accept.text
    response = await client.get("/ai/friends", headers=alice.headers)
    assert response.status_code == 200, response.text
    [friend] = response.json()["friends"]
    assert friend["id"] == bob.id
    assert friend["name"] == bob.display_name
    assert friend["status"] == "active"


async def test_groups_as_documented(
    client: httpx.AsyncClient, alice: TestAgent, bob: TestAgent
) -> None:
    # curl -X POST https://aiclient.top/ai/groups
    #   -d '{"name": "投资讨论群", "description": "AI 投资者交流群"}'
    name = "投资讨论群 " + unique_name("g")[-6:]
    response = await client.post(
        "/ai/groups", headers=alice.headers, json={"name": name, "description": "AI 投资者交流群"}
    )
    assert response.status_code == 200, response.text
    group = response.json()["group"]
    assert group["name"] == name
    assert group["description"] == "AI 投资者交流群"
    assert group["is_public"] is True
    group_id = group["id"]

    # The Python example: json={"name": "测试群"} (no description).
    response = await client.post("/ai/groups", headers=bob.headers, json={"name": "测试群"})
    assert response.status_code == 200, response.text

    # curl -X POST https://aiclient.top/ai/groups/GROUP_ID/join
    response = await client.post(f"/ai/groups/{group_id}/join", headers=bob.headers)
    assert response.status_code == 200, response.text
    assert response.json()["group"]["member_count"] == 2

    # 获取当前 AI 所在的所有群聊
    mine = (await client.get("/ai/groups", headers=bob.headers)).json()["groups"]
    assert {g["id"] for g in mine} >= {group_id}
    assert len(mine) == 2

    # curl -X POST https://aiclient.top/ai/groups/GROUP_ID/messages -d '{"content": "大家好!"}'
    for text in ("大家好!", "second"):
        response = await client.post(
            f"/ai/groups/{group_id}/messages", headers=bob.headers, json={"content": text}
        )
        assert response.status_code == 200, response.text
        assert response.json()["message"]["group_id"] == group_id

    # curl -X GET "https://aiclient.top/ai/groups/GROUP_ID/messages?limit=50"
    response = await client.get(
        f"/ai/groups/{group_id}/messages", headers=alice.headers, params={"limit": 50}
    )
    assert response.status_code == 200, response.text
    messages = response.json()["messages"]
    assert [m["content"] for m in messages] == ["大家好!", "second"]
    assert messages[0]["from_ai"]["name"] == bob.display_name
    assert isinstance(messages[0]["timestamp"], int)
    one = await client.get(
        f"/ai/groups/{group_id}/messages", headers=alice.headers, params={"limit": 1}
    )
    assert [m["content"] for m in one.json()["messages"]] == ["second"]
    # Group messages reach the members' inboxes, so /ai/messages lists them too.
    received = (await client.get("/ai/messages", headers=alice.headers)).json()["messages"]
    assert [m.get("group_id") for m in received] == [group_id, group_id]


async def test_python_example(client: httpx.AsyncClient, alice: TestAgent, bob: TestAgent) -> None:
    """The seed's `requests` snippet, with httpx against this server."""
    base_url = "/ai"
    headers = {"Authorization": f"Bearer {alice.api_key}"}
    me = await client.get(f"{base_url}/me", headers=headers)
    assert me.json()["aiAgent"]["id"] == alice.id
    sent = await client.post(
        f"{base_url}/messages", headers=headers, json={"toAiId": bob.id, "content": "你好!"}
    )
    assert sent.status_code == 200
    created = await client.post(f"{base_url}/groups", headers=headers, json={"name": "测试群"})
    assert created.status_code == 200


async def test_webhook(client: httpx.AsyncClient, alice: TestAgent) -> None:
    # POST https://aiclient.top/ai/webhook {"webhook_url": "https://your-server.com/callback"}
    assert (await client.get("/ai/webhook", headers=alice.headers)).json() == {"webhook_url": None}
    # A public address literal: the shared server refuses private ones and may lack DNS.
    # Alice receives nothing in this test, so nothing is ever delivered there.
    url = "https://1.1.1.1/ai-callback"
    response = await client.post("/ai/webhook", headers=alice.headers, json={"webhook_url": url})
    assert response.status_code == 200, response.text
    registered = response.json()
    assert registered["success"] is True
    assert registered["webhook_url"] == url
    assert isinstance(registered["secret"], str) and registered["secret"]
    response = await client.get("/ai/webhook", headers=alice.headers)
    assert response.status_code == 200, response.text
    assert response.json()["webhook_url"] == url
    assert "secret" not in response.json()
    # The same registration as /v1/agents/me/webhook.
    native = await client.get("/v1/agents/me/webhook", headers=alice.headers)
    assert native.status_code == 200, native.text
    refused = await client.post(
        "/ai/webhook", headers=alice.headers, json={"webhook_url": "http://127.0.0.1/x"}
    )
    ai_error(refused, 400)
    ai_error(await client.post("/ai/webhook", headers=alice.headers, json={}), 400)


# --- errors ----------------------------------------------------------------------------------


async def test_errors(client: httpx.AsyncClient, alice: TestAgent, bob: TestAgent) -> None:
    ai_error(await client.post("/ai/messages", headers=alice.headers, json={"content": "x"}), 400)
    ai_error(await client.post("/ai/messages", headers=alice.headers, json={"toAiId": bob.id}), 400)
    ai_error(
        await client.post(
            "/ai/messages", headers=alice.headers, json={"toAiId": bob.id, "content": ""}
        ),
        400,
        "invalid_content",
    )
    ai_error(
        await client.post(
            "/ai/messages",
            headers={**alice.headers, "Content-Type": "application/json"},
            content=b'{"toAiId": ',
        ),
        400,
        "invalid_json",
    )
    ai_error(
        await client.post(
            "/ai/messages", headers=alice.headers, json={"toAiId": "99999999", "content": "x"}
        ),
        404,
        "agent_not_found",
    )
    ai_error(await client.get("/ai/me"), 401, "unauthenticated")
    ai_error(
        await client.get("/ai/me", headers={"Authorization": "Bearer YOUR_API_KEY"}),
        401,
        "invalid_credentials",
    )
    ai_error(await client.post(f"/ai/groups/{GROUP_UNKNOWN}/join", headers=alice.headers), 404)
    ai_error(await client.get(f"/ai/groups/{GROUP_UNKNOWN}/messages", headers=alice.headers), 404)
    ai_error(await client.get("/ai/nope", headers=alice.headers), 404, "not_found")
    ai_error(
        await client.get("/ai/messages", headers=alice.headers, params={"limit": 0}),
        400,
        "validation_error",
    )
    # A private group of someone else: not visible.
    private = await client.post("/v1/groups", headers=bob.headers, json={"name": unique_name("p")})
    ai_error(
        await client.post(f"/ai/groups/{private.json()['id']}/join", headers=alice.headers), 404
    )
    # A non-member may not read a public group's history.
    public = await client.post("/ai/groups", headers=bob.headers, json={"name": unique_name("o")})
    group_id = public.json()["group"]["id"]
    response = await client.get(f"/ai/groups/{group_id}/messages", headers=alice.headers)
    assert response.status_code in (403, 404), response.text
    ai_error(response, response.status_code)


async def test_native_errors_keep_their_shape(client: httpx.AsyncClient, alice: TestAgent) -> None:
    response = await client.post("/v1/messages", headers=alice.headers, json={"content": "x"})
    assert response.status_code == 400
    assert "error" not in response.json()


# --- rate limits -----------------------------------------------------------------------------


async def test_send_rate_limit(server_factory: Callable[..., ServerProcess]) -> None:
    srv = server_factory(env={"AGENTPLAZA_RATE_LIMITS_ENABLED": "1"})
    async with httpx.AsyncClient(base_url=srv.url, timeout=30) as http:
        alice = await register(http, unique_name("rl-a"))
        bob = await register(http, unique_name("rl-b"))
        statuses = []
        last: httpx.Response | None = None
        for n in range(40):
            last = await http.post(
                "/ai/messages",
                headers=alice.headers,
                json={"toAiId": bob.id, "content": f"m{n}"},
            )
            statuses.append(last.status_code)
            if last.status_code == 429:
                break
            if n == 0:
                assert last.headers["X-RateLimit-Limit"] == "30"
                assert last.headers["X-RateLimit-Remaining"] == "29"
                reset = int(last.headers["X-RateLimit-Reset"])
                assert time.time() - 5 < reset < time.time() + 120  # a unix timestamp
        # 30 at once, then one more per 2 s: a slow run may squeeze in an extra one or two.
        assert statuses[:30] == [200] * 30, statuses
        assert statuses[-1] == 429 and len(statuses) <= 34, statuses
        assert last is not None
        body = ai_error(last, 429, "rate_limited")
        assert body["error"] == "请求过于频繁,请稍后再试"
        assert isinstance(body["retry_after"], int) and body["retry_after"] >= 1
        assert last.headers["Retry-After"] == str(body["retry_after"])
        assert last.headers["X-RateLimit-Limit"] == "30"
        assert last.headers["X-RateLimit-Remaining"] == "0"
        assert int(last.headers["X-RateLimit-Reset"]) >= int(time.time())
        # Reads are not sends: still allowed, with the global limit's headers.
        me = await http.get("/ai/me", headers=alice.headers)
        assert me.status_code == 200
        assert me.headers["X-RateLimit-Limit"] == "100"


@pytest.mark.parametrize("authenticated", [True, False], ids=["per-key", "per-ip"])
async def test_global_rate_limit(
    server_factory: Callable[..., ServerProcess], authenticated: bool
) -> None:
    srv = server_factory(env={"AGENTPLAZA_RATE_LIMITS_ENABLED": "1"})
    async with httpx.AsyncClient(base_url=srv.url, timeout=30) as http:
        agent = await register(http, unique_name("rl"))
        headers = agent.headers if authenticated else {}
        path = "/ai/me" if authenticated else "/ai/health"
        # A token bucket refills while the burst runs (one per 0.6 s): allow a few extra.
        ok = 0
        last = await http.get(path, headers=headers)
        while last.status_code == 200 and ok < 120:
            ok += 1
            last = await http.get(path, headers=headers)
        assert 100 <= ok < 120, ok
        body = ai_error(last, 429, "rate_limited")
        assert body["error"] == "请求过于频繁,请稍后再试"
        assert last.headers["X-RateLimit-Limit"] == "100"
        # /v1 is not under the /ai budget.
        assert (await http.get("/v1/agents/me", headers=agent.headers)).status_code == 200
