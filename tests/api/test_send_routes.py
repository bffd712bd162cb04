"""The two send endpoints have one implementation (api/sends.py::SendRoutes); their FastAPI
routes are OpenAPI declarations only, built from the same models and constraints.

These tests hold the two together: the OpenAPI entries are the models', the declared route
bodies cannot serve a request, and every POST to the two paths is answered (never a 500, so
never by a declaration) with the documented statuses and error shape.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import httpx
import pytest
from pydantic import BaseModel

from agentplaza.api.routes import groups as group_routes
from agentplaza.api.routes import messages as message_routes
from agentplaza.api.schemas.groups import GROUP_ID_MAX_CHARS, SendGroupMessageIn
from agentplaza.api.schemas.messages import SendMessageIn
from agentplaza.api.sends import GROUP_SEND_PATH, SEND_PATH
from agentplaza.domain.messages import IDEMPOTENCY_KEY_MAX_CHARS
from tests.api.helpers import assert_error, assert_no_server_errors
from tests.server import ServerProcess

if TYPE_CHECKING:
    from tests.conftest import TestAgent

REF = "#/components/schemas/{model}"


def _plain(schema: Any) -> Any:
    """`schema` without `"default": null` (FastAPI leaves it out of OpenAPI; pydantic writes it)."""
    if isinstance(schema, dict):
        return {k: _plain(v) for k, v in schema.items() if not (k == "default" and v is None)}
    if isinstance(schema, list):
        return [_plain(v) for v in schema]
    return schema


def _resolve(spec: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    ref = schema.get("$ref")
    if ref is None:
        return schema
    found: dict[str, Any] = spec["components"]["schemas"][ref.rsplit("/", 1)[1]]
    return found


@pytest.mark.parametrize(
    ("path", "model"), [(SEND_PATH, SendMessageIn), (GROUP_SEND_PATH, SendGroupMessageIn)]
)
async def test_openapi_entries_are_the_models(
    client: httpx.AsyncClient, path: str, model: type[BaseModel]
) -> None:
    spec = (await client.get("/openapi.json")).json()
    operation = spec["paths"][path]["post"]
    body = operation["requestBody"]["content"]["application/json"]["schema"]
    expected = model.model_json_schema(ref_template=REF)
    nested = expected.pop("$defs", {})
    assert _plain(_resolve(spec, body)) == _plain(expected)
    for name, schema in nested.items():  # ContentIn, as the body model refers to it
        assert _plain(spec["components"]["schemas"][name]) == _plain(schema)
    params = {(p["in"], p["name"]): p for p in operation["parameters"]}
    key = params[("header", "idempotency-key")]
    assert key["required"] is False
    assert {"type": "string", "maxLength": IDEMPOTENCY_KEY_MAX_CHARS} in key["schema"]["anyOf"]
    if path == GROUP_SEND_PATH:
        assert params[("path", "group_id")]["schema"]["maxLength"] == GROUP_ID_MAX_CHARS
    assert "201" in operation["responses"]


@pytest.mark.parametrize(
    ("declared", "path_params"),
    [(message_routes.send_message, {}), (group_routes.send_group_message, {"group_id": "g"})],
)
async def test_declared_routes_have_no_handler_body(
    declared: Any, path_params: dict[str, str]
) -> None:
    with pytest.raises(RuntimeError, match=r"api/sends\.py"):
        await declared(body=None, account=None, idempotency_key=None, **path_params)


async def test_every_send_request_is_answered_by_the_send_routes(
    client: httpx.AsyncClient, server: ServerProcess, alice: TestAgent, bob: TestAgent
) -> None:
    made = await client.post(
        "/v1/groups", headers=alice.headers, json={"name": "g", "members": [bob.id]}
    )
    assert made.status_code == 201, made.text
    group = made.json()["id"]
    offset = len(server.log())
    dm = {"to": bob.id, "content": {"body": "hi"}}
    gm = {"content": {"body": "hi"}}
    json_ = {"Content-Type": "application/json"}
    cases: list[tuple[str, dict[str, str], bytes, int, str | None]] = [
        (SEND_PATH, alice.headers, b"", 400, "validation_error"),
        (SEND_PATH, {}, b"{}", 401, "unauthenticated"),
        (SEND_PATH, alice.headers, b"{bad", 400, "invalid_json"),
        (SEND_PATH, alice.headers, b"[1]", 400, "validation_error"),
        (SEND_PATH, {**alice.headers, "Content-Type": "text/plain"}, b"x", 400, None),
        (
            SEND_PATH,
            {**alice.headers, "Idempotency-Key": "k" * (IDEMPOTENCY_KEY_MAX_CHARS + 1)},
            httpx.Request("POST", "/", json=dm).content,
            400,
            "validation_error",
        ),
    ]
    for group_id, status, code in [
        (group, 201, None),
        ("00000000-0000-4000-8000-000000000000", 404, None),
        ("not-a-uuid", 404, "group_not_found"),
        ("%C3%A9", 404, "group_not_found"),
        ("g" * GROUP_ID_MAX_CHARS, 404, "group_not_found"),
        ("g" * (GROUP_ID_MAX_CHARS + 1), 400, "validation_error"),
    ]:
        path = f"/v1/groups/{group_id}/messages"
        body = httpx.Request("POST", "/", json=gm).content
        cases.append((path, alice.headers, body, status, code))
        cases.append((path, {}, body, 401, "unauthenticated"))
        cases.append((path, alice.headers, b"{bad", 400, "invalid_json"))
    cases.append((SEND_PATH, alice.headers, httpx.Request("POST", "/", json=dm).content, 201, None))
    for path, headers, content, status, code in cases:
        response = await client.post(path, headers={**json_, **headers}, content=content)
        if status == 201:
            assert response.status_code == 201, (path, response.text)
            assert response.json()["status"] == "accepted"
        else:
            assert_error(response, status, code)
    assert_no_server_errors(server, offset)
