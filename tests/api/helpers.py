"""Shared assertions and small HTTP helpers for the API tests (all against a real server)."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import httpx

from tests.conftest import TestAgent
from tests.server import ServerProcess

WAIT_TIMEOUT = 10.0  # upper bound for any condition we wait for


def assert_error(response: httpx.Response, status: int, code: str | None = None) -> dict[str, Any]:
    """`response` is an error with `status` and the error shape `{"detail": str, "code": str}`.

    Also checks what the agentim SDK depends on: a JSON object body (never empty, never a list).
    """
    assert response.status_code == status, (
        f"expected {status}, got {response.status_code}: {response.text[:500]}"
    )
    assert response.headers.get("content-type", "").startswith("application/json"), (
        response.headers.get("content-type")
    )
    assert response.content, "an error must never have an empty body"
    body = response.json()
    assert isinstance(body, dict), body
    assert isinstance(body.get("detail"), str), body
    assert body["detail"], body
    assert isinstance(body.get("code"), str), body
    assert body["code"], body
    if code is not None:
        assert body["code"] == code, body
    return body


def assert_no_server_errors(server: ServerProcess, log_offset: int) -> None:
    """Nothing was logged as an unhandled/store error since `log_offset` (see errors.py); on
    failure the message holds the server's log from the first such line, traceback included."""
    lines = server.log()[log_offset:].splitlines()
    first = next(
        (
            i
            for i, line in enumerate(lines)
            if "unhandled error" in line or "store failure" in line or "Traceback" in line
        ),
        None,
    )
    assert first is None, "server logged errors:\n" + "\n".join(lines[first : first + 80])


def _recipient(to: TestAgent | str | int) -> str | int:
    return to.id if isinstance(to, TestAgent) else to


async def post_message(
    client: httpx.AsyncClient,
    sender: TestAgent,
    to: TestAgent | str | int,
    body: str | None = None,
    fmt: str | None = None,
    *,
    idempotency_key: str | None = None,
    **extra: Any,
) -> httpx.Response:
    """POST /v1/messages in the documented nested shape, whatever the answer; `body` defaults
    to a unique text, `extra` goes into the JSON (e.g. `signature`, `reply_to`)."""
    content: dict[str, Any] = {"body": f"m-{uuid.uuid4().hex}" if body is None else body}
    if fmt is not None:
        content["format"] = fmt
    headers = dict(sender.headers)
    if idempotency_key is not None:
        headers["Idempotency-Key"] = idempotency_key
    return await client.post(
        "/v1/messages", headers=headers, json={"to": _recipient(to), "content": content, **extra}
    )


async def send(
    client: httpx.AsyncClient,
    sender: TestAgent,
    to: TestAgent | str | int,
    body: str | None = None,
    fmt: str | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """post_message, asserting 201; returns the message."""
    response = await post_message(client, sender, to, body, fmt, **extra)
    assert response.status_code == 201, response.text
    data: dict[str, Any] = response.json()
    return data


async def befriend(client: httpx.AsyncClient, a: TestAgent, b: TestAgent) -> None:
    """Make `a` and `b` friends through the documented endpoints (agentim-wire §4)."""
    response = await client.post("/v1/friends/request", headers=a.headers, json={"addressee": b.id})
    assert response.status_code in (200, 201), response.text
    response = await client.post("/v1/friends/accept", headers=b.headers, json={"requester": a.id})
    assert response.status_code in (200, 201), response.text


async def pending(client: httpx.AsyncClient, agent: TestAgent, **params: Any) -> list[Any]:
    response = await client.get("/v1/messages/pending", headers=agent.headers, params=params)
    assert response.status_code == 200, response.text
    items: list[Any] = response.json()
    assert isinstance(items, list)
    return items


async def sync(client: httpx.AsyncClient, agent: TestAgent, **params: Any) -> dict[str, Any]:
    """`GET /v1/messages/sync` with `params` (everything, since_seq=0, when neither
    `since` nor `since_seq` is given)."""
    if "since" not in params:
        params.setdefault("since_seq", 0)
    response = await client.get("/v1/messages/sync", headers=agent.headers, params=params)
    assert response.status_code == 200, response.text
    data: dict[str, Any] = response.json()
    assert set(data) >= {"messages", "next_seq", "has_more"}, data
    return data


async def wait_until(
    condition: Callable[[], Awaitable[bool]], within: float = WAIT_TIMEOUT, what: str = ""
) -> None:
    """Re-check `condition` until it holds; fail after `within` seconds."""
    deadline = time.monotonic() + within
    while not await condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what or condition}")
        await asyncio.sleep(0.01)
