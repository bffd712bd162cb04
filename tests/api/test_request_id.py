"""Request ids: echoed when sane, generated otherwise, on every HTTP path (the send fast path
and error responses included), and carried by the server's log records (JSON lines)."""

from __future__ import annotations

import asyncio
import io
import json
import logging
import re
import uuid
from collections.abc import AsyncIterator, Callable, MutableMapping
from typing import TYPE_CHECKING, Any

import httpx
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from agentplaza.api.requestid import RequestId
from agentplaza.logs import ContextFilter, JsonFormatter, TextFormatter
from tests.conftest import register
from tests.server import ServerProcess

if TYPE_CHECKING:  # imported by name, pytest would try to collect it as a test class
    from tests.conftest import TestAgent

SANE = re.compile(r"[A-Za-z0-9._-]{1,64}")


async def test_sane_id_is_echoed(client: httpx.AsyncClient) -> None:
    given = "req-1.2_" + uuid.uuid4().hex
    response = await client.get("/health", headers={"X-Request-ID": given})
    assert response.headers["x-request-id"] == given


async def test_send_fast_path_and_its_errors_echo_the_id(
    client: httpx.AsyncClient, alice: TestAgent, bob: TestAgent
) -> None:
    body = {"to": bob.id, "content": {"format": "text", "body": "hi"}}
    sent = await client.post(
        "/v1/messages", json=body, headers={**alice.headers, "X-Request-ID": "send-ok"}
    )
    assert (sent.status_code, sent.headers["x-request-id"]) == (201, "send-ok")
    refused = await client.post("/v1/messages", json=body, headers={"X-Request-ID": "no-auth"})
    assert (refused.status_code, refused.headers["x-request-id"]) == (401, "no-auth")
    missing = await client.get("/no/such/route", headers={"X-Request-ID": "nowhere"})
    assert (missing.status_code, missing.headers["x-request-id"]) == (404, "nowhere")


async def test_send_path_refusals_echo_the_id(client: httpx.AsyncClient, alice: TestAgent) -> None:
    """A body over the cap is refused on the send path by its declared length and by count
    (chunked), each with the request id, as the middleware gives every other route."""

    async def chunked() -> AsyncIterator[bytes]:
        for _ in range(20):
            yield b" " * 65536

    for content, given in ((b" " * (2 * 1024 * 1024), "declared"), (chunked(), "chunked")):
        response = await client.post(
            "/v1/messages",
            content=content,
            headers={**alice.headers, "Content-Type": "application/json", "X-Request-ID": given},
        )
        assert (response.status_code, response.headers["x-request-id"]) == (413, given)
        assert response.json()["code"] == "payload_too_large"


@pytest.mark.parametrize(
    "given",
    [None, "", "x" * 65, "two words", "semi;colon", "new\\nline", "<script>"],
    ids=["absent", "empty", "too-long", "space", "semicolon", "backslash", "markup"],
)
async def test_id_is_generated_when_absent_or_insane(
    client: httpx.AsyncClient, given: str | None
) -> None:
    headers = {} if given is None else {"X-Request-ID": given}
    first = (await client.get("/health", headers=headers)).headers["x-request-id"]
    second = (await client.get("/health", headers=headers)).headers["x-request-id"]
    assert SANE.fullmatch(first) and SANE.fullmatch(second), (first, second)
    assert first != given and first != second


async def test_longest_sane_id_is_kept(client: httpx.AsyncClient) -> None:
    given = "a" * 64
    response = await client.get("/health", headers={"X-Request-ID": given})
    assert response.headers["x-request-id"] == given


def _json_lines(text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


async def test_server_json_log_lines_carry_the_request_id(
    server_factory: Callable[..., ServerProcess],
) -> None:
    srv = server_factory(env={"AGENTPLAZA_LOG_FORMAT": "json", "AGENTPLAZA_LOG_LEVEL": "info"})
    async with httpx.AsyncClient(base_url=srv.url, timeout=10) as http:
        agent = await register(http)
    refused_id, opened_id = f"ws-bad-{uuid.uuid4().hex}", f"ws-ok-{uuid.uuid4().hex}"
    with pytest.raises(InvalidStatus):
        async with connect(
            srv.ws_url,
            additional_headers={"Authorization": "Bearer nope", "X-Request-ID": refused_id},
            proxy=None,
        ):
            pass
    async with connect(
        srv.ws_url, additional_headers={**agent.headers, "X-Request-ID": opened_id}, proxy=None
    ):
        pass

    def logged(request_id: str) -> list[dict[str, Any]]:
        return [e for e in _json_lines(srv.log()) if e["request_id"] == request_id]

    async with asyncio.timeout(5):  # the server writes its log asynchronously to us
        while True:
            if logged(refused_id) and logged(opened_id):
                break
            await asyncio.sleep(0.05)
    # uvicorn logs both upgrades at INFO from inside the connection's task, in our format.
    assert any("401" in e["msg"] and e["level"] == "INFO" for e in logged(refused_id))
    assert any(e["msg"] == "connection open" for e in logged(opened_id))
    # Every line of the log is one JSON object, uvicorn's start-up lines included.
    entries = _json_lines(srv.log())
    assert all({"ts", "level", "logger", "msg", "request_id", "node"} <= set(e) for e in entries)
    assert any(e["msg"].startswith("Started server process") for e in entries)
    assert len({e["node"] for e in entries}) == 1


async def test_http_request_id_reaches_log_records() -> None:
    """In-process: a record logged while an HTTP request is served carries its id."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(ContextFilter("node-a"))
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger(f"test.requestid.{uuid.uuid4().hex}")
    logger.addHandler(handler)
    logger.propagate = False
    logger.setLevel(logging.INFO)

    async def app(scope: Any, receive: Any, send: Any) -> None:
        try:
            raise RuntimeError("boom")
        except RuntimeError:
            logger.exception("handler failed")
        await send({"type": "http.response.start", "status": 500, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    sent: list[MutableMapping[str, Any]] = []

    async def send(message: MutableMapping[str, Any]) -> None:
        sent.append(message)

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b""}

    scope = {"type": "http", "method": "GET", "path": "/", "headers": [(b"x-request-id", b"r-1")]}
    # Its own task, as uvicorn runs each request: the id must not leak into this one.
    await asyncio.get_running_loop().create_task(RequestId(app)(scope, receive, send))
    (entry,) = _json_lines(stream.getvalue())
    assert (entry["request_id"], entry["node"], entry["level"]) == ("r-1", "node-a", "ERROR")
    assert "RuntimeError: boom" in entry["exc_info"]
    assert (b"x-request-id", b"r-1") in sent[0]["headers"]
    logger.info("outside any request")
    assert _json_lines(stream.getvalue())[1]["request_id"] is None


def test_text_lines_show_the_request_id_only_inside_a_request() -> None:
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "hello %s", ("you",), None)
    ContextFilter("n").filter(record)
    assert TextFormatter().format(record).endswith(" INFO x: hello you")
    record.request_id = "r-2"
    assert TextFormatter().format(record).endswith(" INFO x [r-2]: hello you")
