"""Bad input on every /studio HTTP route: a 4xx in seed 004's error shape, never a 5xx.

The /studio counterpart of tests/api/test_bad_input.py (which covers /v1 and leaves /studio
out). `ROUTES` (studio_bad_input_table.py) lists every /studio route; `test_table_is_every_
studio_route` compares it with /openapi.json, so a new route, path id, query parameter or body
without rows here fails. Each route gets, as they apply: no or a wrong credential (401), a body
over the cap (413), malformed / non-object / empty JSON (400), each path id replaced by ids that
are not ids (404, or 400 beyond the id's length cap) and by well-formed ids of nothing (404),
its body fields one at a time with wrong types or sizes (400), its query parameters out of
range (400). The WebSocket (/studio/ws/chat-room/…) is not HTTP: test_chat_room_ws.py. A case
answered from the request alone runs on SQLite only, the others on both stores:
`answered_from_request`.
"""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from tests.api.helpers import assert_no_server_errors
from tests.conftest import unique_name
from tests.server import ServerProcess
from tests.studio.conftest import Human, register_human
from tests.studio.studio_bad_input_table import MALFORMED_IDS, ROUTES, UNKNOWN_IDS, Route

JSON = {"Content-Type": "application/json"}
BODY_CAP_BYTES = 1_048_576  # settings.max_body_bytes default
PATH_PARAM = re.compile(r"\{(\w+)\}")
OVERSIZED = b'{"x": "' + b"x" * BODY_CAP_BYTES + b'"}'


@dataclass(frozen=True)
class Case:
    name: str
    status: int
    credentials: str = "owner"  # owner | none | or the Authorization header to send
    ids: dict[str, str] = field(default_factory=dict)  # path parameters replaced
    body: Any = None  # JSON to send (a template, filled like the route's body)
    content: bytes | None = None  # raw bytes instead
    params: dict[str, str] = field(default_factory=dict)
    chunked: bool = False


def _cases(route: Route, path: str) -> list[Case]:
    cases: list[Case] = []
    if route.auth:
        cases += [
            Case("no-credentials", 401, "none", body=route.body),
            Case("bad-session-token", 401, "Bearer pt_" + "0" * 40, body=route.body),
            Case("bad-api-key", 401, "Bearer am_definitelynotakey", body=route.body),
            Case("bearer-without-token", 401, "Bearer", body=route.body),
        ]
    cases.append(Case("oversized-body", 413, content=OVERSIZED))
    if route.body is not None:
        cases += [
            Case("malformed-json", 400, content=b'{"nope'),
            Case("json-list", 400, content=b"[1, 2]"),
            Case("json-string", 400, content=b'"text"'),
            Case("invalid-utf8", 400, content=b'{"a": "\xff\xfe"}'),
            # No Content-Length: the cap counts what arrives (api/limits.py).
            Case("oversized-chunked", 413, content=OVERSIZED, chunked=True),
        ]
        if not route.raw_body:  # an empty execute body is the empty arguments object
            cases.append(Case("empty-body", 400, content=b""))
    for param in PATH_PARAM.findall(path):
        cases.append(
            Case(f"{param}-unknown", 404, ids={param: UNKNOWN_IDS[param]}, body=route.body)
        )
        for label, (value, status) in MALFORMED_IDS.items():
            cases.append(Case(f"{param}-{label}", status, ids={param: value}, body=route.body))
    for name, (overrides, status) in route.fields.items():
        assert route.body is not None
        cases.append(Case(f"field-{name}", status, body={**route.body, **overrides}))
    for name, params in route.query.items():
        cases.append(Case(f"query-{name}", 400, params=params))
    return cases


def answered_from_request(case: Case) -> bool:
    """Which stores a case runs on (the rule of tests/api/test_bad_input.py, checked here for
    every case of the table).

    Answered by the request alone, so the same on SQLite and PostgreSQL, and run on SQLite
    only: 400 (shape, sizes, formats) and 413, and a 401 that sends no token to look up. Where
    it authenticates first, that is the owner's valid session, looked up by every other test on
    both stores. Run on both: a 401 for a token that is looked up and not found, and 404 (an id
    of nothing, or of someone else's). A status not listed here fails collection until it is
    classified."""
    if case.status in (400, 413):
        return True
    if case.status == 401:
        return case.credentials in ("none", "Bearer")
    assert case.status == 404, f"{case.name}: classify status {case.status}"
    return False


ALL_CASES = [(key, case) for key, route in ROUTES.items() for case in _cases(route, key[1])]
REQUEST_CASES, STORE_CASES = (
    [
        pytest.param(key, case, id=f"{key[0]} {key[1]} :: {case.name}")
        for key, case in ALL_CASES
        if answered_from_request(case) is one_store
    ]
    for one_store in (True, False)
)


def _is_studio(path: str) -> bool:
    return path == "/studio" or path.startswith("/studio/")


async def test_table_is_every_studio_route(studio: httpx.AsyncClient) -> None:
    """Every /studio path+method of /openapi.json has a row, each of its query parameters
    bad values, and each JSON body field cases (or the body is read by hand)."""
    spec = (await studio.get("/openapi.json")).json()
    documented = {
        (method.upper(), path): op
        for path, ops in spec["paths"].items()
        if _is_studio(path)
        for method, op in ops.items()
    }
    assert set(ROUTES) == set(documented), (
        f"missing here: {sorted(set(documented) - set(ROUTES))}; "
        f"gone from the API: {sorted(set(ROUTES) - set(documented))}"
    )
    for key, op in documented.items():
        route = ROUTES[key]
        bad_params = {name for params in route.query.values() for name in params}
        for param in op.get("parameters", []):
            if param["in"] == "query":
                assert param["name"] in bad_params, f"{key}: no bad values for {param['name']}"
            elif param["in"] == "path":
                assert param["name"] in UNKNOWN_IDS, f"{key}: no unknown id for {param['name']}"
        assert ("requestBody" in op) == (route.body is not None), key
        if route.body is not None and not route.raw_body:
            ref = op["requestBody"]["content"]["application/json"]["schema"]["$ref"]
            schema = spec["components"]["schemas"][ref.rsplit("/", 1)[1]]
            broken = {name for overrides, _ in route.fields.values() for name in overrides}
            for prop in schema.get("properties", {}):
                assert prop in broken, f"{key}: no bad values for field {prop}"


@dataclass(frozen=True)
class Context:
    owner: Human
    values: dict[str, str]


_CONTEXTS: dict[str, Context] = {}


async def _created(response: httpx.Response) -> str:
    assert response.status_code in {200, 201}, response.text
    return str(response.json()["data"]["id"])


async def _context(studio: httpx.AsyncClient, server: ServerProcess) -> Context:
    """One owner with a provider, an agent, a conversation and a room, per server: the cases
    only send requests that fail, so they share them (and the run stays short)."""
    if server.url in _CONTEXTS:
        return _CONTEXTS[server.url]
    owner = await register_human(studio)
    h = owner.headers
    provider = await _created(
        await studio.post(
            "/studio/api/providers/",
            headers=h,
            json={
                "name": "bad-input",
                "provider_type": "openai",
                "base_url": "http://127.0.0.1:9/v1",
                "api_key": "sk-bad-input-0000000000",
                "models": ["m"],
                "default_model": "m",
            },
        )
    )
    agent_body = {"name": unique_name("agent")[-60:], "provider_id": provider, "model": "m"}
    agent = await _created(await studio.post("/studio/api/agents/", headers=h, json=agent_body))
    conversation = await _created(
        await studio.post("/studio/api/conversations/", headers=h, json={})
    )
    room = await _created(
        await studio.post("/studio/api/chat-rooms/", headers=h, json={"name": "r"})
    )
    tools = (await studio.get("/studio/api/tools/", headers=h)).json()["data"]["tools"]
    values = {
        "provider": provider,
        "agent": agent,
        "conversation": conversation,
        "room": room,
        "owner_name": owner.name,
        "provider_id": provider,
        "agent_id": agent,
        "conversation_id": conversation,
        "room_id": room,
        "message_id": UNKNOWN_IDS["message_id"],  # a real one needs a model's answer
        "name": tools[0]["name"],
    }
    _CONTEXTS[server.url] = context = Context(owner, values)
    return context


def _fill(value: Any, values: dict[str, str]) -> Any:
    if isinstance(value, str):
        for name, replacement in values.items():
            value = value.replace("{" + name + "}", replacement)
        return value
    if isinstance(value, dict):
        return {k: _fill(v, values) for k, v in value.items()}
    if isinstance(value, list):
        return [_fill(v, values) for v in value]
    return value


async def _chunks(content: bytes, size: int = 65_536) -> AsyncIterator[bytes]:
    for start in range(0, len(content), size):
        yield content[start : start + size]


def assert_studio_shape(response: httpx.Response, status: int) -> None:
    """Exactly `{"success": false, "error": <non-empty str>, "code": status}`, as JSON."""
    assert response.status_code == status, (
        f"expected {status}, got {response.status_code}: {response.text[:500]}"
    )
    assert response.headers.get("content-type", "").startswith("application/json")
    assert "Traceback" not in response.text
    body = response.json()
    assert isinstance(body, dict) and set(body) == {"success", "error", "code"}, body
    assert body["success"] is False, body
    assert isinstance(body["error"], str) and body["error"].strip(), body
    assert type(body["code"]) is int and body["code"] == status, body


# One store: see `answered_from_request`.
@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
@pytest.mark.parametrize(("key", "case"), REQUEST_CASES)
async def test_studio_bad_request(
    studio: httpx.AsyncClient, studio_server: ServerProcess, key: tuple[str, str], case: Case
) -> None:
    await _check(studio, studio_server, key, case)


@pytest.mark.parametrize(("key", "case"), STORE_CASES)
async def test_studio_bad_input_on_stored_state(
    studio: httpx.AsyncClient, studio_server: ServerProcess, key: tuple[str, str], case: Case
) -> None:
    await _check(studio, studio_server, key, case)


async def _check(
    studio: httpx.AsyncClient, studio_server: ServerProcess, key: tuple[str, str], case: Case
) -> None:
    method, template = key
    ctx = await _context(studio, studio_server)
    values = {**ctx.values, "fresh": unique_name("u")[-40:]}
    headers: dict[str, str] = {}
    if case.credentials == "owner":
        headers.update(ctx.owner.headers)
    elif case.credentials != "none":
        headers["Authorization"] = case.credentials
    path = PATH_PARAM.sub(lambda m: case.ids.get(m[1], values[m[1]]), template)
    kwargs: dict[str, Any] = {"params": case.params}
    if case.content is not None:
        kwargs["content"] = _chunks(case.content) if case.chunked else case.content
        headers.update(JSON)
    elif case.body is not None:
        kwargs["content"] = json.dumps(_fill(case.body, values)).encode()
        headers.update(JSON)
    log_offset = len(studio_server.log())

    response = await studio.request(method, path, headers=headers, **kwargs)

    assert_studio_shape(response, case.status)
    assert_no_server_errors(studio_server, log_offset)


async def test_unrouted_studio_paths_answer_in_the_studio_shape(
    studio: httpx.AsyncClient, studio_server: ServerProcess
) -> None:
    """A /studio path no route serves is 404, a served path with another method 405 (with
    Allow), both in seed 004's shape, never /v1's."""
    log_offset = len(studio_server.log())
    assert_studio_shape(await studio.get("/studio/api/no-such-area"), 404)
    assert_studio_shape(await studio.get("/studio/api/providers/a%2Fb"), 404)
    response = await studio.patch("/studio/api/auth/me")
    assert_studio_shape(response, 405)
    assert "GET" in response.headers["allow"]
    assert_no_server_errors(studio_server, log_offset)
