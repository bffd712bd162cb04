"""Seed 004's chat rooms over HTTP (docs/studio.md, "Chat rooms and their WebSocket"): CRUD,
agents, history, the SSE send, and the floor with three hosted agents and a human: round
robin, mention only, the consecutive-turn cap, loop detection and the per-room budget."""

from __future__ import annotations

import asyncio
import json

import httpx

from tests.api.helpers import wait_until
from tests.llmfake import FakeLLM, Reply
from tests.studio.conftest import Human, register_human
from tests.studio.hosted_helpers import make_agent, make_provider
from tests.studio.room_helpers import (
    agent_messages,
    make_room,
    send,
    systems,
    three_agents,
)


async def test_seed_calls(studio: httpx.AsyncClient, owner: Human, fake_llm: FakeLLM) -> None:
    agents = await three_agents(studio, owner, fake_llm)
    h = owner.headers
    room = await make_room(studio, owner, agents[:2])
    assert room["id"].startswith("room_")
    assert room["name"] == "team" and room["description"] == "a test room"
    assert room["agent_ids"] == [agents[0].id, agents[1].id]
    assert room["policy"] == "free" and room["max_consecutive_agent_turns"] == 6
    assert room["paused"] is False
    base = f"/studio/api/chat-rooms/{room['id']}"

    r = await studio.get("/studio/api/chat-rooms/", headers=h)
    assert r.status_code == 200
    listed = r.json()["data"]
    assert listed["total"] == 1 and listed["page"] == 1 and listed["page_size"] == 20
    assert listed["items"][0]["id"] == room["id"]

    r = await studio.get(base, headers=h)
    assert r.json() == {"success": True, "message": "操作成功", "data": r.json()["data"]}
    assert [a["id"] for a in r.json()["data"]["agents"]] == [agents[0].id, agents[1].id]

    r = await studio.put(base, headers=h, json={"name": "renamed", "policy": "round_robin"})
    assert r.status_code == 200, r.text
    assert r.json()["data"]["name"] == "renamed"
    assert r.json()["data"]["policy"] == "round_robin"

    r = await studio.post(f"{base}/agents", headers=h, json={"agent_id": agents[2].id})
    assert r.status_code == 200, r.text
    assert [a["id"] for a in r.json()["data"]] == [a.id for a in agents]
    r = await studio.get(f"{base}/agents", headers=h)
    assert [a["name"] for a in r.json()["data"]] == [a.name for a in agents]
    r = await studio.delete(f"{base}/agents/{agents[0].id}", headers=h)
    assert r.status_code == 200
    r = await studio.delete(f"{base}/agents/{agents[0].id}", headers=h)
    assert r.status_code == 404 and r.json()["code"] == 404

    r = await studio.get(f"{base}/messages", headers=h)
    assert r.json()["data"] == {"items": [], "total": 0, "page": 1, "page_size": 50}

    r = await studio.delete(base, headers=h)
    assert r.status_code == 200
    r = await studio.get(base, headers=h)
    assert r.status_code == 404
    assert r.json() == {"success": False, "error": r.json()["error"], "code": 404}


async def test_validation(studio: httpx.AsyncClient, owner: Human, fake_llm: FakeLLM) -> None:
    agents = await three_agents(studio, owner, fake_llm)
    h = owner.headers
    for body in (
        {},
        {"name": ""},
        {"name": "x" * 101},
        {"name": "x", "policy": "anarchy"},
        {"name": "x", "max_consecutive_agent_turns": 0},
        {"name": "x", "agent_token_budget": -1},
        {"name": "x", "agent_ids": "nope"},
        {"name": "x", "policy": "moderator"},  # no moderator
        {"name": "x", "policy": "moderator", "moderator_agent_id": agents[0].id},  # not in room
    ):
        r = await studio.post("/studio/api/chat-rooms/", headers=h, json=body)
        assert r.status_code == 400, (body, r.text)
        assert r.json()["success"] is False and r.json()["code"] == 400
    r = await studio.post("/studio/api/chat-rooms/", json={"name": "x"})
    assert r.status_code == 401
    room = await make_room(studio, owner, agents[:1])
    base = f"/studio/api/chat-rooms/{room['id']}"
    r = await studio.post(f"{base}/messages", headers=h, json={"content": " "})
    assert r.status_code == 400
    r = await studio.post(f"{base}/messages", headers=h, json={"content": "x" * 20_001})
    assert r.status_code == 400
    r = await studio.get("/studio/api/chat-rooms/room_nope", headers=h)
    assert r.status_code == 404
    r = await studio.get(f"{base}/messages?page_size=1000", headers=h)
    assert r.status_code == 400


async def test_strangers_see_nothing_and_use_nothing(
    studio: httpx.AsyncClient, owner: Human, stranger: Human, fake_llm: FakeLLM
) -> None:
    agents = await three_agents(studio, owner, fake_llm)
    room = await make_room(studio, owner, agents[:1])
    base = f"/studio/api/chat-rooms/{room['id']}"
    s = stranger.headers
    for method, path, body in (
        ("GET", base, None),
        ("PUT", base, {"name": "mine"}),
        ("DELETE", base, None),
        ("GET", f"{base}/agents", None),
        ("POST", f"{base}/agents", {"agent_id": agents[1].id}),
        ("DELETE", f"{base}/agents/{agents[0].id}", None),
        ("GET", f"{base}/messages", None),
        ("POST", f"{base}/messages", {"content": "hello"}),
    ):
        r = await studio.request(method, path, headers=s, json=body)
        assert r.status_code == 404, (method, path, r.text)
    r = await studio.get("/studio/api/chat-rooms/", headers=s)
    assert r.json()["data"]["total"] == 0
    # The owner's agents cannot be put in the stranger's own room.
    r = await studio.post(
        "/studio/api/chat-rooms/", headers=s, json={"name": "x", "agent_ids": [agents[0].id]}
    )
    assert r.status_code == 404
    r = await studio.post("/studio/api/chat-rooms/", headers=s, json={"name": "x"})
    mine = r.json()["data"]["id"]
    r = await studio.post(
        f"/studio/api/chat-rooms/{mine}/agents", headers=s, json={"agent_id": agents[0].id}
    )
    assert r.status_code == 404
    assert fake_llm.chat_requests == []
    r = await studio.get(f"{base}/messages", headers=owner.headers)
    assert r.json()["data"]["total"] == 0


async def test_round_robin_rotates(
    studio: httpx.AsyncClient, owner: Human, fake_llm: FakeLLM
) -> None:
    agents = await three_agents(studio, owner, fake_llm)
    room = await make_room(studio, owner, agents, policy="round_robin")
    speakers = []
    for i in range(4):
        events = await send(studio, owner, room["id"], f"question {i}")
        kinds = [k for k, _ in events]
        # The human's own message first, then one agent's turn, in this order.
        assert kinds[0] == "message" and events[0][1]["sender_type"] == "user"
        assert kinds[1] == "typing" and events[1][1]["is_typing"] is True
        assert kinds[-3:] == ["typing", "message", "done"], kinds
        assert "process_step" in kinds
        replies = agent_messages(events)
        assert len(replies) == 1
        assert replies[0]["content"].endswith(f"question {i}")  # the fake echoes
        assert events[-1][1] == {
            "message_id": replies[0]["id"],
            "token_count": replies[0]["tokens"],
            "agent_id": replies[0]["sender_id"],
        }
        speakers.append(replies[0]["sender_id"])
    assert speakers == [agents[0].id, agents[1].id, agents[2].id, agents[0].id]
    assert len(fake_llm.chat_requests) == 4
    # The transcript: the room's history, others named, the agent's own turns its own.
    last = fake_llm.chat_requests[-1].body
    assert last["model"] == agents[0].model
    roles = [m["role"] for m in last["messages"]]
    assert roles[0] == "system" and "team" in last["messages"][0]["content"]
    assert roles[1:] == ["user", "assistant", "user"]
    r = await studio.get(f"/studio/api/chat-rooms/{room['id']}/messages", headers=owner.headers)
    page = r.json()["data"]
    assert page["total"] == 8
    assert [m["seq"] for m in page["items"]] == list(range(1, 9))
    r = await studio.get(
        f"/studio/api/chat-rooms/{room['id']}/messages?page=2&page_size=3", headers=owner.headers
    )
    assert [m["seq"] for m in r.json()["data"]["items"]] == [3, 4, 5]


async def test_mention_only_answers_only_the_mentioned(
    studio: httpx.AsyncClient, owner: Human, fake_llm: FakeLLM
) -> None:
    agents = await three_agents(studio, owner, fake_llm)
    # Not the echo: an echoed transcript would repeat the human's @mentions.
    fake_llm.default = lambda request: Reply(text=f"noted, says {request.body['model']}")
    room = await make_room(studio, owner, agents, policy="mention")
    events = await send(studio, owner, room["id"], "hello, anyone?")
    assert agent_messages(events) == [] and fake_llm.chat_requests == []
    events = await send(studio, owner, room["id"], f"@{agents[1].name} what do you think?")
    assert [m["sender_id"] for m in agent_messages(events)] == [agents[1].id]
    events = await send(studio, owner, room["id"], f"@{agents[2].id} and you?")
    assert [m["sender_id"] for m in agent_messages(events)] == [agents[2].id]
    assert [r.body["model"] for r in fake_llm.chat_requests] == [agents[1].model, agents[2].model]


async def test_free_room_and_the_consecutive_turn_cap(
    studio: httpx.AsyncClient, owner: Human, fake_llm: FakeLLM
) -> None:
    agents = await three_agents(studio, owner, fake_llm)
    for i, agent in enumerate(agents):
        fake_llm.script(
            Reply(text=f"first view number {i}"), Reply(text=f"later {i}"), model=agent.model
        )
    room = await make_room(studio, owner, agents, max_consecutive_agent_turns=2)
    events = await send(studio, owner, room["id"], "what do you all think?")
    assert [m["sender_id"] for m in agent_messages(events)] == [agents[0].id, agents[1].id]
    paused = systems(events, "paused")
    assert len(paused) == 1 and paused[0]["reason"] == "turn_cap"
    assert len(fake_llm.chat_requests) == 2  # the third agent was never called
    r = await studio.get(f"/studio/api/chat-rooms/{room['id']}", headers=owner.headers)
    assert r.json()["data"]["paused"] is True
    assert r.json()["data"]["pause_reason"] == "turn_cap"
    # A human message resumes the room and the counter starts over.
    events = await send(studio, owner, room["id"], "go on")
    assert len(systems(events, "resumed")) == 1
    assert len(agent_messages(events)) == 2
    assert len(systems(events, "paused")) == 1


async def test_two_agents_bouncing_pause_and_a_human_resumes(
    studio: httpx.AsyncClient, owner: Human, fake_llm: FakeLLM
) -> None:
    agents = await three_agents(studio, owner, fake_llm)
    a, b = agents[0], agents[1]
    same = f"@{a.name} @{b.name} let us keep talking about the weather forever"
    for agent in (a, b):
        fake_llm.script(*[Reply(text=same) for _ in range(10)], model=agent.model)
    room = await make_room(studio, owner, agents, policy="mention")
    events = await send(studio, owner, room["id"], f"@{a.name} start")
    replies = agent_messages(events)
    assert [m["sender_id"] for m in replies] == [a.id, b.id, a.id]
    paused = systems(events, "paused")
    assert len(paused) == 1 and paused[0]["reason"] == "loop"
    assert "loop" in paused[0]["content"]
    assert len(fake_llm.chat_requests) == 3  # bounded: the loop cost three calls
    r = await studio.get(f"/studio/api/chat-rooms/{room['id']}/messages", headers=owner.headers)
    assert r.json()["data"]["items"][-1]["sender_type"] == "system"
    fake_llm.script(Reply(text="a fresh thought"), model=agents[2].model)
    events = await send(studio, owner, room["id"], f"enough. @{agents[2].name}?")
    assert len(systems(events, "resumed")) == 1
    assert [m["sender_id"] for m in agent_messages(events)] == [agents[2].id]


async def test_per_room_token_budget(
    studio: httpx.AsyncClient, owner: Human, fake_llm: FakeLLM
) -> None:
    agents = await three_agents(studio, owner, fake_llm)
    fake_llm.script(Reply(text="costly", input_tokens=40, output_tokens=10), model=agents[0].model)
    fake_llm.script(
        *[Reply(text=f"cheap {i}", input_tokens=5, output_tokens=1) for i in range(2)],
        model=agents[1].model,
    )
    room = await make_room(studio, owner, agents[:2], agent_token_budget=50)
    events = await send(studio, owner, room["id"], "first")
    assert len(agent_messages(events)) == 2
    r = await studio.get(f"/studio/api/chat-rooms/{room['id']}/agents", headers=owner.headers)
    used = {x["id"]: x["tokens_used"] for x in r.json()["data"]}
    assert used[agents[0].id] == 50
    calls = len(fake_llm.chat_requests)
    events = await send(studio, owner, room["id"], "second")
    over = systems(events, "budget_exhausted")
    assert [x["agent_id"] for x in over] == [agents[0].id]
    assert [m["sender_id"] for m in agent_messages(events)] == [agents[1].id]
    assert len(fake_llm.chat_requests) == calls + 1


async def test_moderator_hands_the_floor_on(
    studio: httpx.AsyncClient, owner: Human, fake_llm: FakeLLM
) -> None:
    agents = await three_agents(studio, owner, fake_llm)
    mod, other = agents[0], agents[2]
    fake_llm.script(
        Reply(text=f"good question.\nnext: {other.name}"),
        Reply(text="thanks, that settles it.\nnext: none"),
        model=mod.model,
    )
    fake_llm.script(Reply(text="my answer"), model=other.model)
    room = await make_room(studio, owner, agents, policy="moderator", moderator_agent_id=mod.id)
    events = await send(studio, owner, room["id"], "who knows?")
    assert [m["sender_id"] for m in agent_messages(events)] == [mod.id, other.id, mod.id]
    system = fake_llm.chat_requests[0].body["messages"][0]["content"]
    assert "moderator" in system and "next:" in system


async def test_another_owner_cannot_reach_a_room_by_guessing(
    studio: httpx.AsyncClient, fake_llm: FakeLLM
) -> None:
    first = await register_human(studio)
    provider = await make_provider(studio, first, fake_llm)
    agent = await make_agent(studio, first, provider, name="solo-" + first.name[-20:])
    r = await studio.post(
        "/studio/api/chat-rooms/",
        headers=first.headers,
        json={"name": "x", "agent_ids": [agent["id"]]},
    )
    room_id = r.json()["data"]["id"]
    second = await register_human(studio)
    r = await studio.post(
        f"/studio/api/chat-rooms/{room_id}/messages", headers=second.headers, json={"content": "hi"}
    )
    assert r.status_code == 404
    assert fake_llm.chat_requests == []


async def test_a_failing_provider_is_an_error_event_and_the_others_speak(
    studio: httpx.AsyncClient, owner: Human, fake_llm: FakeLLM
) -> None:
    agents = await three_agents(studio, owner, fake_llm)
    room = await make_room(studio, owner, agents[:2])
    fake_llm.fail_next(status=500, times=1)
    events = await send(studio, owner, room["id"], "anyone?")
    errors = [d for k, d in events if k == "error"]
    assert len(errors) == 1 and errors[0]["agent_id"] == agents[0].id
    assert [m["sender_id"] for m in agent_messages(events)] == [agents[1].id]


async def test_a_message_sent_during_a_turn_is_answered_after_it(
    studio: httpx.AsyncClient, owner: Human, fake_llm: FakeLLM
) -> None:
    agents = await three_agents(studio, owner, fake_llm)
    room = await make_room(studio, owner, agents, policy="round_robin")
    fake_llm.hold()
    first = asyncio.create_task(send(studio, owner, room["id"], "first question"))
    await fake_llm.until(lambda: fake_llm.in_flight == 1, within=30)
    second = asyncio.create_task(send(studio, owner, room["id"], "second question"))
    history = f"/studio/api/chat-rooms/{room['id']}/messages"

    async def both_stored() -> bool:  # the second message is stored mid-turn
        r = await studio.get(history, headers=owner.headers)
        return bool(r.json()["data"]["total"] == 2)

    await wait_until(both_stored, 30, "the second message stored")
    fake_llm.release()
    events = await first
    await second
    assert [m["sender_id"] for m in agent_messages(events)] == [agents[0].id, agents[1].id]
    assert fake_llm.max_in_flight == 1  # one turn at a time
    r = await studio.get(history, headers=owner.headers)
    items = r.json()["data"]["items"]
    assert [m["sender_type"] for m in items] == ["user", "user", "agent", "agent"]
    assert items[1]["content"] == "second question"


async def test_deleting_a_room_mid_turn_ends_the_send(
    studio: httpx.AsyncClient, owner: Human, fake_llm: FakeLLM
) -> None:
    agents = await three_agents(studio, owner, fake_llm)
    room = await make_room(studio, owner, agents[:1])
    fake_llm.hold()
    sending = asyncio.create_task(send(studio, owner, room["id"], "hello?"))
    await fake_llm.until(lambda: fake_llm.in_flight == 1, within=30)
    r = await studio.delete(f"/studio/api/chat-rooms/{room['id']}", headers=owner.headers)
    assert r.status_code == 200
    fake_llm.release()
    events = await sending
    assert len(systems(events, "room_deleted")) == 1
    assert agent_messages(events) == []
    r = await studio.get(f"/studio/api/chat-rooms/{room['id']}/messages", headers=owner.headers)
    assert r.status_code == 404


async def test_an_anthropic_agent_gets_alternating_turns(
    studio: httpx.AsyncClient, owner: Human, fake_llm: FakeLLM
) -> None:
    agents = await three_agents(studio, owner, fake_llm)  # OpenAI kind
    body = {
        "name": "claude-fake",
        "provider_type": "anthropic",
        "base_url": fake_llm.url,
        "api_key": "sk-ant-test-0123456789",
        "default_model": "claude-x",
        "max_retries": 0,
    }
    r = await studio.post("/studio/api/providers/", headers=owner.headers, json=body)
    assert r.status_code == 201, r.text
    claude = await make_agent(
        studio, owner, r.json()["data"]["id"], name=agents[0].name + "-c", model="claude-x"
    )
    room = await make_room(studio, owner, agents[:1])
    r = await studio.post(
        f"/studio/api/chat-rooms/{room['id']}/agents",
        headers=owner.headers,
        json={"agent_id": claude["id"]},
    )
    assert r.status_code == 200
    events = await send(studio, owner, room["id"], "both of you, please")
    assert [m["sender_id"] for m in agent_messages(events)] == [agents[0].id, claude["id"]]
    request = fake_llm.chat_requests[-1]
    assert request.kind == "anthropic"
    assert "room" in request.body["system"]
    assert [m["role"] for m in request.body["messages"]] == [
        "user"
    ]  # the human's and the other agent's, merged
    text = json.dumps(request.body["messages"])
    assert "both of you, please" in text and agents[0].name in text
