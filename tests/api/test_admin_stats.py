"""GET /v1/admin/stats: 401 without credentials, 403 for everyone outside `admin_users`
(agents included, even when named there), and for an admin the live numbers the dashboard
draws, moving with real traffic."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any

import httpx
from websockets.asyncio.client import connect

from tests.api.helpers import assert_error, send
from tests.conftest import register, unique_name
from tests.server import ServerProcess


async def register_human(http: httpx.AsyncClient, name: str) -> dict[str, str]:
    response = await http.post(
        "/v1/users/register", json={"display_name": name, "password": "correct horse battery"}
    )
    assert response.status_code == 201, response.text
    return {"Authorization": f"Bearer {response.json()['token']}"}


async def stats(http: httpx.AsyncClient, headers: dict[str, str]) -> dict[str, Any]:
    response = await http.get("/v1/admin/stats", headers=headers)
    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "no-store"
    data: dict[str, Any] = response.json()
    return data


async def test_stats_are_for_listed_humans_only(
    server_factory: Callable[..., ServerProcess],
) -> None:
    admin_name, agent_name = unique_name("ops"), unique_name("bot")
    server = server_factory(
        env={
            "AGENTPLAZA_RATE_LIMITS_ENABLED": "0",
            # Case differs on purpose: names are matched as they collide.
            "AGENTPLAZA_ADMIN_USERS": f" {admin_name.upper()} , {agent_name}",
        }
    )
    async with httpx.AsyncClient(base_url=server.url, timeout=30) as http:
        assert_error(await http.get("/v1/admin/stats"), 401, "unauthenticated")
        other = await register_human(http, unique_name("carol"))
        assert_error(await http.get("/v1/admin/stats", headers=other), 403, "forbidden")
        agent = await register(http, agent_name)  # listed, but an agent
        assert_error(await http.get("/v1/admin/stats", headers=agent.headers), 403, "forbidden")
        admin = await register_human(http, admin_name)
        data = await stats(http, admin)
    assert set(data["connections"]) >= {"websocket", "sse", "longpoll", "aim"}
    assert isinstance(data["store_ping_ms"], float) and data["store_ping_ms"] >= 0
    assert isinstance(data["bus_ping_ms"], float) and data["bus_ping_ms"] >= 0
    assert data["webhook_queue_depth"] == 0
    assert set(data["webhook_attempts"]) == {"delivered", "retry", "failed"}
    assert data["ts"] > 0 and data["node"]


async def test_numbers_follow_traffic(server_factory: Callable[..., ServerProcess]) -> None:
    admin_name = unique_name("ops")
    server = server_factory(
        env={
            "AGENTPLAZA_RATE_LIMITS_ENABLED": "0",
            "AGENTPLAZA_ADMIN_USERS": admin_name,
            "AGENTPLAZA_WEBHOOK_ALLOW_PRIVATE": "1",
        }
    )
    async with httpx.AsyncClient(base_url=server.url, timeout=30) as http:
        admin = await register_human(http, admin_name)
        alice, bob = await register(http), await register(http)
        # A webhook nobody answers (a closed port on this host) keeps its delivery queued.
        hook = await http.post(
            "/v1/agents/me/webhook",
            json={"url": "http://127.0.0.1:9/hook"},
            headers=bob.headers,
        )
        assert hook.status_code == 201, hook.text
        before = await stats(http, admin)
        async with connect(server.ws_url, additional_headers=alice.headers, proxy=None) as ws:
            assert json.loads(await ws.recv())["type"] == "notifications"
            during = await stats(http, admin)
            for _ in range(3):
                await send(http, bob, alice.id)
            for _ in range(3):
                assert json.loads(await asyncio.wait_for(ws.recv(), 5))["type"] == "msg"
            await send(http, alice, bob.id)
            after = await stats(http, admin)
        retried = after
        async with asyncio.timeout(10):
            # A send is answered before its bus publication completes (services/sending.py).
            while (
                retried["webhook_attempts"]["retry"] == before["webhook_attempts"]["retry"]
                or retried["bus_publish"]["count"] < before["bus_publish"]["count"] + 4
            ):
                await asyncio.sleep(0.1)
                retried = await stats(http, admin)
    assert during["connections"]["websocket"] == before["connections"]["websocket"] + 1
    assert after["messages_sent"] == before["messages_sent"] + 4
    assert after["deliveries"].get("websocket", 0) == before["deliveries"].get("websocket", 0) + 3
    append = after["store_ops"]["append"]
    assert append["count"] >= before["store_ops"].get("append", {"count": 0})["count"] + 4
    assert append["sum_secs"] > 0
    assert retried["bus_publish"]["count"] >= before["bus_publish"]["count"] + 4
    assert before["webhook_queue_depth"] == 0
    assert after["webhook_queue_depth"] == 1
    assert retried["webhook_queue_depth"] == 1  # failed attempts stay queued for a retry
