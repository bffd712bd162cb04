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


MINE = ("/studio/api/auth/", "/studio/api/providers/", "/studio/api/tools/")
PUBLIC = {("POST", "/studio/api/auth/register"), ("POST", "/studio/api/auth/login")}


async def test_every_route_answers_bad_requests_in_the_studio_shape(
    studio: httpx.AsyncClient, owner: Human
) -> None:
    """For every auth/providers/tools route in the OpenAPI: no credentials or a wrong one
    (401), a malformed or non-object JSON body (400), an oversized one (413) — each in seed
    004's error shape, never a 5xx."""
    spec = (await studio.get("/openapi.json")).json()
    routes = [
        (method.upper(), path, "requestBody" in op)
        for path, ops in spec["paths"].items()
        if path.startswith(MINE)
        for method, op in ops.items()
    ]
    assert len(routes) == 13, routes
    for method, path, has_body in routes:
        url = path.replace("{provider_id}", "prov_00000000000000000000").replace(
            "{name}", "calculator"
        )
        if (method, path) not in PUBLIC:
            assert_studio_error(await studio.request(method, url), 401)
            wrong = {"Authorization": "Bearer am_wrongwrongwrongwrong"}
            assert_studio_error(await studio.request(method, url, headers=wrong), 401)
        if method in {"GET", "DELETE"}:
            continue
        json_headers = {**owner.headers, "Content-Type": "application/json"}
        huge = b'{"x": "' + b"x" * 2_000_000 + b'"}'
        assert_studio_error(
            await studio.request(method, url, content=huge, headers=json_headers), 413
        )
        if has_body or path.endswith("/execute"):
            for bad in (b"{nope", b"[1, 2]", b'"text"'):
                r = await studio.request(method, url, content=bad, headers=json_headers)
                assert r.status_code in {400, 404}, (method, path, bad, r.text)
                assert_studio_error(r, r.status_code)
