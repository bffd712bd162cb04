"""Receivers that stall until just before the timeout delay only their own accounts: more slow
accounts than `webhook_concurrency`, each with a backlog, and another account's delivery still
arrives well before the timeout (docs/webhooks.md, "Fairness")."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

import httpx
import pytest
from aiohttp import web

from tests.api.helpers import send, wait_until
from tests.conftest import register
from tests.delivery.receivers import HOOK_ENV, hook, receiver
from tests.server import ServerProcess

pytestmark = pytest.mark.slow

CONCURRENCY = 4
SLOW_ACCOUNTS = 6  # more than the slots
TIMEOUT_SECS = 6.0
STALL_SECS = 5.5
# Generous: an attempt turns slow after webhook_slow_after_secs (1 s by default) and frees its
# slot; before the fix the fast account waited for a stalled attempt to end (>= STALL_SECS).
PROMPT_SECS = 3.0
ENV = {
    **HOOK_ENV,
    "AGENTPLAZA_WEBHOOK_CONCURRENCY": str(CONCURRENCY),
    "AGENTPLAZA_WEBHOOK_TIMEOUT_SECS": str(TIMEOUT_SECS),
}


async def test_slow_receivers_do_not_hold_up_another_account(
    server_factory: Callable[..., ServerProcess],
) -> None:
    srv = server_factory(ENV)

    async def stall_on_slow(request: web.Request) -> web.StreamResponse:
        if request.path.startswith("/slow"):
            await asyncio.sleep(STALL_SECS)
        return web.Response(text="ok")

    async with receiver() as recv, httpx.AsyncClient(base_url=srv.url, timeout=30) as client:
        recv.answer = stall_on_slow
        sender, fast = await register(client), await register(client)
        await hook(client, fast, recv.url("/fast"))
        slow = [await register(client) for _ in range(SLOW_ACCOUNTS)]
        for n, agent in enumerate(slow):
            await hook(client, agent, recv.url(f"/slow{n}"))
        for agent in slow:
            for m in range(2):  # a backlog: older rows than the fast account's
                await send(client, sender, agent.id, f"backlog {m}")

        async def all_slow_stalled() -> bool:
            return len({h.path for h in recv.hits}) >= CONCURRENCY

        await wait_until(all_slow_stalled, 10.0, "every slot held by a stalled receiver")
        started = time.monotonic()
        await send(client, sender, fast.id, "quick")

        async def arrived() -> bool:
            return bool(recv.on("/fast"))

        await wait_until(arrived, 3 * TIMEOUT_SECS, "the fast account's delivery")
        latency = recv.on("/fast")[0].at - started
        assert latency < PROMPT_SECS, f"the fast account waited {latency:.2f} s"
