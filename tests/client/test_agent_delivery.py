"""The Agent end to end against a real server: crash and resume, request/reply under load,
transport fallback, handler failures."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path

import httpx
import pytest

from agentplaza.sdk import Agent, AsyncClient, ReceivedMessage
from tests.client.proxies import HttpProxy
from tests.conftest import TestAgent as Registered
from tests.conftest import register, unique_name
from tests.server import ServerProcess

pytestmark = pytest.mark.slow
TOTAL = 1000
SENDERS = 4


def read_handled(path: Path) -> list[tuple[str, str, int]]:
    if not path.exists():
        return []
    rows = [line.split() for line in path.read_text().splitlines() if line]
    return [(r[0], r[1], int(r[2])) for r in rows]


def start_child(
    server: ServerProcess, key: str, state: Path, out: Path, **env: str
) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "tests.client.agent_child", server.url, key, str(state), str(out)],
        env={**os.environ, **env},
    )


async def wait_for(condition, within: float, what: str) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + within
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.1)


async def test_sigkill_mid_stream_then_restart_handles_each_message_once(
    server: ServerProcess, client: httpx.AsyncClient, tmp_path: Path
) -> None:
    receiver = await register(client, unique_name("crash"))
    senders = [await register(client, unique_name("sender")) for _ in range(SENDERS)]
    state, out = tmp_path / "state", tmp_path / "handled.txt"
    child = start_child(server, receiver.api_key, state, out, KILL_AT="400")
    sent_ids: set[str] = set()

    async def stream(sender: Registered) -> None:
        async with AsyncClient(sender.api_key, server=server.url) as c:
            for i in range(TOTAL // SENDERS):
                sent_ids.add((await c.send(receiver.id, f"{sender.id}:{i}")).id)

    try:
        sending = asyncio.gather(*(stream(s) for s in senders))
        await wait_for(lambda: child.poll() is not None, 120, "the child to kill itself")
        assert child.returncode == -9
        handled_before = len(read_handled(out))
        assert 0 < handled_before < TOTAL
        child = start_child(server, receiver.api_key, state, out)
        await sending
        await wait_for(lambda: len(read_handled(out)) >= TOTAL, 120, "every message handled")
        await asyncio.sleep(1)  # anything handled twice would show up now
    finally:
        child.kill()
        child.wait()
    rows = read_handled(out)
    ids = [r[0] for r in rows]
    assert len(ids) == len(set(ids)) == TOTAL, "a message was handled twice"
    assert set(ids) == sent_ids
    by_sender: dict[str, list[int]] = defaultdict(list)
    for _, sender, seq in rows:
        by_sender[sender].append(seq)
    assert all(seqs == sorted(seqs) for seqs in by_sender.values()), "out of order per sender"
    # Everything handled was acked: nothing is left pending on the server.
    left = await client.get("/v1/messages/pending", headers=receiver.headers)
    assert left.json() == []


async def run_pair(
    url: str, asker_key: str, echo_key: str, tmp_path: Path, count: int, **kwargs: object
) -> tuple[list[tuple[str, ReceivedMessage]], list[str | None]]:
    asker = Agent(asker_key, server=url, state_dir=str(tmp_path / "a"), **kwargs)  # type: ignore[arg-type]
    echo = Agent(echo_key, server=url, state_dir=str(tmp_path / "b"), **kwargs)  # type: ignore[arg-type]
    results: list[tuple[str, ReceivedMessage]] = []
    connected_via: list[str | None] = []
    done = asyncio.Event()

    @asker.on_connect
    @echo.on_connect
    def connected() -> None:
        connected_via.extend([asker.transport, echo.transport])

    @echo.on_message
    async def answer(msg: ReceivedMessage) -> None:
        await msg.reply({"answer": msg.body})

    @asker.on_ready
    async def ask() -> None:
        peer = (await echo.client.me())["id"]
        questions = [f"q{i}" for i in range(count)]
        replies = await asyncio.gather(*(asker.request(peer, q, timeout=120) for q in questions))
        results.extend(zip(questions, replies, strict=True))
        done.set()

    tasks = [asyncio.create_task(echo.start()), asyncio.create_task(asker.start())]
    try:
        await asyncio.wait_for(done.wait(), 180)
    finally:
        await asker.stop()
        await echo.stop()
        await asyncio.gather(*tasks, return_exceptions=True)
    return results, connected_via


async def test_a_thousand_concurrent_requests_from_on_ready(
    server: ServerProcess, alice: Registered, bob: Registered, tmp_path: Path
) -> None:
    results, _ = await run_pair(server.url, alice.api_key, bob.api_key, tmp_path, TOTAL)
    assert len(results) == TOTAL
    for question, reply in results:
        assert reply.json() == {"answer": question}
        assert reply.sender_id == bob.id
    assert len({reply.id for _, reply in results}) == TOTAL


@pytest.mark.parametrize(
    ("refused", "expected"), [({"/v1/ws"}, "sse"), ({"/v1/ws", "/v1/stream"}, "longpoll")]
)
async def test_transport_fallback(
    server: ServerProcess,
    alice: Registered,
    bob: Registered,
    tmp_path: Path,
    refused: set[str],
    expected: str,
) -> None:
    proxy = await HttpProxy(server.port, lambda m, p: "refuse" if p in refused else None).start()
    try:
        results, via = await run_pair(proxy.url, alice.api_key, bob.api_key, tmp_path, 20)
    finally:
        await proxy.drop()
    assert [r.json() for _, r in results] == [{"answer": f"q{i}"} for i in range(20)]
    assert set(via) - {None} == {expected}
    paths = {p.split("?")[0] for _, p in proxy.seen}
    assert refused <= paths  # each refused transport was tried first
    if expected == "longpoll":
        assert "/v1/messages/sync" in paths or "/v1/messages/pending" in paths
    else:
        assert "/v1/stream" in paths


async def test_a_failing_handler_is_retried_and_acked_only_after_success(
    server: ServerProcess,
    client: httpx.AsyncClient,
    alice: Registered,
    bob: Registered,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("agentplaza.sdk.inbox.RETRY_BASE_SECS", 0.2)
    agent = Agent(bob.api_key, server=server.url, state_dir=str(tmp_path))
    attempts: list[str] = []
    pending_while_failing: list[int] = []
    handled = asyncio.Event()

    @agent.on_message
    async def flaky(msg: ReceivedMessage) -> None:
        attempts.append(msg.body)
        if len(attempts) < 3:
            left = await client.get("/v1/messages/pending", headers=bob.headers)
            pending_while_failing.append(len(left.json()))
            raise RuntimeError("not yet")
        handled.set()

    task = asyncio.create_task(agent.start())
    try:
        await client.post(
            "/v1/messages", headers=alice.headers, json={"to": bob.id, "body": "retry me"}
        )
        await asyncio.wait_for(handled.wait(), 30)
        for _ in range(50):
            if (await client.get("/v1/messages/pending", headers=bob.headers)).json() == []:
                break
            await asyncio.sleep(0.1)
    finally:
        await agent.stop()
        await task
    assert attempts == ["retry me"] * 3
    assert pending_while_failing == [1, 1]  # not acked while the handler failed
    assert (await client.get("/v1/messages/pending", headers=bob.headers)).json() == []
