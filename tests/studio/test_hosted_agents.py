"""/studio/api/agents and hosted agents' replies against a real server, on both backends.

The only fake is the model (tests/llmfake.py). A /v1 agent talks to a hosted agent the way it
talks to anyone: its DM goes through POST /v1/messages and the answer comes back in its normal
stream (/v1/messages/sync), with nothing special.
"""

from __future__ import annotations

import httpx
import pytest

from tests.api.helpers import wait_until
from tests.conftest import register
from tests.llmfake import FakeLLM, Reply
from tests.studio.conftest import Human, register_human
from tests.studio.hosted_helpers import (
    agent_view,
    dm,
    make_agent,
    make_provider,
    replies_from,
    wait_replies,
)


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

    for agent_id, message_id in ((active["id"], plain), (active["id"], mentioned)):
        await wait_until(lambda: answered(agent_id, message_id), 30, "active answers")
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
