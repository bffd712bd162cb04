"""The Prometheus metrics of one server process: metric objects and their pre-bound children.

Imports nothing from agentplaza, so every layer may count. Hot paths use the children bound
here (`DELIVERED_WS`, `STORE_APPEND`, ...): `.labels()` takes a lock and builds a key per call.

With several worker processes (`serve --workers N`) the supervisor sets
`PROMETHEUS_MULTIPROC_DIR` before the workers start; prometheus-client then keeps every value
in a per-process file there, and `GET /metrics` on any worker sums them (api/routes/metrics.py).
"""

from __future__ import annotations

import os

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
)
from prometheus_client.gc_collector import GCCollector
from prometheus_client.platform_collector import PlatformCollector
from prometheus_client.process_collector import ProcessCollector

# Read by prometheus-client when it is first imported; set only by `serve --workers N`.
MULTIPROCESS = "PROMETHEUS_MULTIPROC_DIR" in os.environ

# `_created` series double the text of every counter and histogram and no query of ours uses
# them (Prometheus detects counter resets by itself).
disable_created_metrics()  # type: ignore[no-untyped-call]
REGISTRY = CollectorRegistry(auto_describe=True)
if not MULTIPROCESS:
    # Per-process collectors make no sense summed over workers; the multiprocess collector
    # does not offer them either.
    ProcessCollector(registry=REGISTRY)
    PlatformCollector(registry=REGISTRY)
    GCCollector(registry=REGISTRY)

# Store calls take ~50 µs-5 ms on a healthy node; the default buckets start at 5 ms.
_STORE_BUCKETS = (
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
)  # fmt: skip
# Requests span sub-millisecond sends to long-polls parked for up to a minute.
_HTTP_BUCKETS = (
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
    60.0,
)  # fmt: skip

MESSAGES_SENT = Counter(
    "agentplaza_messages_sent",
    "Direct messages stored by a send (idempotent replays are not counted).",
    registry=REGISTRY,
)
MESSAGES_DELIVERED = Counter(
    "agentplaza_messages_delivered",
    "Deliveries written to a client, by transport (backlog, live and gap-fill frames).",
    ["transport"],
    registry=REGISTRY,
)
CONNECTIONS = Gauge(
    "agentplaza_connections",
    "Live client connections on this node, by transport (read from the hub at scrape time).",
    ["transport"],
    # Summed over live workers; a worker's series goes when it exits (mark_process_dead).
    multiprocess_mode="livesum",
    registry=REGISTRY,
)
STORE_SECONDS = Histogram(
    "agentplaza_store_seconds",
    "Time of store calls on the message path, by operation.",
    ["op"],
    buckets=_STORE_BUCKETS,
    registry=REGISTRY,
)
BUS_PUBLISH_SECONDS = Histogram(
    "agentplaza_bus_publish_seconds",
    "Time to publish one message's deliveries (one per recipient) to the bus.",
    buckets=_STORE_BUCKETS,
    registry=REGISTRY,
)
STORE_DM_BATCH_SIZE = Histogram(
    "agentplaza_store_dm_batch_size",
    "Direct messages written per PostgreSQL statement (store/postgres_batching.py).",
    buckets=(1, 2, 4, 8, 16, 32, 64),
    registry=REGISTRY,
)
STORE_GROUP_BATCH_SIZE = Histogram(
    "agentplaza_store_group_batch_size",
    "Messages to one group written per PostgreSQL statement (store/postgres_group_batching.py).",
    buckets=(1, 2, 4, 8, 16, 32, 64),
    registry=REGISTRY,
)
GROUP_SENDS_ROUTED = Counter(
    "agentplaza_group_sends_routed",
    "Group sends this node handed to the group's home node (services/group_homes.py), by"
    " outcome: answered (the home's answer, stored or refused), redo (the home was stopping),"
    " unsent (the bus refused the request), unknown (no answer: sent here after all).",
    ["outcome"],
    registry=REGISTRY,
)
CLUSTER_NODES = Gauge(
    "agentplaza_cluster_nodes",
    "Server processes this node hears on the bus, itself included (services/group_homes.py).",
    multiprocess_mode="mostrecent",
    registry=REGISTRY,
)
GROUP_SENDS_SERVED = Counter(
    "agentplaza_group_sends_served",
    "Group sends this node stored for another node, as the group's home.",
    registry=REGISTRY,
)
HTTP_REQUESTS = Counter(
    "agentplaza_http_requests",
    "HTTP requests answered, by method, route template (`other` if none matched) and status.",
    ["method", "route", "status"],
    registry=REGISTRY,
)
HTTP_REQUEST_SECONDS = Histogram(
    "agentplaza_http_request_seconds",
    "Time from request start to the end of the response, by method and route template.",
    ["method", "route"],
    buckets=_HTTP_BUCKETS,
    registry=REGISTRY,
)

WEBHOOK_QUEUE_DEPTH = Gauge(
    "agentplaza_webhook_queue_depth",
    "Webhook outbox rows neither delivered nor given up (the whole database, as last seen by"
    " this node's delivery worker).",
    # Every worker reads the same table: the latest value is the answer, not a sum.
    multiprocess_mode="mostrecent",
    registry=REGISTRY,
)
WEBHOOK_ATTEMPTS = Counter(
    "agentplaza_webhook_attempts",
    "Webhook POSTs made by this node, by outcome: delivered (2xx), retry (scheduled again),"
    " failed (given up after the retry horizon).",
    ["outcome"],
    registry=REGISTRY,
)
AIM_CLOSED = Counter(
    "agentplaza_aim_closed",
    "AIM TCP connections closed by the server, by reason: protocol (not an AIM frame), auth"
    " (bad or missing key), idle (silent past aim_idle_timeout_secs), unavailable (store down).",
    ["reason"],
    registry=REGISTRY,
)

# Pre-bound children for the hot paths.
DELIVERED_WS = MESSAGES_DELIVERED.labels("websocket")
DELIVERED_SSE = MESSAGES_DELIVERED.labels("sse")
DELIVERED_LONGPOLL = MESSAGES_DELIVERED.labels("longpoll")
DELIVERED_AIM = MESSAGES_DELIVERED.labels("aim")
STORE_APPEND = STORE_SECONDS.labels("append")
STORE_READ_PENDING = STORE_SECONDS.labels("read_pending")
STORE_READ_SYNC = STORE_SECONDS.labels("read_sync")
