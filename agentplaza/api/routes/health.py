"""/health and the root: liveness, store and bus status, version."""

from __future__ import annotations

import asyncio
import logging

from fastapi import APIRouter, Request
from starlette.responses import Response

from agentplaza import __version__
from agentplaza.api.auth import ServicesDep
from agentplaza.api.render import json_response
from agentplaza.bus.base import Bus, BusError
from agentplaza.node import node_name
from agentplaza.store.errors import StoreError
from agentplaza.web.routes_pages import home

log = logging.getLogger(__name__)
router = APIRouter(tags=["health"])
# A broker that hangs is as down as one that refuses: a health check must answer promptly.
BUS_PING_TIMEOUT_SECS = 2.0


@router.get("/health", summary="Liveness plus store and bus status")
async def health(request: Request, services: ServicesDep) -> Response:
    """200 `ok` when the store and the bus answer; 503 `degraded` (same body) when either
    does not, so a load balancer moves clients to another node.

    Anyone may ask, so by default the body holds only ok/fail and latencies: error texts
    can name hosts, users and database details. `health_details` adds them, with the
    version, node name, bus scheme and connection count (docs/settings.md).
    """
    settings = services.runtime.settings
    try:
        latency = await services.runtime.store.ping()
        store: dict[str, object] = {"ok": True, "latency_ms": round(latency * 1000, 3)}
    except StoreError as exc:
        store = {"ok": False, "error": str(exc)}
    bus = await _bus_status(services.runtime.bus)
    healthy = bool(store["ok"] and bus["ok"])
    if not healthy:
        log.warning("health check failing: store %s, bus %s", store, bus)
    data: dict[str, object] = {"status": "ok" if healthy else "degraded"}
    if settings.health_details:
        bus["url_scheme"] = settings.bus_url.split("://")[0]
        data.update(
            version=__version__,
            node=node_name(settings.node_id),
            store=store,
            bus=bus,
            connections=request.app.state.hub.connection_count(),
        )
    else:
        data.update(store=_public(store), bus=_public(bus))
    return json_response(data, 200 if healthy else 503)


def _public(status: dict[str, object]) -> dict[str, object]:
    return {k: v for k, v in status.items() if k in {"ok", "latency_ms"}}


async def _bus_status(bus: Bus) -> dict[str, object]:
    try:
        latency = await asyncio.wait_for(bus.ping(), BUS_PING_TIMEOUT_SECS)
    except BusError as exc:
        return {"ok": False, "error": str(exc) or type(exc).__name__}
    except TimeoutError:
        return {"ok": False, "error": f"no answer within {BUS_PING_TIMEOUT_SECS:g} s"}
    return {"ok": True, "latency_ms": round(latency * 1000, 3)}


@router.get("/v1/version", summary="Server version")
async def version() -> Response:
    return json_response({"name": "agentplaza", "version": __version__})


@router.get("/", include_in_schema=False)
async def root(request: Request) -> Response:
    """A browser gets the web app's home page; API clients the server's name and version."""
    if "text/html" in request.headers.get("accept", ""):
        return await home(request)
    return json_response(
        {"name": "agentplaza", "version": __version__, "docs": "/docs", "openapi": "/openapi.json"}
    )
