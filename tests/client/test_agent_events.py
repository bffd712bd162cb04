"""Agent handlers for each kind of delivery, accept_friend, and a reconnect that neither
misses nor repeats what arrived while the line was down."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx

from agentplaza.sdk import Agent, ReceivedMessage
from tests.conftest import TestAgent as Registered
from tests.conftest import register, unique_name
from tests.netproxy import DroppableProxy
from tests.server import ServerProcess


async def until(condition, what: str, within: float = 20) -> None:  # type: ignore[no-untyped-def]
    async with asyncio.timeout(within):
        while not condition():  # noqa: ASYNC110 (conditions on plain lists)
            await asyncio.sleep(0.05)


async def test_each_handler_gets_its_kind(
    server: ServerProcess,
    client: httpx.AsyncClient,
    alice: Registered,
    bob: Registered,
    tmp_path: Path,
) -> None:
    carol = await register(client, unique_name("carol"))
    agent = Agent(bob.api_key, server=server.url, state_dir=str(tmp_path))
    got: list[tuple[str, str]] = []

    @agent.on_friend_request
    async def friend(req: ReceivedMessage) -> None:
        await req.accept()  # recorded once accepted: the test then reads the friendship
        got.append(("friend_request", req.requester))

    @agent.on_mention
    async def mention(msg: ReceivedMessage) -> None:
        got.append(("mention", msg.body))

    @agent.on_group_message
    def group(msg: ReceivedMessage) -> None:  # plain functions work too
        got.append(("group", msg.body))

    @agent.on_notification
    async def notification(msg: ReceivedMessage) -> None:
        got.append((msg.type, msg.sender_id))

    @agent.on_message
    async def direct(msg: ReceivedMessage) -> None:
        got.append(("message", msg.sender_id))

    task = asyncio.create_task(agent.start())
    try:
        h = alice.headers
        await client.post("/v1/friends/request", headers=h, json={"addressee": bob.id})
        await until(lambda: ("friend_request", alice.id) in got, "the friend request")
        friends = (await client.get("/v1/friends", headers=alice.headers)).json()["friends"]
        assert [f["id"] for f in friends] == [bob.id]

        made = await client.post(
            "/v1/groups", headers=h, json={"name": "g", "members": [bob.id, carol.id]}
        )
        gid = made.json()["group_id"]
        await client.post(f"/v1/groups/{gid}/messages", headers=h, json={"body": f"@{bob.id} look"})
        await client.post(f"/v1/groups/{gid}/messages", headers=h, json={"body": "all"})
        moment = (
            await client.post("/v1/moments", headers=bob.headers, json={"content": "m"})
        ).json()
        await client.post(f"/v1/moments/{moment['id']}/like", headers=carol.headers)
        await client.post("/v1/messages", headers=carol.headers, json={"to": bob.id, "body": "dm"})
        await until(lambda: len(got) >= 5, "every delivery")
    finally:
        await agent.stop()
        await task
    assert sorted(got) == sorted(
        [
            ("friend_request", alice.id),
            ("mention", f"@{bob.id} look"),
            ("group", "all"),
            ("moment_like", carol.id),
            ("message", carol.id),
        ]
    )


async def test_reconnect_catches_up_without_repeats(
    server: ServerProcess,
    client: httpx.AsyncClient,
    alice: Registered,
    bob: Registered,
    tmp_path: Path,
) -> None:
    proxy = DroppableProxy(server.url, 80)
    await proxy.start()
    agent = Agent(bob.api_key, server=proxy.url, state_dir=str(tmp_path))
    handled: list[str] = []
    events: list[str] = []
    agent.on_connect(lambda: events.append("connect"))
    agent.on_disconnect(lambda: events.append("disconnect"))

    @agent.on_message
    async def handle(msg: ReceivedMessage) -> None:
        handled.append(msg.body)

    async def send(body: str) -> None:
        r = await client.post(
            "/v1/messages", headers=alice.headers, json={"to": bob.id, "body": body}
        )
        assert r.status_code == 201

    task = asyncio.create_task(agent.start())
    try:
        await until(lambda: events == ["connect"], "the first connection")
        for i in range(5):
            await send(f"before {i}")
        await until(lambda: len(handled) == 5, "the first messages")
        await proxy.drop()
        await until(lambda: "disconnect" in events, "the disconnect")
        for i in range(5):
            await send(f"during {i}")
        await proxy.start()
        await until(lambda: events.count("connect") == 2, "the reconnect", within=30)
        await send("after")
        await until(lambda: len(handled) >= 11, "every message")
        await asyncio.sleep(0.5)
    finally:
        await agent.stop()
        await task
        await proxy.drop()
    assert handled == [f"before {i}" for i in range(5)] + [f"during {i}" for i in range(5)] + [
        "after"
    ]


async def test_stop_from_a_handler_ends_start_promptly(
    server: ServerProcess,
    client: httpx.AsyncClient,
    alice: Registered,
    bob: Registered,
    tmp_path: Path,
) -> None:
    agent = Agent(bob.api_key, server=server.url, state_dir=str(tmp_path))

    @agent.on_message
    async def handle(msg: ReceivedMessage) -> None:
        await agent.stop()

    task = asyncio.create_task(agent.start())
    await client.post("/v1/messages", headers=alice.headers, json={"to": bob.id, "body": "stop"})
    async with asyncio.timeout(5):  # not the 10 s grace: the handler does not wait for itself
        await task
    left = await client.get("/v1/messages/pending", headers=bob.headers)
    assert left.json() == []  # the stopping handler's message was still recorded and acked
