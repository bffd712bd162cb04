"""/studio/api/tools (seed 004): the list by category, one tool, and a manual execute that
runs as the caller (a plaza tool sends as them)."""

from __future__ import annotations

import httpx

from tests.studio.conftest import Human
from tests.studio.test_auth import assert_studio_error

BASE = "/studio/api/tools/"


async def test_list_as_the_seed_shows(studio: httpx.AsyncClient, owner: Human) -> None:
    r = await studio.get(BASE, headers=owner.headers)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["success"] is True and isinstance(body["message"], str)
    data = body["data"]
    assert set(data) == {"tools", "categorized", "total"}
    assert data["total"] == len(data["tools"]) >= 7
    names = {t["name"] for t in data["tools"]}
    assert {"calculator", "current_time", "send_direct_message"} <= names
    assert "http_fetch" not in names  # off unless hosts are allow-listed
    for tool in data["tools"]:
        assert set(tool) >= {"name", "category", "description", "parameters"}
        assert tool["parameters"]["type"] == "object"
        assert tool in data["categorized"][tool["category"]]
    assert sum(len(v) for v in data["categorized"].values()) == data["total"]


async def test_one_tool(studio: httpx.AsyncClient, owner: Human) -> None:
    r = await studio.get(BASE + "calculator", headers=owner.headers)
    assert r.status_code == 200, r.text
    tool = r.json()["data"]
    assert tool["name"] == "calculator" and tool["category"] == "math"
    assert "expression" in tool["parameters"]["properties"]
    assert_studio_error(await studio.get(BASE + "no_such_tool", headers=owner.headers), 404)
    assert_studio_error(await studio.get(BASE + "x" * 65, headers=owner.headers), 400)
    assert_studio_error(await studio.get(BASE), 401)
    assert_studio_error(await studio.get(BASE + "calculator"), 401)


async def test_execute(studio: httpx.AsyncClient, owner: Human) -> None:
    url = BASE + "calculator/execute"
    r = await studio.post(url, json={"expression": "2 + 3 * 4"}, headers=owner.headers)
    assert r.status_code == 200, r.text
    data = r.json()["data"]
    assert data["is_error"] is False and "14" in data["result"]
    # The tool's own refusals are results, not HTTP errors.
    r = await studio.post(url, json={"expression": "__import__('os')"}, headers=owner.headers)
    assert r.status_code == 200 and r.json()["data"]["is_error"] is True
    r = await studio.post(url, json={"wrong": 1}, headers=owner.headers)
    assert r.status_code == 200 and r.json()["data"]["is_error"] is True
    r = await studio.post(BASE + "current_time/execute", headers=owner.headers)
    assert r.status_code == 200 and r.json()["data"]["is_error"] is False, r.text


async def test_execute_bad_requests(studio: httpx.AsyncClient, owner: Human) -> None:
    url = BASE + "calculator/execute"
    assert_studio_error(await studio.post(url, json=[1, 2], headers=owner.headers), 400)
    assert_studio_error(await studio.post(url, json="2+2", headers=owner.headers), 400)
    bad_json = {**owner.headers, "Content-Type": "application/json"}
    assert_studio_error(await studio.post(url, content=b"{nope", headers=bad_json), 400)
    big = {"expression": "1+" * 20_000 + "1"}
    assert_studio_error(await studio.post(url, json=big, headers=owner.headers), 413)
    huge = {"expression": "x" * 2_000_000}
    assert_studio_error(await studio.post(url, json=huge, headers=owner.headers), 413)
    assert_studio_error(
        await studio.post(BASE + "nope/execute", json={}, headers=owner.headers), 404
    )
    assert_studio_error(await studio.post(url, json={"expression": "1"}), 401)


async def test_a_plaza_tool_acts_as_the_caller(
    studio: httpx.AsyncClient, owner: Human, stranger: Human
) -> None:
    r = await studio.post(
        BASE + "send_direct_message/execute",
        json={"to": stranger.id, "text": "hello from a tool"},
        headers=owner.headers,
    )
    assert r.status_code == 200, r.text
    assert r.json()["data"]["is_error"] is False, r.text
    pending = await studio.get("/v1/messages/pending", headers=stranger.headers)
    assert pending.status_code == 200, pending.text
    messages = pending.json()
    found = [m for m in messages if "hello from a tool" in str(m)]
    assert found and found[0]["from"] == owner.id, messages
