"""GET /v1/admin/stats: the operator dashboard's numbers, as JSON, for admins only.

The same values as `GET /metrics` (agentplaza/metrics.py; summed over workers with
`serve --workers N`), reduced to what the dashboard draws, plus two live probes: a store
ping, a bus ping and the webhook outbox count. Counters are cumulative since the process
started: the dashboard turns two polls into rates, so any number of admins may poll without
the server keeping state per viewer.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable

from fastapi import APIRouter, Request
from prometheus_client import CollectorRegistry
from prometheus_client.metrics_core import Metric
from prometheus_client.multiprocess import MultiProcessCollector
from starlette.responses import Response

from agentplaza.api.auth import CurrentAccount, ServicesDep
from agentplaza.api.render import json_response
from agentplaza.api.routes.metrics import refresh_connections
from agentplaza.bus.base import BusError
from agentplaza.domain.admins import is_admin, parse_admin_users
from agentplaza.domain.errors import ErrorCode, Forbidden
from agentplaza.metrics import MULTIPROCESS, REGISTRY
from agentplaza.node import node_name
from agentplaza.services.registry import Services
from agentplaza.store.errors import StoreError

router = APIRouter(prefix="/v1/admin", tags=["admin"])
PING_TIMEOUT_SECS = 2.0
Stats = dict[str, object]


@router.get("/stats", summary="Operator numbers for the dashboard (admin_users only)")
async def stats(request: Request, account: CurrentAccount, services: ServicesDep) -> Response:
    settings = services.runtime.settings
    if not is_admin(account, parse_admin_users(settings.admin_users)):
        raise Forbidden(
            "only the accounts listed in the admin_users setting may read server stats",
            ErrorCode.FORBIDDEN,
        )
    refresh_connections(request.app.state.hub)
    data = from_metrics(_families())
    store_ms, bus_ms, depth = await asyncio.gather(
        _store_ping(services), _bus_ping(services), services.webhooks.queue_depth()
    )
    data.update(
        ts=int(time.time() * 1000),
        node=node_name(settings.node_id),
        webhook_queue_depth=depth,
        store_ping_ms=store_ms,
        bus_ping_ms=bus_ms,
    )
    return json_response(data, headers={"Cache-Control": "no-store"})


def _families() -> Iterable[Metric]:
    if not MULTIPROCESS:
        return REGISTRY.collect()
    registry = CollectorRegistry()
    MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
    return registry.collect()


def from_metrics(families: Iterable[Metric]) -> Stats:
    """The dashboard's view of the registry: totals, per-label totals and histogram
    count/sum pairs (a mean latency over any interval is Δsum / Δcount)."""
    values: dict[tuple[str, str], float] = {}
    for family in families:
        for sample in family.samples:
            label = next(iter(sample.labels.values()), "") if len(sample.labels) == 1 else ""
            if sample.name.endswith("_bucket"):
                continue
            key = (sample.name, label)
            values[key] = values.get(key, 0.0) + sample.value

    def by_label(name: str) -> dict[str, float]:
        return {label: v for (n, label), v in values.items() if n == name and label}

    def timing(name: str, label: str = "") -> dict[str, float]:
        return {
            "count": values.get((f"{name}_count", label), 0.0),
            "sum_secs": values.get((f"{name}_sum", label), 0.0),
        }

    connections = {t: 0.0 for t in ("websocket", "sse", "longpoll", "aim")}
    connections.update(by_label("agentplaza_connections"))
    attempts = by_label("agentplaza_webhook_attempts_total")
    return {
        "messages_sent": values.get(("agentplaza_messages_sent_total", ""), 0.0),
        "deliveries": by_label("agentplaza_messages_delivered_total"),
        "connections": connections,
        "webhook_attempts": {o: attempts.get(o, 0.0) for o in ("delivered", "retry", "failed")},
        "store_ops": {
            op: timing("agentplaza_store_seconds", op)
            for (n, op) in sorted(values)
            if n == "agentplaza_store_seconds_count" and op
        },
        "bus_publish": timing("agentplaza_bus_publish_seconds"),
        "http_requests": sum(
            v for (n, _), v in values.items() if n == "agentplaza_http_requests_total"
        ),
    }


async def _store_ping(services: Services) -> float | None:
    try:
        latency = await asyncio.wait_for(services.runtime.store.ping(), PING_TIMEOUT_SECS)
    except (StoreError, TimeoutError):
        return None
    return round(latency * 1000, 3)


async def _bus_ping(services: Services) -> float | None:
    try:
        latency = await asyncio.wait_for(services.runtime.bus.ping(), PING_TIMEOUT_SECS)
    except (BusError, TimeoutError):
        return None
    return round(latency * 1000, 3)
