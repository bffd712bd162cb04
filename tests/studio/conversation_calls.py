"""Calls of seed 004's conversation and message API shared by their tests."""

from __future__ import annotations

import json
from typing import Any

import httpx

from tests.conftest import unique_name
from tests.llmfake import FakeLLM
from tests.studio.conftest import Human

BASE = "/studio/api/conversations/"
SEED_BODY = {
    "project_id": "proj-1",
    "title": "新会话",
    "model": "glm-5",
    "system_prompt": "You are terse.",
    "temperature": 1.0,
    "max_tokens": 65536,
    "thinking_enabled": False,
}


def ok_data(r: httpx.Response, status: int = 200) -> Any:
    assert r.status_code == status, r.text
    body = r.json()
    assert body["success"] is True and body["message"] == "操作成功", body
    return body["data"]


def error_of(r: httpx.Response, status: int) -> str:
    assert r.status_code == status, r.text
    body = r.json()
    assert body["success"] is False and body["code"] == status, body
    assert isinstance(body["code"], int) and isinstance(body["error"], str)
    return str(body["error"])


async def create(studio: httpx.AsyncClient, who: Human, **fields: Any) -> dict[str, Any]:
    data: dict[str, Any] = ok_data(
        await studio.post(BASE, json={**SEED_BODY, **fields}, headers=who.headers)
    )
    return data


MESSAGES = "/studio/api/messages/"
STREAM = "/studio/api/messages/stream"


async def add_provider(
    studio: httpx.AsyncClient, who: Human, fake: FakeLLM, **fields: Any
) -> dict[str, Any]:
    body = {
        "name": "fake",
        "provider_type": "openai",
        "base_url": fake.url + "/v1",
        "api_key": "sk-test-0000",
        "default_model": "fake-small",
        **fields,
    }
    r = await studio.post("/studio/api/providers/", json=body, headers=who.headers)
    assert r.status_code in (200, 201), r.text
    data: dict[str, Any] = r.json()["data"]
    return data


def parse_sse(text: str) -> list[tuple[str, dict[str, Any]]]:
    events = []
    for block in text.split("\n\n"):
        lines = [line for line in block.split("\n") if line and not line.startswith(":")]
        if not lines:
            continue
        name = next(line[7:] for line in lines if line.startswith("event: "))
        data = next(line[6:] for line in lines if line.startswith("data: "))
        events.append((name, json.loads(data)))
    return events


async def stream(
    studio: httpx.AsyncClient, who: Human, conversation_id: str, content: str, tools: bool = True
) -> list[tuple[str, dict[str, Any]]]:
    body = {"conversation_id": conversation_id, "content": content, "tools_enabled": tools}
    r = await studio.post(STREAM, json=body, headers=who.headers)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/event-stream")
    assert r.headers["cache-control"] == "no-cache" and r.headers["x-accel-buffering"] == "no"
    return parse_sse(r.text)


async def messages_of(studio: httpx.AsyncClient, who: Human, cid: str) -> list[dict[str, Any]]:
    data = ok_data(await studio.get(MESSAGES + cid, params={"page_size": 100}, headers=who.headers))
    items: list[dict[str, Any]] = data["items"]
    return items


async def add_agent(
    studio: httpx.AsyncClient, who: Human, provider_id: str, **fields: Any
) -> dict[str, Any]:
    body = {"name": unique_name("smith")[-40:], "provider_id": provider_id, **fields}
    r = await studio.post("/studio/api/agents/", json=body, headers=who.headers)
    assert r.status_code == 201, r.text
    data: dict[str, Any] = r.json()["data"]
    return data
