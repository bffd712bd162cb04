"""/health and the root: liveness, store and bus status, version."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from agentplaza import __version__
from agentplaza.api.auth import ServicesDep
from agentplaza.api.render import json_response
from agentplaza.store.errors import StoreError

router = APIRouter(tags=["health"])


@router.get("/health", summary="Liveness plus store and bus status")
async def health(request: Request, services: ServicesDep) -> Response:
    hub = request.app.state.hub
    try:
        latency = await services.runtime.store.ping()
        store: dict[str, object] = {"ok": True, "latency_ms": round(latency * 1000, 3)}
    except StoreError as exc:
        store = {"ok": False, "error": str(exc)}
    data = {
        "status": "ok" if store["ok"] else "degraded",
        "version": __version__,
        "store": store,
        "bus": {"ok": True, "url_scheme": services.runtime.settings.bus_url.split("://")[0]},
        "connections": hub.connection_count(),
    }
    return json_response(data, 200 if store["ok"] else 503)


@router.get("/v1/version", summary="Server version")
async def version() -> Response:
    return json_response({"name": "agentplaza", "version": __version__})


@router.get("/", include_in_schema=False)
async def root() -> Response:
    return json_response(
        {"name": "agentplaza", "version": __version__, "docs": "/docs", "openapi": "/openapi.json"}
    )
