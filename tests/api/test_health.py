"""/health reports the store, the bus (pinged, with a deadline) and the node's name."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import cast

import httpx
import pytest

from agentplaza.api.routes import health
from agentplaza.bus.base import Bus, BusError
from tests.server import ServerProcess


async def test_health_tells_anyone_only_ok_and_latencies(client: httpx.AsyncClient) -> None:
    """By default (the session server): no version, node, bus scheme or counts."""
    response = await client.get("/health")
    assert response.status_code == 200, response.text
    data = response.json()
    assert data == {
        "status": "ok",
        "store": {"ok": True, "latency_ms": data["store"]["latency_ms"]},
        "bus": {"ok": True, "latency_ms": data["bus"]["latency_ms"]},
    }
    assert isinstance(data["store"]["latency_ms"], float)
    assert isinstance(data["bus"]["latency_ms"], float)


async def test_health_details_report_store_bus_and_node(
    server_factory: Callable[..., ServerProcess],
) -> None:
    srv = server_factory(env={"AGENTPLAZA_HEALTH_DETAILS": "1"})
    async with httpx.AsyncClient(base_url=srv.url, timeout=10) as client:
        response = await client.get("/health")
    assert response.status_code == 200, response.text
    data = response.json()
    assert data["status"] == "ok"
    assert data["store"]["ok"] is True and data["bus"]["ok"] is True
    assert isinstance(data["bus"]["latency_ms"], float)
    assert data["bus"]["url_scheme"] in {"memory", "redis", "nats"}
    assert isinstance(data["node"], str) and data["node"]
    assert data["version"] and data["connections"] == 0


class _Bus:
    def __init__(self, ping: float | Exception | None) -> None:
        self._ping = ping

    async def ping(self) -> float:
        if isinstance(self._ping, Exception):
            raise self._ping
        if self._ping is None:  # a broker that never answers
            await asyncio.Event().wait()
        assert isinstance(self._ping, float)
        return self._ping


def _bus(ping: float | Exception | None) -> Bus:
    return cast("Bus", _Bus(ping))  # only ping() is called


async def test_bus_that_refuses_or_hangs_is_down(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(health, "BUS_PING_TIMEOUT_SECS", 0.05)
    assert await health._bus_status(_bus(0.0015)) == {"ok": True, "latency_ms": 1.5}
    down = await health._bus_status(_bus(BusError("connection refused")))
    assert down == {"ok": False, "error": "connection refused"}
    hung = await health._bus_status(_bus(None))
    assert hung["ok"] is False and "0.05 s" in str(hung["error"])
