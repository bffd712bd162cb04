"""Helpers for driving the real, unmodified `agentim` SDK against a real server process.

Nothing here patches SDK behaviour: agents run via the documented `asyncio.create_task(
agent.start())`, handlers are registered with the SDK's decorators, and the only wrapper
(`RunningAgent.syncs`) is a pass-through recorder of the SDK's own sync calls.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import pytest
from agentim import Agent, AgentIMClient, Message

from tests.aimlock import SDK_AIM_HOST, sdk_aim_port
from tests.conftest import NO_RATE_LIMITS, own_server
from tests.server import ServerProcess

if TYPE_CHECKING:  # not imported at runtime: pytest would try to collect the `Test*` class
    from tests.conftest import TestAgent

EVENT_TIMEOUT = 10.0  # generous upper bound for any single expected event

Replier = Callable[[Message], Awaitable[Any]]


@pytest.fixture(scope="session", params=["ws", "aim"])
def sdk_transport(request: pytest.FixtureRequest) -> str:
    """How the SDK's Agent receives: `ws`, the server on 127.0.0.2 (not "local" to the SDK, so
    it goes straight to /v1/ws); `aim`, the server on 127.0.0.1 with AIM TCP on the SDK's
    hard-coded port 8082 (one such server on the machine at a time: tests/aimlock.py)."""
    return str(request.param)


@pytest.fixture(scope="session")
def server(
    server: ServerProcess,
    sdk_transport: str,
    backend: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[ServerProcess]:
    """The SDK tests' server: the session's (WebSocket) one, or one serving AIM on :8082."""
    if sdk_transport == "ws":
        yield server
        return
    with (
        sdk_aim_port() as port,
        own_server(
            backend,
            tmp_path_factory,
            "aim-server",
            NO_RATE_LIMITS,
            host=SDK_AIM_HOST,
            aim_port=port,
        ) as proc,
    ):
        yield proc


# The SDK leaves sockets for the garbage collector (aiohttp sessions of some helpers, an AIM
# socket it reconnected): their ResourceWarnings are ignored in these modules only (each sets
# `pytestmark = SDK_LEAKS`), and `collect_sdk_garbage` makes them surface here, not in
# whichever test happens to run when the collector gets to them. Leaks anywhere else still fail.
SDK_LEAKS = pytest.mark.filterwarnings("ignore::ResourceWarning")


@pytest.fixture(autouse=True)
def collect_sdk_garbage() -> Iterator[None]:
    yield
    gc.collect()


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
    disconnected: asyncio.Event = field(default_factory=asyncio.Event)
    connects: int = 0
    # (since_seq, ids returned) for every `GET /v1/messages/sync` the SDK made (sync-on-connect)
    syncs: list[tuple[int, list[str]]] = field(default_factory=list)

    async def next_message(self) -> Message:
        """The next message the handler saw (waits up to EVENT_TIMEOUT)."""
        return await asyncio.wait_for(self.queue.get(), EVENT_TIMEOUT)

    async def messages(self, n: int) -> list[Message]:
        return [await self.next_message() for _ in range(n)]


async def wait_connected(running: RunningAgent) -> None:
    """Wait for the Agent's `on_connect` (WebSocket up), failing fast if the task died."""
    waiter = asyncio.ensure_future(running.connected.wait())
    try:
        done, _ = await asyncio.wait(
            {waiter, running.task}, timeout=EVENT_TIMEOUT, return_when=asyncio.FIRST_COMPLETED
        )
    finally:
        waiter.cancel()
    if running.task in done:
        running.task.result()  # re-raise why the agent died (login failure, ...)
        raise AssertionError("agent task ended before connecting")
    if not done:
        raise AssertionError(f"agent did not connect within {EVENT_TIMEOUT} s")


def push_transport(agent: Agent) -> str:
    """Which transport the Agent's receive loop is on: "aim" (connected over AIM TCP) or "ws"."""
    conn: Any = agent._conn  # read only: the SDK exposes no public accessor
    if hasattr(conn, "_aim") and not conn._use_fallback and conn._aim._connected:
        return "aim"
    return "ws"


def expected_transport(url: str) -> str:
    """The SDK speaks AIM to local URLs only (agentim/connection.py::_is_local)."""
    return "aim" if urlsplit(url).hostname in {"localhost", "127.0.0.1"} else "ws"


async def stop_agent(running: RunningAgent) -> None:
    """Cancel the agent task; `Agent.start()` closes its HTTP session and cache on the way out.

    Cancelled again each second until it ends: CPython 3.11's `wait_for` loses a cancellation
    that lands as its inner read completes (the SDK reads every AIM frame through one), and the
    agent then reads on for up to its 60 s frame timeout (a CI flake)."""
    deadline = asyncio.get_running_loop().time() + EVENT_TIMEOUT
    while not running.task.done() and asyncio.get_running_loop().time() < deadline:
        running.task.cancel()
        await asyncio.wait([running.task], timeout=1.0)
    assert running.task.done()
    if not running.task.cancelled():
        with contextlib.suppress(asyncio.CancelledError):
            running.task.result()
    # agentim 0.1.6 never closes its AIM socket when the Agent stops, nor cancels that socket's
    # heartbeat task: only the exit of the process does. Do what that exit would, or the server
    # rightly keeps the agent online for as long as this test process lives.
    aim = getattr(running.agent._conn, "_aim", None)
    if aim is not None:
        aim.close()
        if aim._writer is not None:  # close() only schedules it: let it finish on this loop
            with contextlib.suppress(Exception):
                await asyncio.wait_for(aim._writer.wait_closed(), EVENT_TIMEOUT)


@contextlib.asynccontextmanager
async def run_agent(
    url: str, api_key: str, reply: Replier | None = None, *, wait: bool = True
) -> AsyncIterator[RunningAgent]:
    """Start `Agent(api_key, url)` with `asyncio.create_task(agent.start())`; stop it on exit.

    The `on_message` handler records every message and, if `reply` is given, answers it with
    `await msg.reply(await reply(msg))`. Waits for the WebSocket `on_connect` before yielding
    unless `wait=False` (then call `wait_connected`).
    """
    agent = Agent(api_key=api_key, server=url, log_level=logging.WARNING)

    @agent.on_message
    async def _on_message(msg: Message) -> None:
        running.received.append(msg)
        running.queue.put_nowait(msg)
        if reply is not None:
            await msg.reply(await reply(msg))

    @agent.on_connect
    async def _on_connect() -> None:
        running.connects += 1
        running.disconnected.clear()
        running.connected.set()

    @agent.on_disconnect
    async def _on_disconnect() -> None:
        running.connected.clear()
        running.disconnected.set()

    real_sync = agent._api.sync_messages

    async def recording_sync(since_seq: int = 0, limit: int = 100) -> tuple[list[Any], int]:
        messages, next_seq = await real_sync(since_seq, limit)
        running.syncs.append((since_seq, [str(m.get("id")) for m in messages]))
        return messages, next_seq

    agent._api.sync_messages = recording_sync

    # The closures above only run once the task does; by then `running` is bound.
    task = asyncio.create_task(agent.start(), name=f"agentim-agent-{api_key[-6:]}")
    running = RunningAgent(agent=agent, task=task)
    try:
        if wait:
            await wait_connected(running)
            assert push_transport(agent) == expected_transport(url)
        yield running
    finally:
        await stop_agent(running)


@contextlib.asynccontextmanager
async def run_pair(
    url: str, caller_key: str, peer_key: str, peer_reply: Replier
) -> AsyncIterator[tuple[RunningAgent, RunningAgent]]:
    """Two agents started together, the peer answering with `peer_reply`; yields
    `(caller, peer)` once both are connected."""
    async with (
        run_agent(url, peer_key, peer_reply, wait=False) as peer,
        run_agent(url, caller_key, wait=False) as caller,
    ):
        await asyncio.gather(wait_connected(peer), wait_connected(caller))
        yield caller, peer


@contextlib.asynccontextmanager
async def sdk_client(url: str, who: TestAgent) -> AsyncIterator[AgentIMClient]:
    async with AgentIMClient(api_key=who.api_key, server=url) as c:
        assert c.agent_id == who.id
        yield c
