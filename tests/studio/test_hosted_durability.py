"""Hosted agents' replies are durable and produced once: kill -9 while the model holds the
reply, restart on the same data; two nodes of a cluster (PostgreSQL + Redis) sharing agents."""

from __future__ import annotations

import base64
from collections.abc import Callable

import httpx
import pytest

from agentplaza.domain.hosted import APOLOGY
from tests.conftest import register
from tests.llmfake import FakeLLM, Reply
from tests.server import ServerProcess
from tests.studio.conftest import STUDIO_ENV, register_human
from tests.studio.hosted_helpers import dm, make_agent, make_provider, wait_replies

# A short lease: the restarted node takes over the dead one's agent after it expires, and a
# quick sweep finds the unanswered DM (nothing wakes it: it was committed before the start).
FAST = {
    **STUDIO_ENV,
    # Every node of a cluster (and a restart) must open the provider keys the others sealed.
    "AGENTPLAZA_LLM_SECRET_KEY": base64.b64encode(b"k" * 32).decode(),
    "AGENTPLAZA_HOSTED_LEASE_SECS": "2",
    "AGENTPLAZA_HOSTED_SWEEP_INTERVAL_SECS": "0.5",
}


async def test_kill9_while_the_model_holds_the_reply_answers_once_after_restart(
    backend: str, server_factory: Callable[..., ServerProcess], fake_llm: FakeLLM
) -> None:
    # On SQLite (one process per database) the restart takes the dead process's leases over
    # and sweeps at once: the default lease (120 s) and sweep interval (15 s) show it.
    # PostgreSQL (other nodes may be alive) waits for the lease to expire.
    env = FAST if backend == "postgres" else STUDIO_ENV
    node = server_factory(env)
    async with httpx.AsyncClient(base_url=node.url, timeout=30) as client:
        owner = await register_human(client)
        agent = await make_agent(client, owner, await make_provider(client, owner, fake_llm))
        alice = await register(client)
        fake_llm.hold()
        first = await dm(client, alice, agent["id"], "are you there?")
        await fake_llm.until(lambda: fake_llm.in_flight == 1)
    node.kill()
    fake_llm.release()
    fake_llm.default = lambda request: Reply(text="yes, after the crash")

    restarted = server_factory(env, data_dir=node.data_dir)
    async with httpx.AsyncClient(base_url=restarted.url, timeout=30) as client:
        [reply] = await wait_replies(client, alice, agent["id"], 1)
        assert reply["reply_to"] == first and reply["content"]["body"] == "yes, after the crash"
        # Answered in order: once a later DM is answered, a duplicate of the first would be too.
        await dm(client, alice, agent["id"], "and now?")
        replies = await wait_replies(client, alice, agent["id"], 2)
        assert [r["reply_to"] for r in replies].count(first) == 1
        assert len(replies) == 2


async def test_two_nodes_answer_each_dm_once(
    backend: str, server_factory: Callable[..., ServerProcess], fake_llm: FakeLLM
) -> None:
    if backend != "postgres":
        pytest.skip("a cluster needs the shared PostgreSQL + Redis backends")
    fake_llm.default = lambda request: Reply(text="pong")
    nodes = [server_factory(FAST), server_factory(FAST)]
    clients = [httpx.AsyncClient(base_url=n.url, timeout=30) for n in nodes]
    try:
        owner = await register_human(clients[0])
        provider = await make_provider(clients[0], owner, fake_llm)
        agents = [await make_agent(clients[0], owner, provider, name=f"A{i}") for i in range(2)]
        senders = [await register(clients[1]) for _ in range(2)]
        sent = 0
        for round_no in range(3):
            for i, sender in enumerate(senders):
                for agent in agents:
                    await dm(clients[(round_no + i) % 2], sender, agent["id"], f"ping {round_no}")
                    sent += 1
        for sender in senders:
            for agent in agents:
                replies = await wait_replies(clients[0], sender, agent["id"], 3)
                assert len({r["reply_to"] for r in replies}) == len(replies) == 3
        assert len(fake_llm.chat_requests) == sent
    finally:
        for c in clients:
            await c.aclose()


async def test_after_max_attempts_the_sender_gets_an_apology_and_the_agent_moves_on(
    server_factory: Callable[..., ServerProcess], fake_llm: FakeLLM
) -> None:
    node = server_factory(
        {
            **FAST,
            "AGENTPLAZA_HOSTED_MAX_ATTEMPTS": "2",
            "AGENTPLAZA_HOSTED_RETRY_BASE_SECS": "0.1",
        }
    )
    async with httpx.AsyncClient(base_url=node.url, timeout=30) as client:
        owner = await register_human(client)
        agent = await make_agent(client, owner, await make_provider(client, owner, fake_llm))
        alice = await register(client)
        fake_llm.fail_next(status=500, times=2)
        fake_llm.script(Reply(text="fine now"))
        first = await dm(client, alice, agent["id"], "hello?")
        [apology] = await wait_replies(client, alice, agent["id"], 1)
        assert apology["reply_to"] == first and apology["content"]["body"] == APOLOGY
        assert len(fake_llm.chat_requests) == 2
        await dm(client, alice, agent["id"], "and now?")
        replies = await wait_replies(client, alice, agent["id"], 2)
        assert replies[1]["content"]["body"] == "fine now"
        r = await client.get("/v1/notifications", headers=owner.headers)
        reasons = [n["data"].get("reason") for n in r.json()["notifications"]]
        assert reasons.count("provider_error") == 1  # rate-limited: not once per attempt
