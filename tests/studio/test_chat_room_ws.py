"""WebSocket /studio/ws/chat-room/{room_id} (docs/studio.md): seed 004's participant
parameters, plus the token we require; the events in order; a send over the socket."""

from __future__ import annotations

import asyncio
import json
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from tests.llmfake import FakeLLM, Reply
from tests.server import ServerProcess
from tests.studio.conftest import Human
from tests.studio.room_helpers import make_room, three_agents

Frame = tuple[str, dict[str, Any]]


def ws_url(server: ServerProcess, room_id: str, **params: str) -> str:
    base = server.url.replace("http://", "ws://")
    return f"{base}/studio/ws/chat-room/{room_id}?{urlencode(params)}"


async def next_frame(ws: ClientConnection) -> Frame:
    async with asyncio.timeout(30):
        raw = await ws.recv()
    frame = json.loads(raw)
    assert set(frame) == {"type", "data"}
    return frame["type"], frame["data"]


async def close_code(url: str, **kw: Any) -> int:
    async with connect(url, **kw) as ws:
        with pytest.raises(ConnectionClosed) as closed:
            async with asyncio.timeout(30):
                await ws.recv()
    assert closed.value.rcvd is not None
    return closed.value.rcvd.code


async def test_refused_without_a_token_or_for_someone_elses_agent(
    studio: httpx.AsyncClient,
    studio_server: ServerProcess,
    owner: Human,
    stranger: Human,
    fake_llm: FakeLLM,
) -> None:
    agents = await three_agents(studio, owner, fake_llm)
    room = await make_room(studio, owner, agents)
    rid = room["id"]
    # Seed 004's own example passes no credential: refused.
    seed = {"participant_type": "user", "participant_id": owner.id, "participant_name": "John"}
    assert await close_code(ws_url(studio_server, rid, **seed)) == 4001
    assert await close_code(ws_url(studio_server, rid, **seed, token="pt_wrong")) == 4001
    # The stranger may not act as the owner's agent, nor as the owner, nor see the room.
    as_agent = {"participant_type": "agent", "participant_id": agents[0].id}
    assert await close_code(ws_url(studio_server, rid, **as_agent, token=stranger.token)) == 4003
    assert await close_code(ws_url(studio_server, rid, **seed, token=stranger.token)) == 4003
    mine = {"participant_type": "user", "participant_id": stranger.id, "token": stranger.token}
    assert await close_code(ws_url(studio_server, rid, **mine)) == 4004
    bad = {"participant_type": "robot", "token": owner.token}
    assert await close_code(ws_url(studio_server, rid, **bad)) == 4000
    # The owner's own agent, with the token in the subprotocols (what a browser can send).
    async with connect(
        ws_url(studio_server, rid, **as_agent, participant_name="Assistant"),
        subprotocols=["bearer", owner.token],  # type: ignore[list-item]
    ) as ws:
        assert ws.subprotocol == "bearer"
        assert await next_frame(ws) == ("connected", {"room_id": rid, "type": "agent"})
    # And with an Authorization header.
    async with connect(
        ws_url(studio_server, rid, participant_type="user"),
        additional_headers={"Authorization": f"Bearer {owner.token}"},
    ) as ws:
        assert await next_frame(ws) == ("connected", {"room_id": rid, "type": "user"})


async def test_events_in_order_and_send_message(
    studio: httpx.AsyncClient, studio_server: ServerProcess, owner: Human, fake_llm: FakeLLM
) -> None:
    agents = await three_agents(studio, owner, fake_llm)
    room = await make_room(studio, owner, agents[:1])
    rid = room["id"]
    fake_llm.script(Reply(text="hello human"), model=agents[0].model)
    params = {"participant_type": "user", "participant_id": owner.id, "token": owner.token}
    async with connect(ws_url(studio_server, rid, **params, participant_name="John")) as ws:
        assert await next_frame(ws) == ("connected", {"room_id": rid, "type": "user"})
        assert await next_frame(ws) == ("history", {"messages": []})
        kind, data = await next_frame(ws)
        assert kind == "agents" and [a["id"] for a in data["agents"]] == [agents[0].id]
        kind, data = await next_frame(ws)
        assert (kind, data["type"]) == ("system", "user_join")
        assert data["content"] == f"{owner.name} joined"

        await ws.send(json.dumps({"action": "dance"}))
        kind, data = await next_frame(ws)
        assert kind == "error" and "send_message" in data["content"]
        await ws.send("not json")
        assert (await next_frame(ws))[0] == "error"

        await ws.send(json.dumps({"action": "send_message", "content": "Hello everyone!"}))
        frames = [await next_frame(ws)]
        while frames[-1][0] != "done":
            frames.append(await next_frame(ws))
        kinds = [k for k, _ in frames]
        assert kinds[:2] == ["message", "typing"]
        assert frames[0][1]["sender_type"] == "user"
        assert frames[0][1]["content"] == "Hello everyone!"
        assert frames[1][1] == {"agent_id": agents[0].id, "is_typing": True}
        assert kinds[-3:] == ["typing", "message", "done"]
        steps = [d for k, d in frames if k == "process_step"]
        assert steps and all(s["agent_id"] == agents[0].id for s in steps)
        assert "".join(s["content"] for s in steps if s["type"] == "text") == "hello human"
        reply = frames[-2][1]
        assert reply["sender_id"] == agents[0].id and reply["content"] == "hello human"
        assert frames[-1][1]["message_id"] == reply["id"]
        assert frames[-1][1]["token_count"] == reply["tokens"] > 0

    # A second socket gets both messages as history.
    async with connect(ws_url(studio_server, rid, **params)) as ws:
        await next_frame(ws)
        kind, data = await next_frame(ws)
        assert kind == "history"
        assert [m["content"] for m in data["messages"]] == ["Hello everyone!", "hello human"]


async def test_watchers_see_an_http_send_and_each_other(
    studio: httpx.AsyncClient, studio_server: ServerProcess, owner: Human, fake_llm: FakeLLM
) -> None:
    agents = await three_agents(studio, owner, fake_llm)
    room = await make_room(studio, owner, agents[:1])
    rid = room["id"]
    params = {"participant_type": "user", "token": owner.token}
    async with connect(ws_url(studio_server, rid, **params)) as watcher:
        for _ in range(4):  # connected, history, agents, own join
            await next_frame(watcher)
        as_agent = {"participant_type": "agent", "participant_id": agents[0].id}
        async with connect(ws_url(studio_server, rid, **as_agent, token=owner.token)) as other:
            for _ in range(3):
                await next_frame(other)
            kind, data = await next_frame(watcher)
            assert (kind, data["type"]) == ("system", "user_join")
            assert data["content"] == f"{agents[0].name} joined"
        kind, data = await next_frame(watcher)
        assert (kind, data["type"]) == ("system", "user_leave")
        r = await studio.post(
            f"/studio/api/chat-rooms/{rid}/messages",
            headers=owner.headers,
            json={"content": "from http"},
        )
        assert r.status_code == 200
        frames = [await next_frame(watcher)]
        while frames[-1][0] != "done":
            frames.append(await next_frame(watcher))
        assert frames[0][1]["content"] == "from http"


async def test_an_agent_participant_speaks_as_its_agent(
    studio: httpx.AsyncClient, studio_server: ServerProcess, owner: Human, fake_llm: FakeLLM
) -> None:
    agents = await three_agents(studio, owner, fake_llm)
    fake_llm.script(Reply(text="at your service"), model=agents[1].model)
    room = await make_room(studio, owner, agents, policy="mention")
    rid = room["id"]
    as_agent = {"participant_type": "agent", "participant_id": agents[0].id, "token": owner.token}
    async with connect(ws_url(studio_server, rid, **as_agent)) as ws:
        for _ in range(4):
            await next_frame(ws)
        await ws.send(
            json.dumps({"action": "send_message", "content": f"@{agents[1].name} help me"})
        )
        frames = [await next_frame(ws)]
        while frames[-1][0] != "done":
            frames.append(await next_frame(ws))
    first = frames[0][1]
    assert (first["sender_type"], first["sender_id"]) == ("agent", agents[0].id)
    assert first["sender_name"] == agents[0].name
    replies = [d for k, d in frames if k == "message"][1:]
    assert [m["sender_id"] for m in replies] == [agents[1].id]


async def test_concurrent_sends_are_answered_one_turn_at_a_time(
    studio: httpx.AsyncClient, studio_server: ServerProcess, owner: Human, fake_llm: FakeLLM
) -> None:
    agents = await three_agents(studio, owner, fake_llm)
    room = await make_room(studio, owner, agents, policy="round_robin")
    rid = room["id"]
    params = {"participant_type": "user", "token": owner.token}
    async with connect(ws_url(studio_server, rid, **params)) as watcher:
        for _ in range(4):
            await next_frame(watcher)
        results = await asyncio.gather(
            *(
                studio.post(
                    f"/studio/api/chat-rooms/{rid}/messages",
                    headers=owner.headers,
                    json={"content": f"question {i}"},
                    timeout=60,
                )
                for i in range(3)
            )
        )
        assert all(r.status_code == 200 for r in results)
        frames: list[Frame] = []
        while sum(1 for k, _ in frames if k == "done") < 3:
            frames.append(await next_frame(watcher))
    typing = [d["is_typing"] for k, d in frames if k == "typing"]
    assert typing == [True, False] * 3  # turns never overlap
    speakers = [d["sender_id"] for k, d in frames if k == "message" and d["sender_type"] == "agent"]
    assert speakers == [a.id for a in agents]
    assert len(fake_llm.chat_requests) == 3
