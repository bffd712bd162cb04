"""Live connections cut by a credential's revocation, for tests/realtime/test_revocation.py
(one node) and tests/cluster/test_revocation.py (revoked on one node, cut on another): one
body, `assert_revocation_cuts`, for both."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING

import httpx
import pytest
from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosed, InvalidStatus

from tests import conftest
from tests.api.helpers import assert_error
from tests.conftest import unique_name
from tests.realtime.test_sse import Stream, open_stream
from tests.realtime.test_websocket import open_ws, wait_live
from tests.server import ServerProcess

if TYPE_CHECKING:  # imported by name, pytest would try to collect it as a test class
    from tests.conftest import TestAgent as Agent

CUT_WITHIN_SECS = 1.0
CLOSE_REVOKED = 4001
PASSWORD = "correct horse battery"


@dataclass
class Cut:
    """How each transport ended after the revocation, and how long after it."""

    ws_code: int | None
    sse_last_event: str
    poll_status: int
    elapsed: dict[str, float]


async def ws_closed(ws: ClientConnection) -> int | None:
    """Reads until the server closes; the close code."""
    try:
        while True:
            await ws.recv()
    except ConnectionClosed as closed:
        return closed.rcvd.code if closed.rcvd else None


async def _sse_ended(stream: Stream) -> str:
    """Reads until the server ends the stream; the last event's name."""
    last = ""
    async for event in stream.events:
        if event.event not in ("", ":"):
            last = event.event if event.event != "error" else event.data
    return last


@asynccontextmanager
async def live_connections(
    server: ServerProcess, http: httpx.AsyncClient, holder: Agent
) -> AsyncIterator[Callable[[Callable[[], Awaitable[object]]], Awaitable[Cut]]]:
    """A WebSocket, an event stream and a parked long-poll with `holder`'s credential; yields
    `cut(revoke)`, which runs `revoke` and waits for all three to end."""
    async with AsyncExitStack() as stack:
        ws = await stack.enter_async_context(open_ws(server, holder))
        await wait_live(ws)
        stream = await stack.enter_async_context(open_stream(http, holder))
        await stream.wait_live()
        poll = asyncio.create_task(
            http.get("/v1/messages/pending", headers=holder.headers, params={"timeout": 30})
        )
        await asyncio.sleep(0.3)  # parked
        assert not poll.done()

        async def cut(revoke: Callable[[], Awaitable[object]]) -> Cut:
            started = time.monotonic()
            elapsed: dict[str, float] = {}

            async def timed(name: str, waiter: Awaitable[object]) -> object:
                result = await asyncio.wait_for(waiter, 10)
                elapsed[name] = time.monotonic() - started
                return result

            await revoke()
            code, last, answer = await asyncio.gather(
                timed("websocket", ws_closed(ws)),
                timed("sse", _sse_ended(stream)),
                timed("longpoll", poll),
            )
            assert isinstance(answer, httpx.Response)
            return Cut(code, str(last), answer.status_code, elapsed)  # type: ignore[arg-type]

        try:
            yield cut
        finally:
            poll.cancel()


def assert_cut(cut: Cut) -> None:
    assert cut.ws_code == CLOSE_REVOKED, cut
    assert "invalid_credentials" in cut.sse_last_event, cut
    assert cut.poll_status == 401, cut
    assert max(cut.elapsed.values()) < CUT_WITHIN_SECS, cut.elapsed


async def old_credential_is_refused(
    server: ServerProcess, http: httpx.AsyncClient, holder: Agent
) -> None:
    with pytest.raises(InvalidStatus) as refused:
        async with open_ws(server, holder):
            pass
    assert refused.value.response.status_code == 401
    response = await http.get("/v1/stream", headers=holder.headers)
    assert_error(response, 401, "invalid_credentials")
    response = await http.get("/v1/messages/pending", headers=holder.headers)
    assert_error(response, 401, "invalid_credentials")


def with_key(agent: Agent, key: str) -> Agent:
    return conftest.TestAgent(agent.id, key, agent.display_name, agent.recovery_secret)


async def _login(http: httpx.AsyncClient, name: str) -> str:
    response = await http.post("/v1/users/login", json={"display_name": name, "password": PASSWORD})
    assert response.status_code == 200, response.text
    return str(response.json()["token"])


async def human(http: httpx.AsyncClient) -> tuple[Agent, Agent]:
    """One human logged in twice: two sessions."""
    name = unique_name("human")
    response = await http.post(
        "/v1/users/register", json={"display_name": name, "password": PASSWORD}
    )
    assert response.status_code == 201, response.text
    human_id = response.json()["id"]
    first = conftest.TestAgent(human_id, response.json()["token"], name, "")
    return first, conftest.TestAgent(human_id, await _login(http, name), name, "")


async def revoke(http: httpx.AsyncClient, holder: Agent, how: str) -> httpx.Response:
    """Revokes `holder`'s credential: "rotate-key", "recover" or "delete" (an agent's key, or
    every session of a human), "logout" (a human's session); the successful answer."""
    if how == "rotate-key":
        response = await http.post("/v1/agents/me/rotate-key", headers=holder.headers)
    elif how == "recover":
        secret = holder.recovery_secret
        response = await http.post("/v1/agents/recover", json={"recovery_secret": secret})
    elif how == "delete":
        response = await http.delete("/v1/agents/me", headers=holder.headers)
    else:
        assert how == "logout", how
        response = await http.post("/v1/users/logout", headers=holder.headers)
    assert response.status_code in (200, 204), response.text
    return response


async def assert_revocation_cuts(
    how: str,
    holder: Agent,
    *,
    via: httpx.AsyncClient,
    node: ServerProcess,
    node_http: httpx.AsyncClient,
) -> httpx.Response:
    """Revokes `holder`'s credential `how` through `via`: its WebSocket, event stream and parked
    long-poll on `node` end at once, and `node` refuses the credential from then on (its
    cache included). The revocation's answer."""
    answers: list[httpx.Response] = []

    async def revoke_it() -> None:
        answers.append(await revoke(via, holder, how))

    async with live_connections(node, node_http, holder) as cut:
        assert_cut(await cut(revoke_it))
    assert_error(await node_http.get("/v1/agents/me", headers=holder.headers), 401)
    await old_credential_is_refused(node, node_http, holder)
    return answers[0]
