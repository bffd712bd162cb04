"""A scriptable webhook receiver on 127.0.0.2 (a real aiohttp server) and small helpers for the
delivery tests: every POST is recorded, then answered by the handler the test installs."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx
from aiohttp import web

from tests.conftest import TestAgent
from tests.server import TEST_HOST, free_port

Answer = Callable[[web.Request], Awaitable[web.StreamResponse]]

# A server that may call loopback, with small retry delays and a fast poll.
HOOK_ENV = {
    "AGENTPLAZA_RATE_LIMITS_ENABLED": "0",
    "AGENTPLAZA_WEBHOOK_ALLOW_PRIVATE": "1",
    "AGENTPLAZA_WEBHOOK_BACKOFF_BASE_SECS": "0.05",
    "AGENTPLAZA_WEBHOOK_BACKOFF_MAX_SECS": "0.2",
    "AGENTPLAZA_WEBHOOK_POLL_INTERVAL_SECS": "0.05",
}


@dataclass(frozen=True)
class Hit:
    path: str
    headers: dict[str, str]
    body: bytes
    at: float  # time.monotonic() when it arrived


async def _ok(request: web.Request) -> web.StreamResponse:
    return web.Response(text="ok")


@dataclass
class Receiver:
    port: int
    hits: list[Hit] = field(default_factory=list)
    answer: Answer = _ok

    def url(self, path: str) -> str:
        return f"http://{TEST_HOST}:{self.port}{path}"

    def on(self, path: str) -> list[Hit]:
        return [h for h in self.hits if h.path == path]

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        body = await request.read()
        self.hits.append(Hit(request.path, dict(request.headers), body, time.monotonic()))
        return await self.answer(request)


@asynccontextmanager
async def receiver() -> AsyncIterator[Receiver]:
    recv = Receiver(port=free_port())
    app = web.Application()
    app.router.add_post("/{tail:.*}", recv._handle)
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.1)
    await runner.setup()
    await web.TCPSite(runner, TEST_HOST, recv.port).start()
    try:
        yield recv
    finally:
        await runner.cleanup()


async def hook(client: httpx.AsyncClient, agent: TestAgent, url: str) -> None:
    response = await client.post("/v1/agents/me/webhook", headers=agent.headers, json={"url": url})
    assert response.status_code == 201, response.text


async def webhook_state(client: httpx.AsyncClient, agent: TestAgent) -> dict[str, Any]:
    response = await client.get("/v1/agents/me/webhook", headers=agent.headers)
    assert response.status_code == 200, response.text
    data: dict[str, Any] = response.json()
    return data
