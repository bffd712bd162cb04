"""Seed 004's /studio/api/conversations calls as its document shows them, on both backends."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.llmfake import Call, FakeLLM, Reply
from tests.studio.conftest import Human, register_human
from tests.studio.conversation_calls import (
    BASE,
    MESSAGES,
    SEED_BODY,
    STREAM,
    add_agent,
    add_provider,
    create,
    error_of,
    ok_data,
    stream,
)


async def test_create_as_the_seed_shows(studio: httpx.AsyncClient, owner: Human) -> None:
    conv = await create(studio, owner)
    assert conv["id"].startswith("conv_")
    assert conv["title"] == "新会话" and conv["model"] == "glm-5"
    assert conv["project_id"] == "proj-1" and conv["system_prompt"] == "You are terse."
    assert conv["temperature"] == 1.0 and conv["thinking_enabled"] is False
    # 65536 is above studio_max_tokens_cap: stored as the cap (docs/studio.md).
    assert conv["max_tokens"] == 16384
    assert conv["message_count"] == 0 and conv["last_message_at"] is None
    assert conv["provider_id"] is None and conv["agent_id"] is None
    assert conv["created_at"].endswith("Z")
    got = ok_data(await studio.get(BASE + conv["id"], headers=owner.headers))
    assert got == conv


async def test_defaults_of_an_empty_body(studio: httpx.AsyncClient, owner: Human) -> None:
    conv = ok_data(await studio.post(BASE, json={}, headers=owner.headers))
    assert conv["title"] == "新会话" and conv["temperature"] == 1.0
    assert conv["project_id"] is None and conv["system_prompt"] is None
    assert conv["model"] == ""


async def test_list_is_a_page_newest_first(studio: httpx.AsyncClient) -> None:
    me = await register_human(studio)
    ids = [(await create(studio, me, title=f"t{i}"))["id"] for i in range(3)]
    data = ok_data(await studio.get(BASE, headers=me.headers))
    assert set(data) == {"items", "total", "page", "page_size"}
    assert data["total"] == 3 and data["page"] == 1 and data["page_size"] == 20
    assert [c["id"] for c in data["items"]] == ids[::-1]
    second = ok_data(await studio.get(BASE, params={"page": 2, "page_size": 2}, headers=me.headers))
    assert [c["id"] for c in second["items"]] == [ids[0]]
    assert second["total"] == 3 and second["page"] == 2 and second["page_size"] == 2
    other = await create(studio, me, project_id="other")
    only = ok_data(await studio.get(BASE, params={"project_id": "other"}, headers=me.headers))
    assert [c["id"] for c in only["items"]] == [other["id"]] and only["total"] == 1


async def test_update_and_clear(studio: httpx.AsyncClient, owner: Human) -> None:
    conv = await create(studio, owner)
    url = BASE + conv["id"]
    updated = ok_data(
        await studio.put(
            url,
            json={"title": "Renamed", "temperature": 0.2, "max_tokens": 100, "system_prompt": None},
            headers=owner.headers,
        )
    )
    assert updated["title"] == "Renamed" and updated["temperature"] == 0.2
    assert updated["max_tokens"] == 100 and updated["system_prompt"] is None
    assert updated["project_id"] == "proj-1" and updated["model"] == "glm-5"  # untouched
    assert ok_data(await studio.get(url, headers=owner.headers)) == updated


async def test_delete(studio: httpx.AsyncClient, owner: Human) -> None:
    conv = await create(studio, owner)
    url = BASE + conv["id"]
    assert ok_data(await studio.delete(url, headers=owner.headers))["deleted"] is True
    error_of(await studio.get(url, headers=owner.headers), 404)
    error_of(await studio.delete(url, headers=owner.headers), 404)


async def test_a_stranger_sees_nothing_of_the_owners(
    studio: httpx.AsyncClient, owner: Human, stranger: Human
) -> None:
    conv = await create(studio, owner)
    url = BASE + conv["id"]
    h = stranger.headers
    assert error_of(await studio.get(url, headers=h), 404) == "conversation not found"
    error_of(await studio.put(url, json={"title": "mine"}, headers=h), 404)
    error_of(await studio.delete(url, headers=h), 404)
    listed = ok_data(await studio.get(BASE, headers=h))
    assert conv["id"] not in [c["id"] for c in listed["items"]]
    error_of(await studio.get(f"/studio/api/messages/{conv['id']}", headers=h), 404)
    body = {"conversation_id": conv["id"], "content": "hi", "tools_enabled": False}
    error_of(await studio.post("/studio/api/messages/", json=body, headers=h), 404)
    error_of(await studio.post("/studio/api/messages/stream", json=body, headers=h), 404)
    # Untouched for its owner.
    assert ok_data(await studio.get(url, headers=owner.headers))["title"] == "新会话"


async def test_unknown_provider_or_agent_is_404(studio: httpx.AsyncClient, owner: Human) -> None:
    error_of(await studio.post(BASE, json={"provider_id": "prov_nope"}, headers=owner.headers), 404)
    error_of(await studio.post(BASE, json={"agent_id": "P99999999"}, headers=owner.headers), 404)
    both = {"provider_id": "a", "agent_id": "b"}
    error_of(await studio.post(BASE, json=both, headers=owner.headers), 400)


async def test_without_credentials_401(studio: httpx.AsyncClient) -> None:
    error_of(await studio.get(BASE), 401)
    error_of(await studio.post(BASE, json=SEED_BODY), 401)
    error_of(await studio.get(BASE + "conv_x"), 401)


@pytest.mark.parametrize(
    "body",
    [
        {"title": 5},
        {"title": "x" * 201},
        {"model": ["glm"]},
        {"temperature": 3},
        {"temperature": -1},
        {"temperature": "hot"},
        {"max_tokens": 0},
        {"max_tokens": "many"},
        {"max_tokens": 1.5},
        {"thinking_enabled": "yes"},
        {"system_prompt": "x" * 32_001},
        {"project_id": ""},
        {"project_id": "p" * 129},
    ],
)
async def test_bad_create_bodies_are_400(
    studio: httpx.AsyncClient, owner: Human, body: dict[str, Any]
) -> None:
    error_of(await studio.post(BASE, json=body, headers=owner.headers), 400)


async def test_bad_input_400(studio: httpx.AsyncClient, owner: Human) -> None:
    h = owner.headers
    error_of(await studio.post(BASE, content=b"{not json", headers=h), 400)
    error_of(await studio.post(BASE, json=[1, 2], headers=h), 400)
    error_of(await studio.get(BASE, params={"page": 0}, headers=h), 400)
    error_of(await studio.get(BASE, params={"page_size": 101}, headers=h), 400)
    error_of(await studio.get(BASE, params={"page": "x"}, headers=h), 400)
    conv = await create(studio, owner)
    error_of(await studio.put(BASE + conv["id"], json={"temperature": 9}, headers=h), 400)
    error_of(await studio.get(BASE + "conv_" + "0" * 26, headers=h), 404)
    error_of(await studio.get(BASE + "x" * 129, headers=h), 400)


async def test_nobody_uses_anothers_provider(
    studio: httpx.AsyncClient, owner: Human, stranger: Human, fake_llm: FakeLLM
) -> None:
    provider = await add_provider(studio, owner, fake_llm)
    r = await studio.post(
        "/studio/api/conversations/", json={"provider_id": provider["id"]}, headers=stranger.headers
    )
    error_of(r, 404)
    mine = await create(studio, stranger, model="fake-small")
    r = await studio.put(
        "/studio/api/conversations/" + mine["id"],
        json={"provider_id": provider["id"]},
        headers=stranger.headers,
    )
    error_of(r, 404)
    assert fake_llm.chat_requests == []


async def test_a_conversation_with_a_hosted_agent_answers_as_the_agent(
    studio: httpx.AsyncClient, owner: Human, stranger: Human, fake_llm: FakeLLM
) -> None:
    provider = await add_provider(studio, owner, fake_llm)
    agent = await add_agent(
        studio,
        owner,
        provider["id"],
        model="fake-large",
        system_prompt="You are Agent Smith.",
        temperature=0.3,
        tools=["calculator"],
    )
    # The seed's body (model "glm-5") plus our agent_id: the agent's own model answers.
    conv = await create(studio, owner, agent_id=agent["id"], system_prompt=None)
    assert conv["agent_id"] == agent["id"]
    fake_llm.script(
        Reply(tool_calls=[Call("calculator", {"expression": "1+1"}, "k1")]),
        Reply(text="Two.", input_tokens=50, output_tokens=2),
    )
    events = await stream(studio, owner, conv["id"], "1+1?")
    assert [n for n, _ in events if n != "text"] == ["tool_call", "tool_result", "done"]
    sent = fake_llm.chat_requests[0].body
    assert sent["model"] == "fake-large" and sent["temperature"] == 0.3
    system = sent["messages"][0]
    assert system["role"] == "system" and "You are Agent Smith." in system["content"]
    assert agent["name"] in system["content"]
    assert [t["function"]["name"] for t in sent["tools"]] == ["calculator"]
    # The turn counted against the agent's daily budget.
    got = ok_data(await studio.get(f"/studio/api/agents/{agent['id']}", headers=owner.headers))
    assert got["usage_today"]["tokens"] >= 52
    # Nobody else may talk through it.
    error_of(
        await studio.post(
            "/studio/api/conversations/", json={"agent_id": agent["id"]}, headers=stranger.headers
        ),
        404,
    )


async def test_an_agent_over_its_budget_is_429(
    studio: httpx.AsyncClient, owner: Human, fake_llm: FakeLLM
) -> None:
    provider = await add_provider(studio, owner, fake_llm)
    agent = await add_agent(studio, owner, provider["id"], model="m", daily_token_budget=10)
    conv = await create(studio, owner, agent_id=agent["id"])
    fake_llm.script(Reply(text="spent", input_tokens=20, output_tokens=5))
    body = {"conversation_id": conv["id"], "content": "hi", "tools_enabled": False}
    ok_data(await studio.post(MESSAGES, json=body, headers=owner.headers))
    assert "budget" in error_of(await studio.post(STREAM, json=body, headers=owner.headers), 429)
    assert len(fake_llm.chat_requests) == 1
