"""A studio chat room on a cluster: two nodes on one PostgreSQL database and one bus. Only
one node runs the room's floor at a time (the lease): a message accepted by the other node
while a turn runs is answered after it, and watchers on every node see the events."""

from __future__ import annotations

import asyncio
import base64
import json
import os
from collections.abc import Callable

from websockets.asyncio.client import connect

from tests.cluster.conftest import Cluster, clients, cluster_bus, cluster_factory  # noqa: F401
from tests.llmfake import FakeLLM
from tests.studio.conftest import STUDIO_ENV, register_human
from tests.studio.room_helpers import agent_messages, make_room, send, three_agents


async def test_one_floor_per_room_across_nodes(
    cluster_factory: Callable[..., Cluster],  # noqa: F811
    fake_llm: FakeLLM,
) -> None:
    secret = base64.b64encode(os.urandom(32)).decode()
    cluster = cluster_factory(**STUDIO_ENV, AGENTPLAZA_LLM_SECRET_KEY=secret)
    node_a, node_b = cluster.start_node(), cluster.start_node()
    async with clients(node_a, node_b, request_timeout=60) as (a, b):
        owner = await register_human(a)
        agents = await three_agents(a, owner, fake_llm)
        room = await make_room(a, owner, agents, policy="round_robin")
        url = node_b.url.replace("http://", "ws://")
        ws_url = f"{url}/studio/ws/chat-room/{room['id']}?token={owner.token}"
        async with connect(ws_url) as watcher:  # a watcher on node B
            for _ in range(4):  # connected, history, agents, its own join
                await watcher.recv()
            fake_llm.hold()
            first = asyncio.create_task(send(a, owner, room["id"], "first, on node A"))
            await fake_llm.until(lambda: fake_llm.in_flight == 1, within=30)
            # Node A holds the floor now; node B stores this one and leaves it to A.
            second = asyncio.create_task(send(b, owner, room["id"], "second, on node B"))
            seen: list[tuple[str, dict[str, object]]] = []
            while not any(k == "message" and d["content"] == "second, on node B" for k, d in seen):
                async with asyncio.timeout(30):
                    frame = json.loads(await watcher.recv())
                seen.append((frame["type"], frame["data"]))
            fake_llm.release()
            events_a, events_b = await first, await second
            while sum(1 for k, _ in seen if k == "done") < 2:
                async with asyncio.timeout(30):
                    frame = json.loads(await watcher.recv())
                seen.append((frame["type"], frame["data"]))
    assert fake_llm.max_in_flight == 1  # never two turns of the room at once
    assert len(fake_llm.chat_requests) == 2
    replies = agent_messages(events_a)
    assert [m["sender_id"] for m in replies] == [agents[0].id, agents[1].id]
    # Node B's SSE saw the answer to its message, produced on node A.
    assert agent_messages(events_b)[-1]["sender_id"] == agents[1].id
    typing = [d["is_typing"] for k, d in seen if k == "typing"]
    assert typing == [True, False, True, False]
