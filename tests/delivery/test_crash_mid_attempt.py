"""An attempt cut by a SIGKILL counts: the claim records it before the POST, so a delivery that
kills the server every time it is tried cannot crash-loop it past the retry horizon
(docs/webhooks.md, "Success, retries, giving up")."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from aiohttp import web

from tests.api.helpers import send, wait_until
from tests.conftest import register
from tests.delivery.receivers import HOOK_ENV, hook, receiver, webhook_state
from tests.server import ServerProcess

pytestmark = pytest.mark.slow

# The lease is the timeout + 10 s; the horizon passes while the killed attempt's lease runs.
ENV = {
    **HOOK_ENV,
    "AGENTPLAZA_WEBHOOK_TIMEOUT_SECS": "3",
    "AGENTPLAZA_WEBHOOK_RETRY_HORIZON_SECS": "5",
}


async def test_an_attempt_cut_by_sigkill_counts_and_the_horizon_still_applies(
    server_factory: Callable[..., ServerProcess], tmp_path: Path
) -> None:
    data_dir = tmp_path / "node"
    srv = server_factory(ENV, data_dir)
    arrived = asyncio.Event()

    async def hang(request: web.Request) -> web.StreamResponse:
        arrived.set()
        await asyncio.sleep(60)  # the server dies before any answer
        return web.Response(text="too late")

    async with receiver() as recv:
        recv.answer = hang
        async with httpx.AsyncClient(base_url=srv.url, timeout=30) as client:
            alice, bob = await register(client), await register(client)
            await hook(client, bob, recv.url("/doomed"))
            sent = await send(client, alice, bob.id, "the last thing it saw")
            await asyncio.wait_for(arrived.wait(), 10)
        srv.kill()  # mid-attempt: the POST is out, no outcome recorded
        srv2 = server_factory(ENV, data_dir)
        async with httpx.AsyncClient(base_url=srv2.url, timeout=30) as client:

            async def given_up() -> bool:
                return bool((await webhook_state(client, bob))["failed"] == 1)

            # After the killed attempt's lease the row is looked at again, past the horizon.
            await wait_until(given_up, 30.0, "the interrupted delivery to be given up")
            got = await webhook_state(client, bob)
        assert got["pending"] == 0 and got["delivered"] == 0
        [failure] = got["recent_failures"]
        assert failure["message_id"] == sent["id"]
        assert failure["attempts"] == 1  # the killed attempt, counted at its claim
        assert failure["last_error"].startswith("interrupted")
        assert len(recv.hits) == 1  # not POSTed again once past the horizon
