"""`agentplaza mcp`, driven by the official `mcp` client over stdio and over streamable
HTTP: every tool against a real server, and failures as isError results."""

from __future__ import annotations

import asyncio
import re
import socket
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest

from tests.api.helpers import send
from tests.client.conftest import AGENTPLAZA_BIN, CliRunner
from tests.conftest import register, unique_name
from tests.server import ServerProcess, free_port

mcp = pytest.importorskip("mcp", reason="the mcp extra is not installed")

TOOLS = {
    "agentim_login", "agentim_whoami", "agentim_send", "agentim_poll", "agentim_ack",
    "agentim_threads", "agentim_thread_messages", "agentim_search_agents", "agentim_add_friend",
    "agentim_accept_friend", "agentim_friends", "agentim_create_group", "agentim_my_groups",
    "agentim_group_send", "agentim_post_moment", "agentim_feed", "agentim_my_card",
    "agentim_wait",
}  # fmt: skip


@asynccontextmanager
async def mcp_client(transport: str, cli: CliRunner, server: ServerProcess) -> AsyncIterator[Any]:
    if transport == "stdio":
        params = mcp.StdioServerParameters(
            command=str(AGENTPLAZA_BIN), args=["mcp", "--server", server.url], env=cli.env
        )
        async with mcp.Client(params) as client:
            yield client
        return
    port = free_port("127.0.0.1")
    proc = cli.popen("mcp", "--http", "--port", str(port), "--server", server.url)
    try:
        deadline = time.monotonic() + 20
        while True:
            assert proc.poll() is None, proc.communicate()
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", port)) == 0:
                    break
            assert time.monotonic() < deadline, "the MCP HTTP server did not start"
            await asyncio.sleep(0.05)
        async with mcp.Client(f"http://127.0.0.1:{port}/mcp") as client:
            yield client
    finally:
        proc.terminate()
        proc.communicate(timeout=20)


class Tools:
    def __init__(self, client: Any) -> None:
        self.client = client

    async def ok(self, tool: str, /, **arguments: Any) -> str:
        result = await self.client.call_tool(tool, arguments)
        text = "".join(c.text for c in result.content)
        assert not result.is_error, (tool, text)
        return text

    async def error(self, tool: str, /, **arguments: Any) -> str:
        result = await self.client.call_tool(tool, arguments)
        text = "".join(c.text for c in result.content)
        assert result.is_error, (tool, text)
        return text


def _find(pattern: str, text: str) -> str:
    found = re.search(pattern, text)
    assert found, (pattern, text)
    return found.group(1)


@pytest.mark.parametrize("transport", ["stdio", "http"])
async def test_every_tool(
    transport: str, cli: CliRunner, server: ServerProcess, client: httpx.AsyncClient
) -> None:
    peer = await register(client)
    stranger = await register(client)
    name = unique_name("mcp")
    async with mcp_client(transport, cli, server) as session:
        assert {t.name for t in (await session.list_tools()).tools} == TOOLS
        t = Tools(session)
        assert "not logged in" in await t.error("agentim_whoami")

        created = await t.ok("agentim_login", display_name=name, bio="via mcp")
        me = _find(r"\(id (\w+)\)", created)
        assert re.search(r"am_\S+", created)
        assert name in await t.ok("agentim_whoami")
        assert peer.id in await t.ok("agentim_search_agents", query=peer.display_name)

        # Receiving: wait returns the next message; poll shows it until it is acked.
        await send(client, peer, me, "hello mcp", "text")
        waited = await t.ok("agentim_wait", timeout=20)
        assert "hello mcp" in waited and f"from {peer.id}" in waited
        polled = await t.ok("agentim_poll")
        assert "hello mcp" in polled and "agentim_ack" in polled
        await t.ok("agentim_ack", message_id=_find(r"\[(m_\w+)\]", polled))
        assert await t.ok("agentim_poll", timeout=0) == "No new messages."

        sent = await t.ok("agentim_send", to=peer.id, body="hello peer")
        thread = _find(r"\(thread (\S+)\)", sent)
        inbox = (await client.get("/v1/messages/pending", headers=peer.headers)).json()
        assert [m["content"]["body"] for m in inbox] == ["hello peer"]
        assert thread in await t.ok("agentim_threads")
        history = await t.ok("agentim_thread_messages", thread_id=thread)
        assert "hello peer" in history and "hello mcp" in history

        # Friends both ways.
        await client.post("/v1/friends/request", headers=peer.headers, json={"addressee": me})
        assert peer.id in (await t.ok("agentim_friends")).split("waiting for you")[1]
        assert "now friends" in await t.ok("agentim_accept_friend", agent_id=peer.id)
        assert peer.display_name in (await t.ok("agentim_friends")).split("waiting")[0]
        assert "request sent" in await t.ok("agentim_add_friend", agent_id=stranger.id)
        received = (await client.get("/v1/friends/pending", headers=stranger.headers)).json()
        assert [r["requester"] for r in received["requests"]] == [me]

        group = await t.ok("agentim_create_group", name="mcp crew", members=[peer.id])
        group_id = _find(r"id ([0-9a-f-]{36})", group)
        assert "mcp crew" in await t.ok("agentim_my_groups")
        await t.ok("agentim_group_send", group_id=group_id, body="hi group")
        said = (await client.get(f"/v1/groups/{group_id}/messages", headers=peer.headers)).json()
        assert "hi group" in str(said)

        await t.ok("agentim_post_moment", content="mcp moment", visibility="friends")
        assert "mcp moment" in await t.ok("agentim_feed", limit=5)
        assert name in await t.ok("agentim_my_card")

        # Failures are results with isError; the server keeps serving.
        assert "404" in await t.error("agentim_send", to="99999999", body="x")
        assert "missing" in await t.error("agentim_send", to=peer.id)
        assert "must be" in await t.error("agentim_poll", timeout=999)
        assert "unknown tool" in await t.error("agentim_nope")
        assert "Logged in as" in await t.ok("agentim_login", api_key=peer.api_key)
        assert peer.display_name in await t.ok("agentim_whoami")
        assert "401" in await t.error("agentim_login", api_key="am_wrong")


async def test_mcp_uses_the_profile_key(cli: CliRunner, server: ServerProcess) -> None:
    me = cli.json("register", "--name", unique_name("mcpkey"), "--server", server.url)
    params = mcp.StdioServerParameters(command=str(AGENTPLAZA_BIN), args=["mcp"], env=cli.env)
    async with mcp.Client(params) as session:
        assert me["id"] in await Tools(session).ok("agentim_whoami")
