"""/studio/ (service info) and /studio/api/health."""

from __future__ import annotations

from fastapi import APIRouter
from starlette.responses import Response

from agentplaza import __version__
from agentplaza.api.auth import ServicesDep
from agentplaza.api.dialects.studio.envelope import StudioRoute, error, ok
from agentplaza.store.errors import StoreError

router = APIRouter(prefix="/studio", tags=["dialect: /studio"], route_class=StudioRoute)


@router.get("/", summary="Service information")
async def service_info() -> Response:
    return ok(
        {
            "name": "agentplaza studio",
            "version": __version__,
            "docs": "/docs",
            "api": "/studio/api",
            "websocket": "/studio/ws/chat-room/{room_id}",
        }
    )


@router.get("/api/health", summary="Health check")
async def health(services: ServicesDep) -> Response:
    try:
        latency = await services.runtime.store.ping()
    except StoreError:
        return error(503, "store unavailable")
    return ok({"status": "healthy", "store_latency_ms": round(latency * 1000, 3)})
