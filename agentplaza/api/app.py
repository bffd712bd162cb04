"""build_app(settings): the composition root. Opens the store and bus, builds the hub and the
services, mounts routes and realtime endpoints, and runs background loops in the lifespan."""

from __future__ import annotations

import asyncio
import functools
import logging
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager, suppress

from fastapi import FastAPI
from starlette.exceptions import HTTPException
from starlette.middleware.gzip import GZipMiddleware
from starlette.types import ASGIApp, Receive, Scope, Send
from starlette.websockets import WebSocket

from agentplaza import __version__
from agentplaza.api import sends
from agentplaza.api.dialects import ai, chatr, studio
from agentplaza.api.dialects.studio.envelope import unrouted_error
from agentplaza.api.errors import install_error_handlers
from agentplaza.api.httpmetrics import HttpMetrics
from agentplaza.api.limits import BodySizeLimit
from agentplaza.api.requestid import RequestId, request_id_of
from agentplaza.api.routes import (
    admin,
    agents,
    files,
    friends,
    groups,
    health,
    keys,
    messages,
    metrics,
    moments,
    notifications,
    owned_agents,
    privacy,
    profile,
    stream,
    threads,
    users,
    webhooks,
)
from agentplaza.bus import open_bus
from agentplaza.cluster import open_cluster_state
from agentplaza.delivery.hosted_replies import HostedReplyWorker
from agentplaza.delivery.webhooks import WebhookWorker
from agentplaza.domain.group_homes import HOMES_TOPIC_PREFIX
from agentplaza.logs import request_id_var
from agentplaza.metrics import MULTIPROCESS
from agentplaza.node import node_name
from agentplaza.realtime.aim import AimServer
from agentplaza.realtime.hub import Hub
from agentplaza.realtime.revocations import RevocationRelay
from agentplaza.realtime.rooms import RoomHub
from agentplaza.realtime.sse import StreamCounter
from agentplaza.realtime.studio_rooms import StudioRoomHub
from agentplaza.realtime.websocket import websocket_endpoint
from agentplaza.services.chat_room_events import STUDIO_ROOM_TOPIC_PREFIX
from agentplaza.services.group_homes import GroupHomes
from agentplaza.services.registry import Services, build_services
from agentplaza.services.rooms import ROOM_TOPIC_PREFIX
from agentplaza.services.runtime import Runtime
from agentplaza.settings import Settings
from agentplaza.store import open_store
from agentplaza.store.blobs import open_blob_store
from agentplaza.web.cookies import peer_address
from agentplaza.web.site import install_web

log = logging.getLogger(__name__)
_API_PREFIXES = ("/v1/", "/chatr/", "/ai/", "/studio/", "/metrics", "/health")


class AgentplazaApp:
    """The ASGI entry point: `/v1/ws` goes straight to its handler, everything else to FastAPI.

    FastAPI's per-connection WebSocket machinery (router, dependency exit stack, middleware
    frames) costs ~11 KB per idle connection; skipping it keeps 5,000 idle sockets near 20 KB
    each (measured: see bench/README.md). HTTP keeps FastAPI's validation and OpenAPI.
    Every HTTP request, the send endpoints (api/sends.py) included, gets a request id and (if
    enabled) metrics.
    """

    def __init__(
        self,
        api: FastAPI,
        websocket: Callable[[WebSocket], Awaitable[None]],
        *,
        max_body_bytes: int,
        metrics_enabled: bool,
        body_limits: Mapping[str, int] | None = None,
    ) -> None:
        self.api = api
        self._websocket = websocket
        http: ASGIApp = BodySizeLimit(api, max_bytes=max_body_bytes, path_limits=body_limits)
        metrics = None
        if metrics_enabled:
            http = metrics = HttpMetrics(http)
        self._http = RequestId(http)
        # The send endpoints skip the stack: SendRoutes does its three layers' work inline.
        self._sends = sends.SendRoutes(
            api,
            api.state.services,
            max_bytes=max_body_bytes,
            path_limits=dict(body_limits or {}),
            metrics=metrics,
        )
        # The web app's pages and assets go compressed (the page-weight budget); the API's hot
        # paths are spared the CPU, and event streams are never buffered (GZip skips them).
        self._web_http = RequestId(GZipMiddleware(http, minimum_size=500))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket" and scope["path"] == "/v1/ws":
            # Only the log context: the upgrade's response headers are not worth a wrapper.
            # The connection's task ends with the socket, so the id is not reset.
            request_id_var.set(request_id_of(scope))
            await self._websocket(WebSocket(scope, receive, send))
            return
        if scope["type"] == "http":
            if scope["method"] == "POST" and (group_id := self._sends.target(scope)) is not None:
                await self._sends(scope, receive, send, group_id)
                return
            if not scope["path"].startswith(_API_PREFIXES):
                await self._web_http(scope, receive, send)
                return
        await self._http(scope, receive, send)

    async def going_away(self) -> None:
        """Shutdown has begun: WebSockets get close code 1001, parked long-polls answer now.

        Called by the server (server.py) once it stops accepting, before it waits for
        in-flight requests; the lifespan's own hub.stop() then finds nothing left to close.
        """
        aim: AimServer = self.api.state.aim
        await aim.stop()  # first: no new AIM connection may attach to a stopping hub
        hub: Hub = self.api.state.hub
        await hub.stop()
        # Room streams end too, or the server would wait out its grace period for them.
        room_hub: RoomHub = self.api.state.room_hub
        await room_hub.stop()


def build_app(settings: Settings) -> AgentplazaApp:
    store = open_store(
        settings.effective_database_url,
        sqlite_synchronous=settings.sqlite_synchronous,
        group_commit_max=settings.group_commit_max,
        pool_size=settings.database_pool_size,
    )
    bus = open_bus(settings.bus_url, namespace=settings.bus_namespace)
    cluster = open_cluster_state(
        settings.effective_redis_url,
        namespace=settings.bus_namespace,
        node_id=node_name(settings.node_id),
    )
    webhook_due = asyncio.Event()
    hosted_due = asyncio.Event()
    services = build_services(
        Runtime(store=store, bus=bus, cluster=cluster, settings=settings),
        blobs=open_blob_store(settings.data_dir),
        webhook_due=webhook_due,
        hosted_due=hosted_due,
    )
    hub = Hub(bus, cluster, heartbeat_interval_secs=settings.ws_heartbeat_interval_secs)
    room_hub = RoomHub(bus, services.rooms)
    hub.route_topics(ROOM_TOPIC_PREFIX, room_hub.on_bus_event)
    studio_room_hub = StudioRoomHub(bus)  # studio chat rooms' listeners (WebSocket, SSE send)
    hub.route_topics(STUDIO_ROOM_TOPIC_PREFIX, studio_room_hub.on_bus_event)
    revocations = RevocationRelay(bus, hub, services.accounts)
    group_homes = None
    if settings.shared_bus and settings.group_routing:
        # Unique per process, even for workers sharing a node_id: a node's topic has one reader.
        node = f"{node_name(settings.node_id)}:{secrets.token_hex(4)}"
        group_homes = GroupHomes(bus, node, services.sending.store_and_publish)
        hub.route_topics(HOMES_TOPIC_PREFIX, group_homes.on_bus_event)
        services.sending.route_groups(group_homes)  # each calls the other: set once both exist
    webhook_worker = WebhookWorker(services.webhooks, settings, due=webhook_due)
    hosted_worker = HostedReplyWorker(
        store, services.hosted, services.hosted_replying, settings, due=hosted_due
    )
    aim = AimServer(services, hub, functools.partial(sends.send_from_payload, services))

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await store.start()
        await bus.start()
        await cluster.start()
        await hub.start()
        await revocations.start()
        if group_homes is not None:
            await group_homes.start()
        await room_hub.start()
        await aim.start()
        purger = asyncio.get_running_loop().create_task(_purge_loop(services))
        await webhook_worker.start()
        await hosted_worker.start()
        gauges = None
        if settings.metrics_enabled and MULTIPROCESS:
            # Any worker may serve a scrape: keep this one's connection gauge current for them.
            gauges = asyncio.get_running_loop().create_task(
                metrics.publish_connections_forever(hub)
            )
        try:
            yield
        finally:
            for task in (purger, gauges):
                if task is not None:
                    task.cancel()
                    with suppress(asyncio.CancelledError):
                        await task
            await hosted_worker.stop()  # before the store and bus close: it sends through them
            await webhook_worker.stop()  # before the store closes: it records outcomes there
            await services.providers.close()
            await aim.stop()
            await room_hub.stop()
            studio_room_hub.stop()
            await services.chat_rooms.floor.stop()
            if group_homes is not None:
                await group_homes.stop()  # forwards still waiting are stored here
            await services.sending.drain()  # after everything that sends, before the bus closes
            await revocations.stop()
            await hub.stop()
            await cluster.close()
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
    app.state.room_hub = room_hub
    app.state.studio_room_hub = studio_room_hub
    app.state.aim = aim
    app.state.sse_streams = StreamCounter(settings.sse_max_streams_per_ip)
    install_error_handlers(app)
    # Unrouted /studio paths (404/405) in seed 004's error shape, like its routes' errors.
    app.add_exception_handler(HTTPException, unrouted_error)
    install_web(app, settings)
    for router in (
        health.router,
        privacy.router,  # before agents: `/v1/agents/settings` is not an account id
        agents.router,
        files.avatar_router,
        owned_agents.router,  # before users: a path of its own under /v1/users/me
        users.router,
        profile.router,
        profile.card_router,
        messages.router,
        threads.router,
        notifications.router,
        friends.router,
        groups.router,
        moments.router,
        files.router,
        webhooks.router,
        stream.router,
        keys.router,
        ai.router,
        chatr.router,
        *studio.routers,
        admin.router,
    ):
        app.include_router(router)
    if settings.metrics_enabled:
        app.include_router(metrics.router)
    return AgentplazaApp(
        app,
        websocket_endpoint(
            services,
            hub,
            sockets=StreamCounter(settings.ws_max_connections_per_ip),
            address_of=lambda ws: peer_address(
                ws, trust_forwarded_for=settings.trust_forwarded_for
            ),
        ),
        max_body_bytes=settings.max_body_bytes,
        metrics_enabled=settings.metrics_enabled,
        body_limits=files.body_limits(settings),
    )


async def _purge_loop(services: Services) -> None:
    interval = services.runtime.settings.purge_interval_secs
    while True:
        try:
            removed = await services.messaging.purge_expired()
            if removed:
                log.info("retention purge removed %d expired rows", removed)
        except Exception:
            log.exception("retention purge failed; will retry")
        await asyncio.sleep(interval)
