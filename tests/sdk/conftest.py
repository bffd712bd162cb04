"""Helpers for driving the real, unmodified `agentim` SDK against a real server process."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from agentim import Agent, AgentIMClient, Message

from tests.conftest import TestAgent
from tests.server import ServerProcess

EVENT_TIMEOUT = 10.0  # generous upper bound for any single expected event

Replier = Callable[[Message], Awaitable[Any]]


@pytest.fixture(autouse=True)
def sdk_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The SDK writes ~/.agentim/cache_<key[-8:]>.db (and the CLI its config): keep it in tmp."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    return home


@dataclass
class RunningAgent:
    """An `agentim.Agent` running as a task, with everything its handler saw recorded."""

    agent: Agent
    task: asyncio.Task[None]
    received: list[Message] = field(default_factory=list)
    queue: asyncio.Queue[Message] = field(default_factory=asyncio.Queue)
    connected: asyncio.Event = field(default_factory=asyncio.Event)
    connects: int = 0

    async def next_message(self, timeout: float = EVENT_TIMEOUT) -> Message:
        return await asyncio.wait_for(self.queue.get(), timeout)

    async def messages(self, n: int, timeout: float = EVENT_TIMEOUT) -> list[Message]:
        return [await self.next_message(timeout) for _ in range(n)]


async def _wait_connected(running: RunningAgent, timeout: float) -> None:
    waiter = asyncio.ensure_future(running.connected.wait())
    try:
        done, _ = await asyncio.wait(
            {waiter, running.task}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED
        )
    finally:
        waiter.cancel()
    if running.task in done:
        running.task.result()  # re-raise why the agent died (login failure, ...)
        raise AssertionError("agent task ended before connecting")
    if not done:
        raise AssertionError(f"agent did not connect within {timeout} s")


async def stop_agent(running: RunningAgent) -> None:
    """Cancel the agent task; `Agent.start()` closes its HTTP session and cache on the way out."""
    running.task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await asyncio.wait_for(running.task, EVENT_TIMEOUT)
    assert running.task.done()


@contextlib.asynccontextmanager
async def run_agent(
    server: ServerProcess,
    api_key: str,
    reply: Replier | None = None,
    *,
    wait_connected: bool = True,
) -> AsyncIterator[RunningAgent]:
    """Start `Agent(api_key, server.url)` with `asyncio.create_task(agent.start())`.

    The `on_message` handler records every message and, if `reply` is given, answers it with
    `await msg.reply(await reply(msg))`. Waits for the WebSocket `on_connect` before yielding.
    """
    agent = Agent(api_key=api_key, server=server.url, log_level=logging.WARNING)
    running = RunningAgent(agent=agent, task=None)  # type: ignore[arg-type]

    @agent.on_message
    async def _on_message(msg: Message) -> None:
        running.received.append(msg)
        running.queue.put_nowait(msg)
        if reply is not None:
            await msg.reply(await reply(msg))

    @agent.on_connect
    async def _on_connect() -> None:
        running.connects += 1
        running.connected.set()

    running.task = asyncio.create_task(agent.start(), name=f"agentim-agent-{api_key[-6:]}")
    try:
        if wait_connected:
            await _wait_connected(running, EVENT_TIMEOUT)
        yield running
    finally:
        await stop_agent(running)


@contextlib.asynccontextmanager
async def sdk_client(server: ServerProcess, who: TestAgent) -> AsyncIterator[AgentIMClient]:
    async with AgentIMClient(api_key=who.api_key, server=server.url) as c:
        assert c.agent_id == who.id
        yield c
