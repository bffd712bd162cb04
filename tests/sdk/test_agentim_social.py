"""The real, unmodified `agentim` 0.1.6 SDK on friends and search: `AgentIMClient.add_friend /
accept_friend / friends / search`, and an `Agent` receiving a friend_request event and accepting
it with `FriendRequest.accept()` (agentim-wire.md §3.4, §4, §10)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

import httpx
import pytest
from agentim import Agent, AgentIMError, FriendRequest, NotFoundError

from tests.conftest import register, unique_name
from tests.sdk.conftest import (
    EVENT_TIMEOUT,
    SDK_LEAKS,
    RunningAgent,
    sdk_client,
    stop_agent,
    wait_connected,
)
from tests.server import ServerProcess

if TYPE_CHECKING:
    from tests.conftest import TestAgent


pytestmark = SDK_LEAKS


async def http_pending(client: httpx.AsyncClient, who: TestAgent) -> list[dict[str, object]]:
    response = await client.get("/v1/messages/pending", params={"timeout": 0}, headers=who.headers)
    assert response.status_code == 200, response.text
    items: list[dict[str, object]] = response.json()
    return items


@contextlib.asynccontextmanager
async def friendly_agent(
    url: str, who: TestAgent
) -> AsyncIterator[tuple[RunningAgent, asyncio.Queue[FriendRequest]]]:
    """An Agent that accepts every friend request with `await req.accept()`."""
    agent = Agent(api_key=who.api_key, server=url, log_level=logging.WARNING)
    requests: asyncio.Queue[FriendRequest] = asyncio.Queue()

    @agent.on_friend_request
    async def _on_friend_request(req: FriendRequest) -> None:
        await req.accept()
        requests.put_nowait(req)

    @agent.on_connect
    async def _on_connect() -> None:
        running.connected.set()

    task = asyncio.create_task(agent.start(), name=f"agentim-friendly-{who.id}")
    running = RunningAgent(agent=agent, task=task)
    try:
        await wait_connected(running)
        yield running, requests
    finally:
        await stop_agent(running)


async def test_client_add_accept_friends_and_search(
    server: ServerProcess, client: httpx.AsyncClient
) -> None:
    tag = unique_name("sdkfriend")
    alice = await register(client, f"{tag}-alice", bio="sdk social test")
    bob = await register(client, f"{tag}-bob")

    async with sdk_client(server.url, alice) as a, sdk_client(server.url, bob) as b:
        found = await a.search(tag)
        assert [f["id"] for f in found] == [alice.id, bob.id]
        assert found[0]["display_name"] == alice.display_name
        assert found[0]["bio"] == "sdk social test"

        sent = await a.add_friend(bob.id)
        assert (sent["requester"], sent["addressee"], sent["status"]) == (
            alice.id,
            bob.id,
            "pending",
        )
        # Bob's long-poll (the SDK's `pending`) carries the friend_request event.
        [event] = await b.pending(timeout=5)
        assert event["type"] == "friend_request"
        assert (event["requester"], event["display_name"]) == (alice.id, alice.display_name)
        assert isinstance(event["seq"], int)
        await b.ack(event["id"])

        accepted = await b.accept_friend(alice.id)
        assert accepted["status"] == "accepted"
        assert [f["id"] for f in await a.friends()] == [bob.id]
        assert [f["id"] for f in await b.friends()] == [alice.id]

        # Friends' DMs say so in their security context.
        await a.send(to=bob.id, body="hello, friend")
        [dm] = await b.pending(timeout=5)
        assert (dm["scene"], dm["sender_relation"], dm["trust_level"]) == (
            "dm",
            "friend",
            "trusted",
        )

        # Opting out of search hides Alice from it, not from her friends.
        response = await client.put(
            "/v1/agents/settings", headers=alice.headers, json={"discoverable": False}
        )
        assert response.status_code == 200, response.text
        assert [f["id"] for f in await b.search(tag)] == [bob.id]
        assert [f["id"] for f in await b.friends()] == [alice.id]


@pytest.mark.slow
async def test_agent_accepts_a_friend_request_event(
    server: ServerProcess, client: httpx.AsyncClient
) -> None:
    alice, bob = await register(client), await register(client)
    async with friendly_agent(server.url, bob) as (running, requests):
        assert running.agent.id == bob.id
        # Alice uses the SDK's own call, with a greeting.
        async with sdk_client(server.url, alice) as a:
            # AgentIMClient.add_friend sends no greeting; its ApiClient (what Agent.add_friend
            # calls) does.
            await a._api.add_friend(bob.id, "hi from the SDK")
            req = await asyncio.wait_for(requests.get(), EVENT_TIMEOUT)
            assert (req.from_id, req.from_name, req.message) == (
                alice.id,
                alice.display_name,
                "hi from the SDK",
            )
            assert [f["id"] for f in await a.friends()] == [bob.id]
            response = await client.get("/v1/friends", headers=bob.headers)
            assert [f["id"] for f in response.json()["friends"]] == [alice.id]

        # The Agent acked the event after its handler returned.
        deadline = asyncio.get_running_loop().time() + EVENT_TIMEOUT
        while await http_pending(client, bob):
            assert asyncio.get_running_loop().time() < deadline, "event never acked"
            await asyncio.sleep(0.05)


async def test_unknown_accounts_raise_not_found_and_bad_input_a_400(
    server: ServerProcess, client: httpx.AsyncClient
) -> None:
    """Seed 001: 404 "Agent does not exist", whatever the id looks like; the SDK raises
    NotFoundError for a 404 only. Malformed parameters are a 400 (the table has no 422)."""
    alice = await register(client, unique_name("sdk404"))
    async with sdk_client(server.url, alice) as a:
        for unknown in ("someone-who-does-not-exist", "99999999"):
            with pytest.raises(NotFoundError):
                await a.send(to=unknown, body="hello?")
            with pytest.raises(NotFoundError):
                await a.add_friend(unknown)
            with pytest.raises(NotFoundError):
                await a.accept_friend(unknown)
            with pytest.raises(NotFoundError):
                await a.create_group(unique_name("g"), [unknown])
        with pytest.raises(AgentIMError) as bad:
            await a.send(to=alice.id, body="hi", format="video")
        assert bad.value.status_code == 400
