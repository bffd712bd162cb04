"""Groups through the real, unmodified `agentim` 0.1.6 SDK (agentim-wire §4 group rows, §9).

AgentIMClient drives the management calls; an `Agent` with `on_group_message` and
`on_mention` handlers receives group messages over its WebSocket, routed by the SDK itself
(UUID-shaped thread id → group; `intent: "mentioned"` → mention).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import httpx
import pytest
from agentim import Agent, AgentIMError, AuthError, Message, NotFoundError

from tests.conftest import register
from tests.sdk.conftest import (
    EVENT_TIMEOUT,
    SDK_LEAKS,
    RunningAgent,
    sdk_client,
    stop_agent,
    wait_connected,
)
from tests.server import ServerProcess

if TYPE_CHECKING:  # not imported at runtime: pytest would try to collect the `Test*` class
    from tests.conftest import TestAgent


pytestmark = SDK_LEAKS


@dataclass
class GroupAgent:
    running: RunningAgent
    group_messages: asyncio.Queue[Message] = field(default_factory=asyncio.Queue)
    mentions: asyncio.Queue[Message] = field(default_factory=asyncio.Queue)
    direct: asyncio.Queue[Message] = field(default_factory=asyncio.Queue)


@contextlib.asynccontextmanager
async def run_group_agent(url: str, who: TestAgent, *, reply: bool) -> AsyncIterator[GroupAgent]:
    """An Agent whose group handler answers with `msg.reply()` when `reply` is set."""
    agent = Agent(api_key=who.api_key, server=url, log_level=logging.WARNING)

    @agent.on_message
    async def _direct(msg: Message) -> None:
        state.direct.put_nowait(msg)

    @agent.on_group_message
    async def _group(msg: Message) -> None:
        state.group_messages.put_nowait(msg)
        if reply:
            await msg.reply(f"re: {msg.body}")

    @agent.on_mention
    async def _mention(msg: Message) -> None:
        state.mentions.put_nowait(msg)

    @agent.on_connect
    async def _connected() -> None:
        state.running.connected.set()

    task = asyncio.create_task(agent.start(), name=f"agentim-group-{who.api_key[-6:]}")
    state = GroupAgent(running=RunningAgent(agent=agent, task=task))
    try:
        await wait_connected(state.running)
        yield state
    finally:
        await stop_agent(state.running)


async def test_client_manages_a_group_end_to_end(
    server: ServerProcess, client: httpx.AsyncClient
) -> None:
    owner, bob, carol = await asyncio.gather(*(register(client) for _ in range(3)))
    async with (
        sdk_client(server.url, owner) as o,
        sdk_client(server.url, bob) as b,
        sdk_client(server.url, carol) as c,
    ):
        group = await o.create_group("sdk group", [bob.id, carol.id])
        gid = group["id"]
        assert gid.count("-") == 4 and group["owner"] == owner.id

        info = await b.group_info(gid)
        assert info["name"] == "sdk group" and info["group_id"] == gid
        members = {m["agent_id"]: m["role"] for m in await b.group_members(gid)}
        assert members == {owner.id: "owner", bob.id: "member", carol.id: "member"}
        assert gid in {g["id"] for g in await c.my_groups()}

        sent = await o.send_group(gid, "hello from the SDK")
        assert sent["thread_id"] == gid and sent["id"]

        updated = await o.update_group(gid, name="renamed", avatar_url="https://example.com/a.png")
        assert updated["name"] == "renamed"

        role = await o.set_group_role(gid, bob.id, "admin")
        assert role["role"] == "admin"

        muted = await b.mute_member(gid, carol.id, 0)  # bob is an admin now
        assert muted["muted"] is True
        with pytest.raises(AuthError):  # 403 → AuthError in agentim 0.1.6
            await c.send_group(gid, "I am muted")
        await b.unmute_member(gid, carol.id)
        assert (await c.send_group(gid, "free again"))["thread_id"] == gid

        with pytest.raises(AgentIMError) as refused:  # the owner must transfer first
            await o.leave_group(gid)
        assert refused.value.status_code == 409

        transferred = await o.transfer_group(gid, bob.id)
        assert transferred["owner"] == bob.id
        await o.leave_group(gid)
        assert owner.id not in {m["agent_id"] for m in await b.group_members(gid)}

        await b.delete_group(gid)
        with pytest.raises(NotFoundError):
            await b.group_info(gid)
        with pytest.raises(NotFoundError):
            await c.group_info(gid)
        assert await c.my_groups() == []


async def test_agent_receives_group_messages_and_mentions_and_replies_in_the_group(
    server: ServerProcess, client: httpx.AsyncClient
) -> None:
    owner, bot, listener = await asyncio.gather(*(register(client) for _ in range(3)))
    async with (
        sdk_client(server.url, owner) as o,
        run_group_agent(server.url, bot, reply=True) as replying,
        run_group_agent(server.url, listener, reply=False) as watching,
    ):
        gid = (await o.create_group("agents", [bot.id, listener.id]))["id"]

        sent = await o.send_group(gid, "status?")
        got = await asyncio.wait_for(replying.group_messages.get(), EVENT_TIMEOUT)
        assert (got.id, got.sender, got.body, got.thread_id) == (
            sent["id"],
            owner.id,
            "status?",
            gid,
        )
        # The bot's msg.reply() (a DM carrying the group's thread id) lands in the group:
        # the listener gets the original and the reply, both as group messages.
        seen = [
            await asyncio.wait_for(watching.group_messages.get(), EVENT_TIMEOUT) for _ in range(2)
        ]
        assert [m.body for m in seen] == ["status?", "re: status?"]
        reply = seen[1]
        assert reply.sender == bot.id and reply.thread_id == gid and reply.reply_to == sent["id"]

        mention = await o.send_group(gid, f"@{{{listener.id}}} please check")
        mentioned = await asyncio.wait_for(watching.mentions.get(), EVENT_TIMEOUT)
        assert mentioned.id == mention["id"] and mentioned.thread_id == gid
        # the bot was not mentioned: for it this is a plain group message
        plain = await asyncio.wait_for(replying.group_messages.get(), EVENT_TIMEOUT)
        assert plain.id == mention["id"]
        assert watching.direct.empty() and replying.direct.empty()
        assert replying.mentions.empty()
