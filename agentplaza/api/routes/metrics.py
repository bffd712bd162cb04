"""GET /metrics: Prometheus text format (mounted only when settings.metrics_enabled).

One process: the registry of agentplaza/metrics.py. Several workers (`serve --workers N`):
every worker writes its values to files in PROMETHEUS_MULTIPROC_DIR and a scrape of any
worker sums all of them; the connection gauge of the other workers is as fresh as their last
`publish_connections_forever` tick (GAUGE_REFRESH_SECS).
"""

from __future__ import annotations

import asyncio
import hmac
import ipaddress
import os

from fastapi import APIRouter, Request
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector, mark_process_dead
from starlette.responses import Response

from agentplaza.api.auth import services_of
from agentplaza.domain.errors import ErrorCode, Forbidden, Unauthenticated
from agentplaza.metrics import CONNECTIONS, MULTIPROCESS, REGISTRY
from agentplaza.realtime.hub import Hub

router = APIRouter()
GAUGE_REFRESH_SECS = 2.0
_seen_transports: set[str] = {"websocket", "sse", "longpoll", "aim"}  # 0 from the first scrape on


@router.get("/metrics", include_in_schema=False)
async def metrics(request: Request) -> Response:
    _check_access(request, services_of(request).runtime.settings.metrics_token)
    refresh_connections(request.app.state.hub)
    return Response(render(), media_type=CONTENT_TYPE_LATEST)


def _check_access(request: Request, token: str) -> None:
    """With `metrics_token` set, only `Authorization: Bearer <token>` may scrape; without
    it, only clients on this host. A request relayed by a proxy on this host carries a
    forwarding header and is not local: the proxy's client is somewhere else."""
    if token:
        sent = request.headers.get("authorization", "")
        if not hmac.compare_digest(sent.encode(), f"Bearer {token}".encode()):
            raise Unauthenticated(
                "send Authorization: Bearer <metrics_token> to scrape /metrics",
                ErrorCode.UNAUTHENTICATED,
            )
        return
    relayed = any(h in request.headers for h in ("x-forwarded-for", "forwarded", "x-real-ip"))
    if relayed or not _is_loopback(request.client.host if request.client else ""):
        raise Forbidden(
            "/metrics is served to clients on this host only; set metrics_token to scrape"
            " it from elsewhere (docs/settings.md)",
            ErrorCode.FORBIDDEN,
        )


def _is_loopback(host: str) -> bool:
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_loopback


def render() -> bytes:
    """The exposition text: this process's registry, or the sum over all worker processes."""
    if not MULTIPROCESS:
        return generate_latest(REGISTRY)
    registry = CollectorRegistry()
    MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
    return generate_latest(registry)


def refresh_connections(hub: Hub) -> None:
    """Set the connection gauge from the hub; a transport with no connections left reads 0."""
    counts = hub.connections_by_transport()
    _seen_transports.update(counts)
    for transport in _seen_transports:
        CONNECTIONS.labels(transport).set(counts.get(transport, 0))


async def publish_connections_forever(hub: Hub) -> None:
    """With several workers, keep this worker's gauge fresh for scrapes served by the others."""
    while True:
        refresh_connections(hub)
        await asyncio.sleep(GAUGE_REFRESH_SECS)


def forget_this_process() -> None:
    """Drop this worker's live gauges from the shared directory (call when it exits)."""
    if MULTIPROCESS:
        mark_process_dead(os.getpid())  # type: ignore[no-untyped-call]
