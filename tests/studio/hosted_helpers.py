"""Shared steps of the hosted-agent tests: a provider on the fake, an agent, replies."""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any

import httpx

from tests.api.helpers import sync, wait_until
from tests.llmfake import FakeLLM
from tests.studio.conftest import Human

if TYPE_CHECKING:  # imported by name, pytest would try to collect it as a test class
    from tests.conftest import TestAgent

REPLY_WAIT_SECS = 30.0


async def make_provider(
    client: httpx.AsyncClient, owner: Human, fake: FakeLLM, **extra: Any
) -> str:
    body = {
        "name": "fake",
        "provider_type": "openai",
        "base_url": fake.url + "/v1",
        "api_key": "sk-test-0123456789abcdef",
        "default_model": "fake-small",
        "max_retries": 0,
        **extra,
    }
    r = await client.post("/studio/api/providers/", headers=owner.headers, json=body)
    assert r.status_code == 201, r.text
    provider_id: str = r.json()["data"]["id"]
    return provider_id


async def make_agent(
    client: httpx.AsyncClient, owner: Human, provider_id: str, **config: Any
) -> dict[str, Any]:
    # Display names are unique on the plaza: a suffix keeps tests independent.
    name = f"{config.pop('name', 'Ada')}-{uuid.uuid4().hex[:8]}"
    body = {"name": name, "provider_id": provider_id, "model": "fake-small"}
    r = await client.post("/studio/api/agents/", headers=owner.headers, json=body | config)
    assert r.status_code == 201, r.text
    agent: dict[str, Any] = r.json()["data"]
    return agent


async def replies_from(
    client: httpx.AsyncClient, reader: TestAgent, agent_id: str
) -> list[dict[str, Any]]:
    """Messages `reader` received from the hosted agent (the normal /v1 sync)."""
    messages = (await sync(client, reader, since_seq=0, limit=500))["messages"]
    return [m for m in messages if m["from"] == agent_id]


async def wait_replies(
    client: httpx.AsyncClient, reader: TestAgent, agent_id: str, count: int
) -> list[dict[str, Any]]:
    """Wait until `reader` has `count` messages from the agent; returns them."""
    found: list[dict[str, Any]] = []

    async def enough() -> bool:
        nonlocal found
        found = await replies_from(client, reader, agent_id)
        return len(found) >= count

    await wait_until(enough, REPLY_WAIT_SECS, f"{count} replies from {agent_id}")
    return found


async def dm(client: httpx.AsyncClient, sender: TestAgent, to: str, body: str) -> str:
    r = await client.post(
        "/v1/messages",
        headers=sender.headers,
        json={"to": to, "content": {"format": "text", "body": body}},
    )
    assert r.status_code == 201, r.text
    message_id: str = r.json()["id"]
    return message_id


async def agent_view(client: httpx.AsyncClient, owner: Human, agent_id: str) -> dict[str, Any]:
    r = await client.get(f"/studio/api/agents/{agent_id}", headers=owner.headers)
    assert r.status_code == 200, r.text
    data: dict[str, Any] = r.json()["data"]
    return data
