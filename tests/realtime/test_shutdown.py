"""Graceful shutdown on SIGTERM against a real server: live WebSockets get close code 1001 at
once (not after the drain timeout), parked long-polls are answered, every send the server
acknowledged is there after a restart on the same data, and the process exits 0.
"""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

import httpx
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from tests.api.helpers import post_message
from tests.conftest import register
from tests.server import ServerProcess

if TYPE_CHECKING:  # imported by name, pytest would try to collect it as a test class
    pass

# Far above what "at once" may take, so a shutdown that waits for the drain cannot pass.
DRAIN_SECS = 10
AT_ONCE_SECS = 2.0
GOING_AWAY = 1001


def sigterm(srv: ServerProcess) -> float:
    assert srv.proc is not None
    srv.proc.send_signal(signal.SIGTERM)
    return time.monotonic()


def exit_code(srv: ServerProcess) -> int:
    assert srv.proc is not None
    try:
        return srv.proc.wait(DRAIN_SECS + 5)
    except subprocess.TimeoutExpired:
        pytest.fail(f"server still running after SIGTERM:\n{srv.log()}")


async def wait_connections(http: httpx.AsyncClient, count: int) -> None:
    """Until the hub holds `count` live connections (WebSockets plus parked long-polls)."""
    async with asyncio.timeout(5):
        while True:
            if (await http.get("/health")).json()["connections"] >= count:
                return
            await asyncio.sleep(0.02)


async def test_sigterm_sends_live_connections_away_at_once_and_exits_0(
    server_factory: Callable[..., ServerProcess],
) -> None:
    srv = server_factory(
        env={
            "AGENTPLAZA_SHUTDOWN_DRAIN_SECS": str(DRAIN_SECS),
            "AGENTPLAZA_HEALTH_DETAILS": "1",  # /health counts the connections
            "AGENTPLAZA_RATE_LIMITS_ENABLED": "0",
        }
    )
    async with httpx.AsyncClient(base_url=srv.url, timeout=30) as http:
        alice, bob = await register(http), await register(http)
        async with connect(srv.ws_url, additional_headers=alice.headers, proxy=None) as ws:
            assert json.loads(await ws.recv())["type"] == "notifications"
            poll = asyncio.ensure_future(
                http.get("/v1/messages/pending", params={"timeout": 60}, headers=bob.headers)
            )
            await wait_connections(http, 2)
            started = sigterm(srv)
            with pytest.raises(ConnectionClosed) as closed:
                async with asyncio.timeout(AT_ONCE_SECS):
                    while True:  # frames already on their way may come first
                        await ws.recv()
            assert closed.value.rcvd is not None, "no close frame from the server"
            assert closed.value.rcvd.code == GOING_AWAY, closed.value.rcvd
            async with asyncio.timeout(AT_ONCE_SECS):
                answered = await poll
            assert answered.status_code == 200 and answered.json() == [], answered.text
            assert time.monotonic() - started < AT_ONCE_SECS
    assert exit_code(srv) == 0, srv.log()
    assert time.monotonic() - started < DRAIN_SECS


async def test_sends_acknowledged_around_sigterm_survive_a_restart(
    server_factory: Callable[..., ServerProcess],
) -> None:
    env = {"AGENTPLAZA_RATE_LIMITS_ENABLED": "0"}
    srv = server_factory(env=env)
    async with httpx.AsyncClient(base_url=srv.url, timeout=30) as http:
        alice, bob = await register(http), await register(http)
        # A burst in flight when the signal lands: whatever the server acknowledged must be
        # stored (in-flight requests drain, queued writes flush); the rest may be refused.
        sends = [asyncio.ensure_future(post_message(http, bob, alice)) for _ in range(50)]
        first = await asyncio.wait(sends, return_when=asyncio.FIRST_COMPLETED)
        assert first
        sigterm(srv)
        results = await asyncio.gather(*sends, return_exceptions=True)
    acked = {
        r.json()["id"] for r in results if isinstance(r, httpx.Response) and r.status_code == 201
    }
    assert acked, [repr(r) for r in results]
    assert exit_code(srv) == 0, srv.log()

    again = server_factory(env=env, data_dir=srv.data_dir)
    async with httpx.AsyncClient(base_url=again.url, timeout=30) as http:
        synced = await http.get(
            "/v1/messages/sync", params={"since_seq": 0, "limit": 500}, headers=alice.headers
        )
    assert synced.status_code == 200, synced.text
    assert acked <= {m["id"] for m in synced.json()["messages"]}
