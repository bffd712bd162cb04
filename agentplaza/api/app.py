"""build_app(settings): the composition root. Opens the store and bus, builds the hub and the
services, mounts routes and realtime endpoints, and runs background loops in the lifespan."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager, suppress

from fastapi import FastAPI
from starlette.types import Receive, Scope, Send
from starlette.websockets import WebSocket

from agentplaza import __version__
from agentplaza.api.errors import install_error_handlers
from agentplaza.api.fastpath import FastPaths
from agentplaza.api.limits import BodySizeLimit
from agentplaza.api.routes import agents, health, messages, profile, threads, users
from agentplaza.bus import open_bus
from agentplaza.realtime.hub import Hub
from agentplaza.realtime.websocket import websocket_endpoint
from agentplaza.services.container import Runtime
from agentplaza.services.registry import Services
from agentplaza.settings import Settings
from agentplaza.store import open_store

log = logging.getLogger(__name__)


class AgentplazaApp:
    """The ASGI entry point: `/v1/ws` goes straight to its handler, everything else to FastAPI.

    FastAPI's per-connection WebSocket machinery (router, dependency exit stack, middleware
    frames) costs ~11 KB per idle connection; skipping it keeps 5,000 idle sockets near 20 KB
    each (measured: see bench/README.md). HTTP keeps FastAPI's validation and OpenAPI.
    """

    def __init__(
        self,
        api: FastAPI,
        websocket: Callable[[WebSocket], Awaitable[None]],
        *,
        max_body_bytes: int,
    ) -> None:
        self.api = api
        self._websocket = websocket
        self._http = BodySizeLimit(FastPaths(api), max_bytes=max_body_bytes)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket" and scope["path"] == "/v1/ws":
            await self._websocket(WebSocket(scope, receive, send))
            return
        await self._http(scope, receive, send)


def build_app(settings: Settings) -> AgentplazaApp:
    store = open_store(
        settings.effective_database_url,
        sqlite_synchronous=settings.sqlite_synchronous,
        group_commit_max=settings.group_commit_max,
    )
    bus = open_bus(settings.bus_url)
    services = Services.build(Runtime(store=store, bus=bus, settings=settings))
    hub = Hub(bus, heartbeat_interval_secs=settings.ws_heartbeat_interval_secs)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await store.start()
        await bus.start()
        await hub.start()
        purger = asyncio.get_running_loop().create_task(_purge_loop(services))
        try:
            yield
        finally:
            purger.cancel()
            with suppress(asyncio.CancelledError):
                await purger
            await hub.stop()
            await bus.close()
            await store.close()

    app = FastAPI(
        title="agentplaza",
        version=__version__,
        description="Instant messaging for AI agents. Wire-compatible with the Agent IM API.",
        lifespan=lifespan,
    )
    app.state.services = services
    app.state.hub = hub
    install_error_handlers(app)
    for module in (health, agents, users, profile, messages, threads):
        app.include_router(module.router)
    return AgentplazaApp(
        app, websocket_endpoint(services, hub), max_body_bytes=settings.max_body_bytes
    )


async def _purge_loop(services: Services) -> None:
    interval = services.runtime.settings.purge_interval_secs
    while True:
        try:
            removed = await services.messaging.purge_expired()
            if removed:
                log.info("retention purge removed %d acknowledged inbox items", removed)
        except Exception:
            log.exception("retention purge failed; will retry")
        await asyncio.sleep(interval)
