"""Rate limits as documented (seed 001 FAQ): sending 10/s per agent, registration 5/min per IP,
search 10/min; 429 with Retry-After, X-RateLimit-* headers on every limited endpoint.

Each test starts its own server with limits ON (the session server has them off). Distinct client
IPs come from binding the client socket to other loopback addresses (127.0.0.0/8).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

import httpx

from tests.api.helpers import assert_error
from tests.conftest import register, unique_name
from tests.server import ServerProcess

LIMITS_ON = {"AGENTPLAZA_RATE_LIMITS_ENABLED": "1"}


@asynccontextmanager
async def _client(srv: ServerProcess, source_ip: str) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.AsyncHTTPTransport(local_address=source_ip)
    async with httpx.AsyncClient(base_url=srv.url, timeout=30, transport=transport) as c:
        yield c


def _limit_headers(response: httpx.Response) -> tuple[int, int, int]:
    return (
        int(response.headers["X-RateLimit-Limit"]),
        int(response.headers["X-RateLimit-Remaining"]),
        int(response.headers["X-RateLimit-Reset"]),
    )


async def test_send_limit_is_10_per_second_per_agent(
    server_factory: Callable[..., ServerProcess],
) -> None:
    srv = server_factory(env=LIMITS_ON)
    async with _client(srv, "127.0.0.2") as c:
        alice, bob, carol = [await register(c) for _ in range(3)]
        assert (await c.get("/v1/agents/me", headers=alice.headers)).status_code == 200

        first = await c.post(
            "/v1/messages", headers=alice.headers, json={"to": bob.id, "body": "0"}
        )
        assert first.status_code == 201, first.text
        assert _limit_headers(first) == (10, 9, 1)

        burst = 20
        started = time.monotonic()
        responses = await asyncio.gather(
            *(
                c.post("/v1/messages", headers=alice.headers, json={"to": bob.id, "body": f"{i}"})
                for i in range(1, burst + 1)
            )
        )
        elapsed = time.monotonic() - started
        assert elapsed < 1.0, f"burst took {elapsed:.2f} s: cannot test a per-second limit"
        statuses = [r.status_code for r in responses]
        assert set(statuses) <= {201, 429}, statuses
        ok = statuses.count(201)
        # 9 tokens were left, plus at most what refilled (10/s) while the burst ran.
        assert 9 <= ok <= 9 + int(elapsed * 10) + 1, (ok, elapsed)
        assert statuses.count(429) == burst - ok >= 1
        for response in responses:
            if response.status_code == 429:
                assert_error(response, 429, "rate_limited")
                assert response.headers["Retry-After"] == "1"
                assert _limit_headers(response) == (10, 0, 1)
            else:
                limit, remaining, reset = _limit_headers(response)
                assert (limit, reset) == (10, 1)
                assert 0 <= remaining <= 9

        # Refused sends were not stored: bob has exactly the accepted ones.
        synced = await c.get(
            "/v1/messages/sync", headers=bob.headers, params={"since_seq": 0, "limit": 500}
        )
        assert len(synced.json()["messages"]) == 1 + ok

        # Another agent is unaffected.
        other = await c.post(
            "/v1/messages", headers=carol.headers, json={"to": bob.id, "body": "c"}
        )
        assert other.status_code == 201, other.text
        assert _limit_headers(other) == (10, 9, 1)
        # That Retry-After is honest (the budget refills): tests/services/test_rate_limits.py.


async def test_registration_limit_is_5_per_minute_per_ip(
    server_factory: Callable[..., ServerProcess],
) -> None:
    srv = server_factory(env=LIMITS_ON)
    async with _client(srv, "127.0.0.2") as c:
        remaining = []
        for _ in range(5):
            response = await c.post("/v1/agents/register", json={"display_name": unique_name("rl")})
            assert response.status_code == 201, response.text
            limit, left, reset = _limit_headers(response)
            assert limit == 5
            assert 1 <= reset <= 60
            remaining.append(left)
        assert remaining == [4, 3, 2, 1, 0]

        response = await c.post("/v1/agents/register", json={"display_name": unique_name("rl")})
        assert_error(response, 429, "rate_limited")
        assert 1 <= int(response.headers["Retry-After"]) <= 12  # one token per 12 s
        assert response.headers["X-RateLimit-Limit"] == "5"
        assert response.headers["X-RateLimit-Remaining"] == "0"
        # Human sign-ups share the per-IP registration budget.
        response = await c.post(
            "/v1/users/register",
            json={"display_name": unique_name("rlh"), "password": "long enough"},
        )
        assert_error(response, 429, "rate_limited")
        # A spoofed X-Forwarded-For does not buy a fresh budget (trust_forwarded_for is off).
        response = await c.post(
            "/v1/agents/register",
            json={"display_name": unique_name("rl")},
            headers={"X-Forwarded-For": "203.0.113.7"},
        )
        assert_error(response, 429, "rate_limited")

    # Not even from 127.0.0.1, the address uvicorn trusts for proxy headers by default.
    async with _client(srv, "127.0.0.1") as c:
        for i in range(6):
            response = await c.post(
                "/v1/agents/register",
                json={"display_name": unique_name("lo")},
                headers={"X-Forwarded-For": f"203.0.113.{i + 10}"},
            )
            assert response.status_code == (201 if i < 5 else 429), (i, response.text)

    # Another IP has its own budget.
    async with _client(srv, "127.0.0.3") as c:
        response = await c.post("/v1/agents/register", json={"display_name": unique_name("ip3")})
        assert response.status_code == 201, response.text
        assert _limit_headers(response)[:2] == (5, 4)


async def test_trusted_proxy_address_is_the_last_forwarded_hop(
    server_factory: Callable[..., ServerProcess],
) -> None:
    """Behind a trusted proxy the client IP is the entry the proxy appended (the last one):
    a client that sends its own X-Forwarded-For cannot pick a fresh rate-limit budget."""
    srv = server_factory(env={**LIMITS_ON, "AGENTPLAZA_TRUST_FORWARDED_FOR": "1"})
    async with _client(srv, "127.0.0.2") as c:
        for i in range(5):
            response = await c.post(
                "/v1/agents/register",
                json={"display_name": unique_name("px")},
                headers={"X-Forwarded-For": f"198.51.100.{i}, 203.0.113.1"},
            )
            assert response.status_code == 201, response.text
        for forwarded in ("203.0.113.1", "192.0.2.99, 203.0.113.1", "a, b, 203.0.113.1"):
            response = await c.post(
                "/v1/agents/register",
                json={"display_name": unique_name("px")},
                headers={"X-Forwarded-For": forwarded},
            )
            assert_error(response, 429, "rate_limited")
        response = await c.post(
            "/v1/agents/register",
            json={"display_name": unique_name("px")},
            headers={"X-Forwarded-For": "203.0.113.1, 203.0.113.2"},
        )
        assert response.status_code == 201, response.text


async def test_search_limit_is_10_per_minute(
    server_factory: Callable[..., ServerProcess],
) -> None:
    srv = server_factory(env=LIMITS_ON)
    async with _client(srv, "127.0.0.2") as c:
        agent = await register(c)
        remaining = []
        for i in range(10):
            headers = agent.headers if i % 2 else {}  # with or without auth: one budget
            response = await c.get("/v1/agents/search", params={"q": "x"}, headers=headers)
            assert response.status_code == 200, response.text
            limit, left, reset = _limit_headers(response)
            assert limit == 10
            assert 1 <= reset <= 60
            remaining.append(left)
        assert remaining == list(range(9, -1, -1))

        for headers in ({}, agent.headers):
            response = await c.get("/v1/agents/search", params={"q": "x"}, headers=headers)
            assert_error(response, 429, "rate_limited")
            assert 1 <= int(response.headers["Retry-After"]) <= 6  # one token per 6 s
            assert _limit_headers(response)[:2] == (10, 0)

    async with _client(srv, "127.0.0.3") as c:
        response = await c.get("/v1/agents/search", params={"q": "x"})
        assert response.status_code == 200, response.text
        assert _limit_headers(response)[:2] == (10, 9)


async def test_no_rate_limit_headers_when_limits_are_off(
    client: httpx.AsyncClient, server: ServerProcess
) -> None:
    """The session server runs with limits off: no 429s, and no misleading headers."""
    agent = await register(client)
    responses = [await client.get("/v1/agents/search", params={"q": "x"}) for _ in range(12)]
    assert [r.status_code for r in responses] == [200] * 12
    assert all("X-RateLimit-Limit" not in r.headers for r in responses)
    response = await client.get("/v1/agents/me", headers=agent.headers)
    assert "X-RateLimit-Limit" not in response.headers


async def test_ai_budget_of_an_invented_token_is_the_address_budget(
    server_factory: Callable[..., ServerProcess],
) -> None:
    """/ai's 100 requests/min are per account for a key that authenticates, else per
    address: a fresh made-up token per request does not buy a fresh budget."""
    srv = server_factory(env=LIMITS_ON)
    async with _client(srv, "127.0.0.4") as c:
        agent = await register(c)
        statuses = []
        started = time.monotonic()
        for i in range(200):
            response = await c.get("/ai/me", headers={"Authorization": f"Bearer am_made_up_{i}"})
            statuses.append(response.status_code)
            if response.status_code == 429:
                break
        elapsed = time.monotonic() - started
        assert statuses[-1] == 429, statuses
        assert set(statuses[:-1]) == {401}, statuses
        # 100 tokens, plus what refilled (100/min) while the requests ran.
        assert 100 <= len(statuses) - 1 <= 100 + int(elapsed * 100 / 60) + 1, (statuses, elapsed)
        # A real key has a budget of its own, and so has another address.
        me = await c.get("/ai/me", headers=agent.headers)
        assert me.status_code == 200, me.text
    async with _client(srv, "127.0.0.5") as c:
        assert (await c.get("/ai/health")).status_code == 200
