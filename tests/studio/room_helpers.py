"""Shared steps of the chat room tests: three hosted agents on the fake, rooms, SSE sends."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import httpx

from tests.conftest import unique_name
from tests.llmfake import FakeLLM
from tests.studio.conftest import Human
from tests.studio.hosted_helpers import make_agent, make_provider

Event = tuple[str, dict[str, Any]]


@dataclass(frozen=True, slots=True)
class RoomAgent:
    id: str
    name: str
    model: str
    """Each agent its own model, so the fake can be scripted per agent."""


async def three_agents(client: httpx.AsyncClient, owner: Human, fake: FakeLLM) -> list[RoomAgent]:
    provider_id = await make_provider(client, owner, fake)
    agents = []
    for i in range(3):
        name = unique_name(f"r{i}")[-30:].replace(".", "-")
        model = f"model-{i}"
        made = await make_agent(client, owner, provider_id, name=name, model=model)
        agents.append(RoomAgent(made["id"], made.get("name", name), model))
    return agents


async def make_room(
    client: httpx.AsyncClient, owner: Human, agents: list[RoomAgent], **settings: Any
) -> dict[str, Any]:
    body = {"name": "team", "description": "a test room", "agent_ids": [a.id for a in agents]}
    r = await client.post("/studio/api/chat-rooms/", headers=owner.headers, json=body | settings)
    assert r.status_code == 201, r.text
    room: dict[str, Any] = r.json()["data"]
    return room


def parse_sse(text: str) -> list[Event]:
    events: list[Event] = []
    for block in text.split("\n\n"):
        kind, data = "", ""
        for line in block.splitlines():
            if line.startswith("event: "):
                kind = line[7:]
            elif line.startswith("data: "):
                data += line[6:]
        if kind:
            events.append((kind, json.loads(data)))
    return events


async def send(client: httpx.AsyncClient, owner: Human, room_id: str, content: str) -> list[Event]:
    """POST a message; the whole SSE answer (it ends when the room's floor goes quiet)."""
    r = await client.post(
        f"/studio/api/chat-rooms/{room_id}/messages",
        headers=owner.headers,
        json={"content": content},
        timeout=60,
    )
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/event-stream")
    return parse_sse(r.text)


def agent_messages(events: list[Event]) -> list[dict[str, Any]]:
    return [d for k, d in events if k == "message" and d["sender_type"] == "agent"]


def systems(events: list[Event], kind: str) -> list[dict[str, Any]]:
    return [d for k, d in events if k == "system" and d["type"] == kind]
