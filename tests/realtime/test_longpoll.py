"""Long-poll GET /v1/messages/pending against a real server (agentim-wire.md §5).

"Parked" is observed, not slept for: a parked poll is a live connection in the hub, and
/health reports the hub's connection count. These tests use a server of their own so
that count is not disturbed by other modules' sockets.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable, Iterator
from typing import TYPE_CHECKING, Any

import httpx
import pytest

from tests.api.helpers import send
from tests.conftest import NO_RATE_LIMITS, own_server, register
from tests.server import ServerProcess

if TYPE_CHECKING:  # imported by name, pytest would try to collect it as a test class
    from tests.conftest import TestAgent

WAKE_WITHIN_SECS = 0.5
PARK_TIMEOUT_SECS = 10.0


@pytest.fixture(scope="module")
def lp_server(backend: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    env = {**NO_RATE_LIMITS, "AGENTPLAZA_HEALTH_DETAILS": "1"}
    with own_server(backend, tmp_path_factory, "longpoll", env) as proc:
        yield proc


@pytest.fixture
async def http(lp_server: ServerProcess) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=lp_server.url, timeout=60) as c:
        yield c


async def connections(http: httpx.AsyncClient) -> int:
    response = await http.get("/health")
    assert response.status_code == 200, response.text
    return int(response.json()["connections"])


async def wait_parked(http: httpx.AsyncClient, count: int) -> None:
    """Until the hub holds at least `count` live connections (parked polls)."""
    async with asyncio.timeout(5):
        while True:
            if await connections(http) >= count:
                return
            await asyncio.sleep(0.01)


async def timed_pending(
    http: httpx.AsyncClient, agent: TestAgent, wait_secs: float
) -> tuple[list[dict[str, Any]], float]:
    """GET /v1/messages/pending?timeout=wait_secs: (items, seconds it took)."""
    started = time.monotonic()
    response = await http.get(
        "/v1/messages/pending", params={"timeout": wait_secs}, headers=agent.headers
    )
    elapsed = time.monotonic() - started
    assert response.status_code == 200, response.text
    items = response.json()
    assert isinstance(items, list)
    return items, elapsed


async def test_returns_at_once_when_unacked_exist(http: httpx.AsyncClient) -> None:
    alice, bob = await register(http), await register(http)
    sent = [await send(http, alice, bob) for _ in range(3)]
    items, elapsed = await timed_pending(http, bob, PARK_TIMEOUT_SECS)
    assert [m["id"] for m in items] == [s["id"] for s in sent]
    assert [m["seq"] for m in items] == [1, 2, 3]
    # Not parked: a parked poll would answer only after PARK_TIMEOUT_SECS (half of it is the
    # margin a loaded CI machine needs; a 1 s bound failed there at 1.1-1.8 s).
    assert elapsed < PARK_TIMEOUT_SECS / 2
    # Not acked yet: returned again, still immediately.
    again, elapsed = await timed_pending(http, bob, PARK_TIMEOUT_SECS)
    assert [m["id"] for m in again] == [s["id"] for s in sent]
    assert elapsed < PARK_TIMEOUT_SECS / 2


async def test_parked_poll_wakes_on_send(http: httpx.AsyncClient) -> None:
    alice, bob = await register(http), await register(http)
    baseline = await connections(http)
    poll = asyncio.create_task(timed_pending(http, bob, PARK_TIMEOUT_SECS))
    await wait_parked(http, baseline + 1)
    assert not poll.done()
    sent = await send(http, alice, bob)
    sent_at = time.monotonic()
    items, elapsed = await asyncio.wait_for(poll, PARK_TIMEOUT_SECS)
    woke_after = time.monotonic() - sent_at
    assert [m["id"] for m in items] == [sent["id"]]
    assert items[0]["from"] == alice.id
    assert isinstance(items[0]["seq"], int)
    assert woke_after < WAKE_WITHIN_SECS
    assert elapsed < PARK_TIMEOUT_SECS / 2


async def test_times_out_with_empty_list(http: httpx.AsyncClient) -> None:
    bob = await register(http)
    items, elapsed = await timed_pending(http, bob, 1)
    assert items == []
    assert 0.9 <= elapsed < 3.0


async def test_concurrent_pollers_of_one_account_all_wake_others_do_not(
    http: httpx.AsyncClient,
) -> None:
    alice, bob, carol = await register(http), await register(http), await register(http)
    baseline = await connections(http)
    bob_polls = [asyncio.create_task(timed_pending(http, bob, PARK_TIMEOUT_SECS)) for _ in range(2)]
    carol_poll = asyncio.create_task(timed_pending(http, carol, 2))
    await wait_parked(http, baseline + 3)
    sent = await send(http, alice, bob)
    sent_at = time.monotonic()
    for poll in asyncio.as_completed(bob_polls, timeout=PARK_TIMEOUT_SECS):
        items, _ = await poll
        assert [m["id"] for m in items] == [sent["id"]]
        assert time.monotonic() - sent_at < WAKE_WITHIN_SECS
    # Carol's poll is still parked after Bob's woke, and ends by its own timeout, empty.
    assert not carol_poll.done()
    items, elapsed = await asyncio.wait_for(carol_poll, PARK_TIMEOUT_SECS)
    assert items == []
    assert elapsed >= 1.9


async def test_sender_poll_is_not_woken_by_its_own_send(http: httpx.AsyncClient) -> None:
    alice, bob = await register(http), await register(http)
    baseline = await connections(http)
    alice_poll = asyncio.create_task(timed_pending(http, alice, 1))
    await wait_parked(http, baseline + 1)
    await send(http, alice, bob)
    items, elapsed = await asyncio.wait_for(alice_poll, PARK_TIMEOUT_SECS)
    assert items == []
    assert elapsed >= 0.9


async def test_timeout_is_capped_by_setting(server_factory: Callable[..., ServerProcess]) -> None:
    srv = server_factory(
        env={"AGENTPLAZA_RATE_LIMITS_ENABLED": "0", "AGENTPLAZA_LONGPOLL_MAX_TIMEOUT_SECS": "1"}
    )
    async with httpx.AsyncClient(base_url=srv.url, timeout=60) as c:
        bob = await register(c)
        items, elapsed = await timed_pending(c, bob, 30)
    assert items == []
    assert 0.9 <= elapsed < 5.0


async def test_a_poll_whose_client_went_away_is_dropped_at_once(
    http: httpx.AsyncClient, lp_server: ServerProcess
) -> None:
    """Presence and connection counts do not wait out the poll timeout of a gone client."""
    agent = await register(http)
    before = await connections(http)
    async with httpx.AsyncClient(base_url=lp_server.url, timeout=60) as other:
        poll = asyncio.create_task(
            other.get("/v1/messages/pending", params={"timeout": 30}, headers=agent.headers)
        )
        await wait_parked(http, before + 1)
        online = await http.get(f"/v1/agents/{agent.id}")
        assert online.json()["online"] is True
        poll.cancel()
        with pytest.raises(asyncio.CancelledError):
            await poll
    async with asyncio.timeout(5):  # the poll asked for 30 s
        while True:
            if await connections(http) <= before:
                break
            await asyncio.sleep(0.02)
    assert (await http.get(f"/v1/agents/{agent.id}")).json()["online"] is False
