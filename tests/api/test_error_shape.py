"""Every error path answers with the one error shape `{"detail": str, "code": str}`.

The agentim SDK turns any non-2xx into an exception using `body.get("detail")`: the body must be a
non-empty JSON object (agentim-wire.md §2). Codes are the ones in agentplaza/domain/errors.py.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import TYPE_CHECKING

import httpx
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from tests.api.helpers import assert_error, send
from tests.conftest import register, unique_name
from tests.server import ServerProcess

if TYPE_CHECKING:  # imported at runtime, pytest would try to collect the class
    from tests.conftest import TestAgent

DEFAULT_MAX_BODY = 1_048_576

# --- 400: malformed JSON ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "raw",
    [b"{bad", b'{"display_name": "x",}', b"{'display_name': 'x'}", b'{"display_name": "x"'],
    ids=["garbage", "trailing-comma", "single-quotes", "truncated"],
)
async def test_malformed_json_is_400_invalid_json(client: httpx.AsyncClient, raw: bytes) -> None:
    response = await client.post(
        "/v1/agents/register", content=raw, headers={"Content-Type": "application/json"}
    )
    assert_error(response, 400, "invalid_json")


async def test_malformed_json_on_authenticated_route(
    client: httpx.AsyncClient, alice: TestAgent
) -> None:
    response = await client.post(
        "/v1/messages",
        content=b'{"to": "10001", "content": {',
        headers={**alice.headers, "Content-Type": "application/json"},
    )
    assert_error(response, 400, "invalid_json")


# --- 401 ----------------------------------------------------------------------------------------


async def test_missing_key_is_401(client: httpx.AsyncClient) -> None:
    body = assert_error(await client.get("/v1/agents/me"), 401, "unauthenticated")
    assert "Bearer" in body["detail"]


@pytest.mark.parametrize(
    "headers",
    [
        {"Authorization": "Bearer am_not_a_real_key"},
        {"Authorization": "Bearer pt_not_a_real_token"},
        {"Authorization": "Bearer " + "x" * 5000},
        {"X-API-Key": "am_not_a_real_key"},
    ],
    ids=["bad-am", "bad-pt", "huge", "x-api-key"],
)
async def test_invalid_key_is_401(client: httpx.AsyncClient, headers: dict[str, str]) -> None:
    assert_error(
        await client.get("/v1/messages/pending", headers=headers), 401, "invalid_credentials"
    )


@pytest.mark.parametrize(
    "authorization", ["Basic YWxhZGRpbjpvcGVuc2VzYW1l", "Bearer", "Token am_x", "am_key_no_scheme"]
)
async def test_unusable_authorization_header_is_401(
    client: httpx.AsyncClient, authorization: str
) -> None:
    response = await client.get("/v1/agents/me", headers={"Authorization": authorization})
    assert_error(response, 401, "unauthenticated")


async def test_websocket_with_bad_key_is_refused_with_401_json(server: ServerProcess) -> None:
    with pytest.raises(InvalidStatus) as info:
        async with connect(
            server.ws_url, additional_headers={"Authorization": "Bearer am_nope"}, proxy=None
        ):
            pass
    response = info.value.response
    assert response.status_code == 401
    assert response.body
    assert_error(
        httpx.Response(
            401, headers={"content-type": "application/json"}, content=bytes(response.body)
        ),
        401,
        "unauthenticated",
    )


# --- 404 ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path", ["/nope", "/v1", "/v1/nothing/here", "/v2/messages", "/v1/messages/x/y/z"]
)
async def test_unknown_route_is_404(client: httpx.AsyncClient, path: str) -> None:
    assert_error(await client.get(path), 404, "not_found")


async def test_unknown_ids_are_404_with_specific_codes(
    client: httpx.AsyncClient, alice: TestAgent
) -> None:
    assert_error(await client.get("/v1/agents/999999999"), 404, "agent_not_found")
    assert_error(await client.get("/v1/profile/P999999999"), 404, "agent_not_found")
    missing_msg = "m_" + "0" * 26
    assert_error(
        await client.post(f"/v1/messages/{missing_msg}/ack", headers=alice.headers),
        404,
        "message_not_found",
    )
    assert_error(
        await client.get("/v1/threads/dm_00000000000000000000/messages", headers=alice.headers),
        404,
        "thread_not_found",
    )
    response = await client.post(
        "/v1/messages", headers=alice.headers, json={"to": "999999999", "body": "x"}
    )
    assert_error(response, 404, "agent_not_found")


# --- 405 ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [
        ("PUT", "/v1/agents/me", {"GET", "PATCH", "DELETE"}),
        ("GET", "/v1/users/register", {"POST"}),
        ("DELETE", "/v1/messages", {"POST"}),
        ("POST", "/v1/messages/pending", {"GET"}),
        ("POST", "/health", {"GET"}),
        ("PATCH", "/v1/messages/sync", {"GET"}),
    ],
)
async def test_wrong_method_is_405(
    client: httpx.AsyncClient, method: str, path: str, allowed: set[str]
) -> None:
    response = await client.request(method, path)
    assert_error(response, 405, "method_not_allowed")
    # Every method the path supports, not just the first matching route's (RFC 9110 §15.5.6).
    allow = {m.strip() for m in response.headers.get("allow", "").split(",") if m.strip()}
    assert allow == allowed, response.headers


# --- 409 ----------------------------------------------------------------------------------------


async def test_duplicate_name_is_409(client: httpx.AsyncClient, alice: TestAgent) -> None:
    response = await client.post(
        "/v1/agents/register", json={"display_name": alice.display_name.upper()}
    )
    assert_error(response, 409, "name_taken")


# --- 413 ----------------------------------------------------------------------------------------


async def test_oversize_body_with_content_length_is_413(
    client: httpx.AsyncClient, alice: TestAgent
) -> None:
    response = await client.post(
        "/v1/messages",
        headers={**alice.headers, "Content-Type": "application/json"},
        content=b"x" * (DEFAULT_MAX_BODY + 1),
    )
    assert response.request.headers["content-length"] == str(DEFAULT_MAX_BODY + 1)
    assert_error(response, 413, "payload_too_large")


async def _chunks(total: int, size: int = 64 * 1024) -> AsyncIterator[bytes]:
    sent = 0
    while sent < total:
        n = min(size, total - sent)
        sent += n
        yield b" " * n


async def test_oversize_chunked_body_is_413(client: httpx.AsyncClient, alice: TestAgent) -> None:
    response = await client.post(
        "/v1/messages",
        headers={**alice.headers, "Content-Type": "application/json"},
        content=_chunks(DEFAULT_MAX_BODY + 1),
    )
    assert response.request.headers.get("transfer-encoding") == "chunked"
    assert "content-length" not in response.request.headers
    assert_error(response, 413, "payload_too_large")


async def test_body_cap_boundary_on_small_server(
    server_factory: Callable[..., ServerProcess],
) -> None:
    """Exactly max_body_bytes is read; one byte more is 413, declared or chunked."""
    srv = server_factory(
        env={"AGENTPLAZA_MAX_BODY_BYTES": "1024", "AGENTPLAZA_RATE_LIMITS_ENABLED": "0"}
    )
    async with httpx.AsyncClient(base_url=srv.url, timeout=30) as c:
        name = unique_name()
        exact = f'{{"display_name": "{name}", "bio": "'.encode()
        exact += b"b" * (1024 - len(exact) - 2) + b'"}'
        assert len(exact) == 1024
        ok = await c.post(
            "/v1/agents/register", content=exact, headers={"Content-Type": "application/json"}
        )
        # The body is within the cap: it reaches validation (bio is over 500 chars → 400).
        assert_error(ok, 400, "validation_error")
        over = exact[:-2] + b'b"}'
        assert len(over) == 1025
        response = await c.post(
            "/v1/agents/register", content=over, headers={"Content-Type": "application/json"}
        )
        assert_error(response, 413, "payload_too_large")

        async def chunked() -> AsyncIterator[bytes]:
            yield over[:600]
            yield over[600:]

        response = await c.post(
            "/v1/agents/register", content=chunked(), headers={"Content-Type": "application/json"}
        )
        assert_error(response, 413, "payload_too_large")


# --- 400 ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({}, "display_name"),
        ({"display_name": 42}, "display_name"),
        ({"display_name": None}, "display_name"),
        ({"display_name": ["a"]}, "display_name"),
        ({"display_name": "ok-name", "bio": 7}, "bio"),
    ],
    ids=["missing", "int", "null", "list", "bio-int"],
)
async def test_wrong_types_and_missing_fields_are_400(
    client: httpx.AsyncClient, payload: dict[str, object], field: str
) -> None:
    body = assert_error(
        await client.post("/v1/agents/register", json=payload), 400, "validation_error"
    )
    assert body["detail"].startswith(field), body
    assert isinstance(body["errors"], list)
    assert body["errors"][0]["loc"] == ["body", field]


@pytest.mark.parametrize("raw", [b"[]", b'"text"', b"42", b"null", b"true"])
async def test_non_object_json_body_is_400(client: httpx.AsyncClient, raw: bytes) -> None:
    response = await client.post(
        "/v1/agents/register", content=raw, headers={"Content-Type": "application/json"}
    )
    assert_error(response, 400, "validation_error")


async def test_missing_body_is_400(client: httpx.AsyncClient) -> None:
    assert_error(await client.post("/v1/agents/register"), 400, "validation_error")


async def test_query_validation_is_400(client: httpx.AsyncClient, alice: TestAgent) -> None:
    response = await client.get(
        "/v1/messages/pending", headers=alice.headers, params={"timeout": "soon"}
    )
    body = assert_error(response, 400, "validation_error")
    assert body["errors"][0]["loc"] == ["query", "timeout"]


async def test_domain_validation_is_400(
    client: httpx.AsyncClient, alice: TestAgent, bob: TestAgent
) -> None:
    response = await client.post(
        "/v1/messages", headers=alice.headers, json={"to": bob.id, "body": ""}
    )
    assert_error(response, 400, "invalid_content")


# --- 429 ----------------------------------------------------------------------------------------


async def test_rate_limited_is_429_with_headers(
    server_factory: Callable[..., ServerProcess],
) -> None:
    srv = server_factory(
        env={
            "AGENTPLAZA_RATE_LIMITS_ENABLED": "1",
            "AGENTPLAZA_RATE_LIMIT_SEARCH_PER_MIN": "1",
            "AGENTPLAZA_RATE_LIMIT_MESSAGES_PER_SEC": "1",
        }
    )
    async with httpx.AsyncClient(base_url=srv.url, timeout=30) as c:
        first = await c.get("/v1/agents/search", params={"q": "x"})
        assert first.status_code == 200, first.text
        assert first.headers["X-RateLimit-Limit"] == "1"
        assert first.headers["X-RateLimit-Remaining"] == "0"

        limited = await c.get("/v1/agents/search", params={"q": "x"})
        body = assert_error(limited, 429, "rate_limited")
        assert "rate limit" in body["detail"]
        retry_after = int(limited.headers["Retry-After"])
        assert 1 <= retry_after <= 60  # one token per minute
        assert limited.headers["X-RateLimit-Limit"] == "1"
        assert limited.headers["X-RateLimit-Remaining"] == "0"
        assert 1 <= int(limited.headers["X-RateLimit-Reset"]) <= 60

        a = await register(c)
        b = await register(c)
        await send(c, a, b.id, "one")
        limited = await c.post("/v1/messages", headers=a.headers, json={"to": b.id, "body": "2"})
        assert_error(limited, 429, "rate_limited")
        assert int(limited.headers["Retry-After"]) == 1
