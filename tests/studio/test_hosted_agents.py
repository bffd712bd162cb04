"""/studio/api/agents and hosted agents' replies against a real server, on both backends.

The only fake is the model (tests/llmfake.py). A /v1 agent talks to a hosted agent the way it
talks to anyone: its DM goes through POST /v1/messages and the answer comes back in its normal
stream (/v1/messages/sync), with nothing special.
"""

from __future__ import annotations

import asyncio
import json

import httpx
import pytest

from tests.api.helpers import wait_until
from tests.conftest import register
from tests.llmfake import Call, FakeLLM, Reply
from tests.realtime.test_websocket import open_ws
from tests.server import ServerProcess
from tests.studio.conftest import Human, register_human
from tests.studio.hosted_helpers import (
    REPLY_WAIT_SECS,
    agent_view,
    dm,
    make_agent,
    make_provider,
    replies_from,
    wait_replies,
)
from tests.studio.test_auth import assert_studio_error


async def test_crud_and_authorization(
    studio: httpx.AsyncClient, owner: Human, stranger: Human, fake_llm: FakeLLM
) -> None:
    provider = await make_provider(studio, owner, fake_llm)
    created = await make_agent(
        studio,
        owner,
        provider,
        system_prompt="Be brief.",
        tools=["calculator"],
        dm_policy="friends",
        group_policy="active",
        stranger_limit=3,
        agent_type="autonomous",
        daily_token_budget=5000,
    )
    agent_id = created["id"]
    assert created["account_id"] == agent_id and created["owner_id"] == owner.id
    assert created["tools"] == ["calculator"] and created["dm_policy"] == "friends"
    assert created["usage_today"]["tokens"] == 0 and created["budget_exhausted"] is False
    assert "api_key" not in created
    # The agent is a plaza account like any other.
    profile = await studio.get(f"/v1/agents/{agent_id}")
    assert profile.status_code == 200
    assert profile.json()["display_name"] == created["name"] and created["name"].startswith("Ada")

    listed = await studio.get("/studio/api/agents/", headers=owner.headers)
    assert [a["id"] for a in listed.json()["data"]["items"]] == [agent_id]
    updated = await studio.put(
        f"/studio/api/agents/{agent_id}",
        headers=owner.headers,
        json={
            "name": created["name"] + "2",
            "temperature": 0.2,
            "trust_overrides": {"10001": "blocked"},
        },
    )
    assert updated.status_code == 200, updated.text
    data = updated.json()["data"]
    assert data["name"] == created["name"] + "2" and data["temperature"] == 0.2
    assert data["trust_overrides"] == {"10001": "blocked"} and data["tools"] == ["calculator"]

    # Nobody else reads, changes, deletes or sees it; nor uses another's provider.
    url = f"/studio/api/agents/{agent_id}"
    for method in ("GET", "PUT", "DELETE"):
        r = await studio.request(method, url, headers=stranger.headers, json={})
        assert r.status_code == 404, r.text
        assert r.json() == {"success": False, "error": r.json()["error"], "code": 404}
    r = await studio.get(url + "/usage", headers=stranger.headers)
    assert r.status_code == 404
    listed = await studio.get("/studio/api/agents/", headers=stranger.headers)
    assert listed.json()["data"]["items"] == []
    r = await studio.post(
        "/studio/api/agents/",
        headers=stranger.headers,
        json={"name": "thief", "provider_id": provider, "model": "m"},
    )
    assert r.status_code == 404, r.text
    r = await studio.put(url, headers=owner.headers, json={"provider_id": "prov_" + "x" * 20})
    assert r.status_code == 404, r.text
    assert (await studio.get(url)).status_code == 401

    # Bad input: 400 in the /studio error shape, never 500.
    for bad in (
        {"name": "", "provider_id": provider, "model": "m"},
        {"name": "x", "provider_id": provider, "model": "m", "temperature": 9},
        {"name": "x", "provider_id": provider, "model": "m", "tools": ["no_such_tool"]},
        {"name": "x", "provider_id": provider, "model": "m", "dm_policy": "nobody"},
        {"name": "x", "provider_id": provider, "model": "m", "trust_overrides": {"x!": "trusted"}},
        {"name": "x", "provider_id": provider, "model": "m", "trust_overrides": {"1": "meh"}},
        {"name": "x", "provider_id": provider},
    ):
        r = await studio.post("/studio/api/agents/", headers=owner.headers, json=bad)
        assert r.status_code == 400, (bad, r.text)
        assert r.json()["success"] is False and r.json()["code"] == 400

    deleted = await studio.delete(url, headers=owner.headers)
    assert deleted.status_code == 200
    assert (await studio.get(url, headers=owner.headers)).status_code == 404
    assert (await studio.get(f"/v1/agents/{agent_id}")).status_code == 404


async def test_dm_is_answered_with_memory_usage_and_cost(
    studio: httpx.AsyncClient, owner: Human, fake_llm: FakeLLM
) -> None:
    provider = await make_provider(
        studio, owner, fake_llm, prices={"fake-small": {"input": 2.0, "output": 10.0}}
    )
    agent = await make_agent(studio, owner, provider, system_prompt="Answer in French.")
    alice = await register(studio)
    fake_llm.script(
        Reply(text="Bonjour Alice", input_tokens=100, output_tokens=20),
        Reply(text="Ça va bien", input_tokens=150, output_tokens=30),
    )
    first = await dm(studio, alice, agent["id"], "hello")
    [reply] = await wait_replies(studio, alice, agent["id"], 1)
    assert reply["content"]["body"] == "Bonjour Alice" and reply["reply_to"] == first
    await dm(studio, alice, agent["id"], "how are you?")
    replies = await wait_replies(studio, alice, agent["id"], 2)
    assert replies[1]["content"]["body"] == "Ça va bien"

    # The model saw the system prompt (with the agent's name) and the thread so far.
    request = fake_llm.chat_requests[-1].body
    system = request["messages"][0]
    assert system["role"] == "system" and "Ada" in system["content"]
    assert "Answer in French." in system["content"]
    turns = [(m["role"], m["content"]) for m in request["messages"][1:]]
    assert turns == [
        ("user", "hello"),
        ("assistant", "Bonjour Alice"),
        ("user", "how are you?"),
    ]

    view = await agent_view(studio, owner, agent["id"])
    usage = view["usage_today"]
    assert (usage["input_tokens"], usage["output_tokens"], usage["replies"]) == (250, 50, 2)
    assert usage["cost_usd"] == pytest.approx((250 * 2.0 + 50 * 10.0) / 1e6)
    series = await studio.get(
        f"/studio/api/agents/{agent['id']}/usage", headers=owner.headers, params={"days": 7}
    )
    days = series.json()["data"]["days"]
    assert len(days) == 7 and days[-1]["tokens"] == 300 and days[0]["tokens"] == 0
    bad = await studio.get(
        f"/studio/api/agents/{agent['id']}/usage", headers=owner.headers, params={"days": 0}
    )
    assert bad.status_code == 400


async def test_friends_only_trust_overrides_and_stranger_limit(
    studio: httpx.AsyncClient, owner: Human, fake_llm: FakeLLM
) -> None:
    fake_llm.default = lambda request: Reply(text="ok")
    provider = await make_provider(studio, owner, fake_llm)
    trusted, blocked, stranger = [await register(studio) for _ in range(3)]
    friends_only = await make_agent(
        studio,
        owner,
        provider,
        dm_policy="friends",
        trust_overrides={trusted.id: "trusted", blocked.id: "blocked"},
    )
    limited = await make_agent(studio, owner, provider, name="Lim", stranger_limit=1)

    # Items are answered in order: once the later DM is answered, the earlier were decided.
    await dm(studio, stranger, friends_only["id"], "hi")
    await dm(studio, blocked, friends_only["id"], "hi")
    await dm(studio, trusted, friends_only["id"], "hi")
    await wait_replies(studio, trusted, friends_only["id"], 1)
    assert await replies_from(studio, stranger, friends_only["id"]) == []
    assert await replies_from(studio, blocked, friends_only["id"]) == []

    for n in range(3):
        await dm(studio, stranger, limited["id"], f"again {n}")
    await dm(studio, trusted, limited["id"], "probe")
    await wait_replies(studio, trusted, limited["id"], 1)
    assert len(await replies_from(studio, stranger, limited["id"])) == 1
    assert len(fake_llm.chat_requests) == 3


async def test_group_policies(studio: httpx.AsyncClient, owner: Human, fake_llm: FakeLLM) -> None:
    fake_llm.default = lambda request: Reply(text="noted")
    provider = await make_provider(studio, owner, fake_llm)
    mention = await make_agent(studio, owner, provider, name="Men", group_policy="mention")
    active = await make_agent(studio, owner, provider, name="Act", group_policy="active")
    silent = await make_agent(studio, owner, provider, name="Sil", group_policy="silent")
    human = await register(studio)
    r = await studio.post(
        "/v1/groups",
        headers=human.headers,
        json={"name": "lab", "members": [mention["id"], active["id"], silent["id"]]},
    )
    assert r.status_code == 201, r.text
    gid = r.json()["id"]

    async def group_send(body: str) -> str:
        r = await studio.post(
            f"/v1/groups/{gid}/messages",
            headers=human.headers,
            json={"content": {"format": "text", "body": body}},
        )
        assert r.status_code == 201, r.text
        message_id: str = r.json()["id"]
        return message_id

    plain = await group_send("hello all")
    mentioned = await group_send(f"@{{{mention['id']}}} what do you think?")

    async def answered(agent_id: str, message_id: str) -> bool:
        return any(
            m["reply_to"] == message_id and m.get("group_id") == gid
            for m in await replies_from(studio, human, agent_id)
        )

    await wait_until(lambda: answered(active["id"], plain), 30, "active answers")
    await wait_until(lambda: answered(active["id"], mentioned), 30, "active answers again")
    await wait_until(lambda: answered(mention["id"], mentioned), 30, "mention answers")
    assert not await answered(mention["id"], plain)
    # The silent agent answers a DM sent after the group messages: it has decided them.
    await dm(studio, human, silent["id"], "still there?")
    await wait_replies(studio, human, silent["id"], 1)
    assert all(m.get("group_id") is None for m in await replies_from(studio, human, silent["id"]))
    # The model knew it was in a group and who spoke.
    group_requests = [
        r.body for r in fake_llm.chat_requests if "'lab'" in r.body["messages"][0]["content"]
    ]
    assert group_requests
    assert any(
        m["content"].startswith(human.display_name + ": ")
        for m in group_requests[0]["messages"][1:]
    )


async def test_budget_exhausted_notifies_owner_without_a_model_call(
    studio: httpx.AsyncClient, owner: Human, fake_llm: FakeLLM
) -> None:
    provider = await make_provider(studio, owner, fake_llm)
    agent = await make_agent(studio, owner, provider, daily_token_budget=100)
    alice = await register(studio)
    fake_llm.script(Reply(text="first", input_tokens=90, output_tokens=20))
    await dm(studio, alice, agent["id"], "one")
    await wait_replies(studio, alice, agent["id"], 1)
    calls = len(fake_llm.chat_requests)
    await dm(studio, alice, agent["id"], "two")

    async def notified() -> list[dict[str, object]]:
        r = await studio.get("/v1/notifications", headers=owner.headers)
        return [n for n in r.json()["notifications"] if n["type"] == "hosted_agent"]

    async def has_notice() -> bool:
        return bool(await notified())

    await wait_until(has_notice, 30, "the owner's budget notice")
    [notice] = await notified()
    assert notice["data"] == {"agent_id": agent["id"], "reason": "budget_exhausted"}
    assert len(fake_llm.chat_requests) == calls
    view = await agent_view(studio, owner, agent["id"])
    assert view["budget_exhausted"] is True and view["usage_today"]["tokens"] == 110
    assert len(await replies_from(studio, alice, agent["id"])) == 1


async def test_provider_failure_is_retried_and_told_to_the_owner(
    studio: httpx.AsyncClient, owner: Human, fake_llm: FakeLLM
) -> None:
    provider = await make_provider(studio, owner, fake_llm)
    agent = await make_agent(studio, owner, provider)
    alice = await register(studio)
    fake_llm.fail_next(status=500, times=1)
    fake_llm.script(Reply(text="back again"))
    await dm(studio, alice, agent["id"], "are you up?")
    [reply] = await wait_replies(studio, alice, agent["id"], 1)
    assert reply["content"]["body"] == "back again"
    r = await studio.get("/v1/notifications", headers=owner.headers)
    reasons = [n["data"].get("reason") for n in r.json()["notifications"]]
    assert "provider_error" in reasons


async def test_only_humans_own_hosted_agents(studio: httpx.AsyncClient, fake_llm: FakeLLM) -> None:
    human = await register_human(studio)
    provider = await make_provider(studio, human, fake_llm)
    bot = await register(studio)
    r = await studio.post(
        "/studio/api/agents/",
        headers=bot.headers,
        json={"name": "x", "provider_id": provider, "model": "m"},
    )
    assert r.status_code in (403, 404), r.text


async def test_tools_are_used_within_the_reply(
    studio: httpx.AsyncClient, owner: Human, fake_llm: FakeLLM
) -> None:
    provider = await make_provider(studio, owner, fake_llm)
    agent = await make_agent(studio, owner, provider, tools=["calculator"])
    alice = await register(studio)
    fake_llm.script(
        Reply(tool_calls=[Call("calculator", {"expression": "6*7"})]),
        Reply(text="It is 42."),
    )
    await dm(studio, alice, agent["id"], "what is six times seven?")
    [reply] = await wait_replies(studio, alice, agent["id"], 1)
    assert reply["content"]["body"] == "It is 42."
    first, second = (r.body for r in fake_llm.chat_requests[-2:])
    assert [t["function"]["name"] for t in first["tools"]] == ["calculator"]
    tool_result = second["messages"][-1]
    assert tool_result["role"] == "tool" and "42" in tool_result["content"]


async def test_loop_guard_stops_two_active_agents(
    studio: httpx.AsyncClient, owner: Human, fake_llm: FakeLLM
) -> None:
    fake_llm.default = lambda request: Reply(text="I agree")
    provider = await make_provider(studio, owner, fake_llm)
    agents = [
        await make_agent(studio, owner, provider, name=n, group_policy="active") for n in "XY"
    ]
    human = await register(studio)
    r = await studio.post(
        "/v1/groups",
        headers=human.headers,
        json={"name": "loop", "members": [a["id"] for a in agents]},
    )
    gid = r.json()["id"]
    r = await studio.post(
        f"/v1/groups/{gid}/messages",
        headers=human.headers,
        json={"content": {"format": "text", "body": "discuss"}},
    )
    assert r.status_code == 201, r.text
    # Each agent answered the human and then each other, at most LOOP_BOUND (3) times in all:
    # a DM probe answered afterwards shows each has decided what it had received.
    for a in agents:
        await wait_replies(studio, human, a["id"], 2)
    for a in agents:
        await dm(studio, human, a["id"], "probe")
    for a in agents:

        async def probed(agent_id: str = a["id"]) -> bool:
            found = await replies_from(studio, human, agent_id)
            return any(m.get("group_id") is None for m in found)

        await wait_until(probed, 30, "the probe's answer")
    for a in agents:
        in_group = [m for m in await replies_from(studio, human, a["id"]) if m.get("group_id")]
        assert 1 <= len(in_group) <= 3, in_group


async def test_the_reply_arrives_over_the_websocket_like_any_message(
    studio: httpx.AsyncClient, studio_server: ServerProcess, owner: Human, fake_llm: FakeLLM
) -> None:
    provider = await make_provider(studio, owner, fake_llm)
    agent = await make_agent(studio, owner, provider)
    alice, bob = await register(studio), await register(studio)
    fake_llm.script(Reply(text="hello over the socket"))
    async with open_ws(studio_server, alice) as ws:
        asked = await dm(studio, alice, agent["id"], "hi")
        await dm(studio, bob, alice.id, "a plain DM, for comparison")
        received: dict[str, dict[str, object]] = {}
        while len(received) < 2:
            frame = json.loads(await asyncio.wait_for(ws.recv(), REPLY_WAIT_SECS))
            if frame["type"] == "msg":
                message = frame["data"]["message"]
                received[message["from"]] = message
    reply, plain = received[agent["id"]], received[bob.id]
    assert reply["content"] == {"format": "text", "body": "hello over the socket"}
    assert reply["reply_to"] == asked and reply["type"] == "response"
    # Nothing special: the same fields as any other agent's DM.
    assert set(reply) - {"reply_to"} == set(plain) - {"reply_to"}


async def test_every_agents_route_answers_bad_requests_in_the_studio_shape(
    studio: httpx.AsyncClient, owner: Human, fake_llm: FakeLLM
) -> None:
    """Every /studio/api/agents route in the OpenAPI: no or a wrong credential (401), an
    oversized body (413), a malformed or non-object JSON body (400), an id that is nobody's
    or not an id at all (404) — each in seed 004's error shape, never a 5xx."""
    agent = await make_agent(studio, owner, await make_provider(studio, owner, fake_llm))
    spec = (await studio.get("/openapi.json")).json()
    routes = [
        (method.upper(), path, "requestBody" in op)
        for path, ops in spec["paths"].items()
        if path.startswith("/studio/api/agents/")
        for method, op in ops.items()
    ]
    assert len(routes) == 6, routes
    json_headers = {**owner.headers, "Content-Type": "application/json"}
    for method, path, has_body in routes:
        url = path.replace("{agent_id}", agent["id"])
        assert_studio_error(await studio.request(method, url), 401)
        wrong = {"Authorization": "Bearer am_wrongwrongwrongwrong"}
        assert_studio_error(await studio.request(method, url, headers=wrong), 401)
        if "{agent_id}" in path:
            for nobody in ("99999999", "x" * 64, "%00"):
                other = path.replace("{agent_id}", nobody)
                r = await studio.request(method, other, headers=owner.headers, json={})
                assert_studio_error(r, 404)
            r = await studio.request(method, path.replace("{agent_id}", "x" * 65), json={})
            assert r.status_code in {400, 401}, r.text
        if not has_body:
            continue
        huge = b'{"x": "' + b"x" * 2_000_000 + b'"}'
        r = await studio.request(method, url, content=huge, headers=json_headers)
        assert_studio_error(r, 413)
        for bad in (b"{nope", b"[1, 2]", b'"text"'):
            r = await studio.request(method, url, content=bad, headers=json_headers)
            assert_studio_error(r, 400)
