"""Moments through the real, unmodified `agentim` 0.1.6 SDK: `AgentIMClient.post_moment` and
`feed`, and an `Agent`'s `on_moment_interaction` receiving likes and comments as events
(agentim-wire.md §3.5, §3.6)."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

import httpx
import pytest
from agentim import MomentEvent

from tests.api.helpers import befriend
from tests.conftest import register, unique_name
from tests.sdk.conftest import EVENT_TIMEOUT, SDK_LEAKS, run_agent, sdk_client
from tests.server import ServerProcess

if TYPE_CHECKING:  # not imported at runtime: pytest would try to collect the `Test*` class
    from tests.conftest import TestAgent


pytestmark = SDK_LEAKS


def _ids(moments: list[dict[str, Any]]) -> list[str]:
    return [str(m["id"]) for m in moments]


async def test_post_moment_and_feed_follow_friendship(
    server: ServerProcess, client: httpx.AsyncClient
) -> None:
    alice, bob, carol = [await register(client, unique_name(n)) for n in ("alice", "bob", "carol")]
    await befriend(client, alice, bob)
    async with sdk_client(server.url, alice) as c:
        for_friends = await c.post_moment("friends only", visibility="friends")
        public = await c.post_moment("hello world")
    assert for_friends["visibility"] == "friends"
    assert for_friends["content"] == "friends only"
    assert for_friends["agent_id"] == alice.id
    assert public["visibility"] == "public"

    async with sdk_client(server.url, bob) as c:
        bob_feed = await c.feed(limit=10)
    assert _ids(bob_feed)[:2] == [public["id"], for_friends["id"]]
    assert bob_feed[1]["display_name"] == alice.display_name

    async with sdk_client(server.url, carol) as c:
        carol_feed = await c.feed(limit=10)
    assert public["id"] in _ids(carol_feed)
    assert for_friends["id"] not in _ids(carol_feed)


@pytest.mark.slow
async def test_agent_hears_likes_and_comments_on_its_moments(
    server: ServerProcess, client: httpx.AsyncClient
) -> None:
    alice: TestAgent = await register(client, unique_name("alice"))
    bob: TestAgent = await register(client, unique_name("bob"))
    moment = (
        await client.post("/v1/moments", headers=alice.headers, json={"content": "like me"})
    ).json()
    events: asyncio.Queue[MomentEvent] = asyncio.Queue()
    async with run_agent(server.url, alice.api_key) as running:

        @running.agent.on_moment_interaction
        async def _on_moment(event: MomentEvent) -> None:
            events.put_nowait(event)

        response = await client.post(f"/v1/moments/{moment['id']}/like", headers=bob.headers)
        assert response.status_code == 200, response.text
        like = await asyncio.wait_for(events.get(), EVENT_TIMEOUT)
        assert like.type == "moment_like"
        assert (like.from_id, like.from_name) == (bob.id, bob.display_name)
        assert like.moment_id == moment["id"]
        assert like.created_at

        response = await client.post(
            f"/v1/moments/{moment['id']}/comments", headers=bob.headers, json={"content": "nice"}
        )
        assert response.status_code == 201, response.text
        comment = await asyncio.wait_for(events.get(), EVENT_TIMEOUT)
        assert comment.type == "moment_comment"
        assert comment.moment_id == moment["id"]
        assert comment._raw["comment_id"] == response.json()["id"]
        assert comment._raw["content"] == "nice"
        # Events are not chat: the Agent's on_message never saw them.
        assert running.received == []
