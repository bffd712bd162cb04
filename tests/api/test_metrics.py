"""GET /metrics against a real server: the text parses, counters move by exactly the traffic a
test makes, routes are labelled by template, the connection gauge follows live sockets, and
the route is absent when metrics are disabled.

The module has a server of its own, so no other module's traffic moves its counters.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from typing import TYPE_CHECKING, Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from websockets.asyncio.client import ClientConnection, connect

from tests.api.helpers import post_message
from tests.conftest import NO_RATE_LIMITS, own_server, register
from tests.server import ServerProcess

if TYPE_CHECKING:  # imported by name, pytest would try to collect it as a test class
    from tests.conftest import TestAgent

FRAME_TIMEOUT_SECS = 5.0
Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


@pytest.fixture(scope="module")
def metrics_server(
    backend: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServerProcess]:
    with own_server(backend, tmp_path_factory, "metrics", NO_RATE_LIMITS) as proc:
        yield proc


@pytest.fixture
async def http(metrics_server: ServerProcess) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=metrics_server.url, timeout=30) as c:
        yield c


async def scrape(http: httpx.AsyncClient) -> Samples:
    response = await http.get("/metrics")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain"), response.headers
    samples: Samples = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            samples[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return samples


def value(samples: Samples, name: str, **labels: str) -> float:
    """The sample's value; a series not exported yet counts as 0."""
    return samples.get((name, frozenset(labels.items())), 0.0)


def open_ws(server: ServerProcess, agent: TestAgent) -> connect:
    return connect(
        server.ws_url,
        additional_headers=agent.headers,
        proxy=None,
        open_timeout=FRAME_TIMEOUT_SECS,
    )


async def next_frame(ws: ClientConnection) -> dict[str, Any]:
    while True:
        frame = json.loads(await asyncio.wait_for(ws.recv(), FRAME_TIMEOUT_SECS))
        if frame["type"] != "heartbeat":
            return dict(frame)


async def until(http: httpx.AsyncClient, check: Callable[[Samples], bool], what: str) -> Samples:
    """Scrape until `check` holds (the hub attaches and detaches asynchronously)."""
    samples = await scrape(http)
    async with asyncio.timeout(5):
        while not check(samples):
            await asyncio.sleep(0.02)
            samples = await scrape(http)
    assert check(samples), what
    return samples


async def test_text_parses_with_every_metric_family(http: httpx.AsyncClient) -> None:
    response = await http.get("/metrics")
    families = {f.name: f.type for f in text_string_to_metric_families(response.text)}
    expected = {
        "agentplaza_messages_sent": "counter",
        "agentplaza_messages_delivered": "counter",
        "agentplaza_connections": "gauge",
        "agentplaza_store_seconds": "histogram",
        "agentplaza_bus_publish_seconds": "histogram",
        "agentplaza_http_requests": "counter",
        "agentplaza_http_request_seconds": "histogram",
        "agentplaza_webhook_queue_depth": "gauge",
        "agentplaza_webhook_attempts": "counter",
    }
    assert {name: families.get(name) for name in expected} == expected
    assert "/metrics" not in (await http.get("/openapi.json")).json()["paths"]


async def test_sent_and_delivered_move_by_exactly_the_traffic(
    http: httpx.AsyncClient, metrics_server: ServerProcess
) -> None:
    alice, bob, carol = await register(http), await register(http), await register(http)
    before = await scrape(http)
    async with open_ws(metrics_server, alice) as ws:
        assert (await next_frame(ws))["type"] == "notifications"
        for _ in range(3):
            assert (await post_message(http, bob, alice)).status_code == 201
        for _ in range(3):
            assert (await next_frame(ws))["type"] == "msg"
        key = uuid.uuid4().hex
        first = await post_message(http, bob, carol, idempotency_key=key)
        assert first.status_code == 201
        replay = await post_message(http, bob, carol, idempotency_key=key)
        assert replay.status_code == 200
        assert (await post_message(http, bob, carol)).status_code == 201
        polled = await http.get(
            "/v1/messages/pending", params={"timeout": 5}, headers=carol.headers
        )
        assert polled.status_code == 200 and len(polled.json()) == 2, polled.text
    after = await scrape(http)

    def delta(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    assert delta("agentplaza_messages_sent_total") == 5  # the replay stored nothing new
    assert delta("agentplaza_messages_delivered_total", transport="websocket") == 3
    assert delta("agentplaza_messages_delivered_total", transport="longpoll") == 2
    assert delta("agentplaza_store_seconds_count", op="append") == 6  # every send asks
    assert delta("agentplaza_bus_publish_seconds_count") == 5  # a replay publishes nothing
    assert delta("agentplaza_store_seconds_count", op="read_pending") >= 1
    sends = {"method": "POST", "route": "/v1/messages"}
    assert delta("agentplaza_http_requests_total", **sends, status="201") == 5
    assert delta("agentplaza_http_requests_total", **sends, status="200") == 1
    assert delta("agentplaza_http_request_seconds_count", **sends) == 6
    assert (
        delta(
            "agentplaza_http_requests_total",
            method="GET",
            route="/v1/messages/pending",
            status="200",
        )
        == 1
    )


async def test_routes_are_labelled_by_template_never_by_raw_path(
    http: httpx.AsyncClient,
) -> None:
    agent = await register(http)
    raw = uuid.uuid4().hex
    await http.post(f"/v1/messages/m_{raw}/ack", headers=agent.headers)
    await http.get(f"/no-such-route/{raw}")
    # A method the HTTP parser accepts but no route serves: a client must not mint labels.
    assert (await http.request("PROPFIND", f"/{raw}")).status_code == 404
    response = await http.get("/metrics")
    assert raw not in response.text
    samples = await scrape(http)
    ack = {"method": "POST", "route": "/v1/messages/{message_id}/ack", "status": "404"}
    assert value(samples, "agentplaza_http_requests_total", **ack) >= 1
    other = {"method": "GET", "route": "other", "status": "404"}
    assert value(samples, "agentplaza_http_requests_total", **other) >= 1
    methods = {dict(labels).get("method") for name, labels in samples if "http" in name}
    assert "PROPFIND" not in methods and "other" in methods


async def test_send_endpoints_count_errors_and_refusals_like_any_route(
    http: httpx.AsyncClient,
) -> None:
    """api/sends.py does the metrics middleware's work itself: the same labels, including a
    body refused by its declared length before routing (`other`, as for any route)."""
    agent = await register(http)
    before = await scrape(http)
    group = f"/v1/groups/{uuid.uuid4()}/messages"
    assert (await http.post(group, json={"content": {"body": "x"}})).status_code == 401
    oversize = await http.post(
        "/v1/messages",
        content=b"x" * (2 * 1024 * 1024),
        headers={**agent.headers, "Content-Type": "application/json"},
    )
    assert oversize.status_code == 413
    after = await scrape(http)

    def delta(**labels: str) -> float:
        name = "agentplaza_http_requests_total"
        return value(after, name, **labels) - value(before, name, **labels)

    group_route = "/v1/groups/{group_id}/messages"
    assert delta(method="POST", route=group_route, status="401") == 1
    assert delta(method="POST", route="other", status="413") == 1
    assert delta(method="POST", route="/v1/messages", status="413") == 0


async def test_connection_gauge_follows_live_connections_by_transport(
    http: httpx.AsyncClient, metrics_server: ServerProcess
) -> None:
    alice, bob = await register(http), await register(http)

    def gauge(samples: Samples, transport: str) -> float:
        return value(samples, "agentplaza_connections", transport=transport)

    before = await scrape(http)
    ws_before, poll_before = gauge(before, "websocket"), gauge(before, "longpoll")
    async with open_ws(metrics_server, alice) as ws:
        await next_frame(ws)
        await until(http, lambda s: gauge(s, "websocket") == ws_before + 1, "WS counted")
        poll = asyncio.ensure_future(
            http.get("/v1/messages/pending", params={"timeout": 30}, headers=bob.headers)
        )
        await until(http, lambda s: gauge(s, "longpoll") == poll_before + 1, "poll counted")
        assert (await post_message(http, alice, bob)).status_code == 201  # answers the poll
        assert len((await poll).json()) == 1
        await until(http, lambda s: gauge(s, "longpoll") == poll_before, "poll gone")
    await until(http, lambda s: gauge(s, "websocket") == ws_before, "WS gone")


async def test_no_metrics_route_when_disabled(
    server_factory: Callable[..., ServerProcess],
) -> None:
    srv = server_factory(env={"AGENTPLAZA_METRICS_ENABLED": "0"})
    async with httpx.AsyncClient(base_url=srv.url, timeout=10) as c:
        response = await c.get("/metrics")
        assert response.status_code == 404, response.text
        assert (await c.get("/health")).status_code == 200


async def test_metrics_are_for_this_host_unless_a_token_is_set(
    server_factory: Callable[..., ServerProcess],
) -> None:
    """Default: clients on the loopback only, and not through a proxy on this host (it adds
    a forwarding header). With `metrics_token`: a bearer token, from anywhere."""
    srv = server_factory(env={"AGENTPLAZA_RATE_LIMITS_ENABLED": "0"})
    async with httpx.AsyncClient(base_url=srv.url, timeout=10) as c:
        assert (await c.get("/metrics")).status_code == 200
        for header in ("X-Forwarded-For", "Forwarded", "X-Real-IP"):
            relayed = await c.get("/metrics", headers={header: "203.0.113.9"})
            assert relayed.status_code == 403, (header, relayed.text)
            assert relayed.json()["code"] == "forbidden"
            assert "metrics_token" in relayed.json()["detail"]
    srv.stop()

    token = "s3cret-" + uuid.uuid4().hex
    srv = server_factory(env={"AGENTPLAZA_METRICS_TOKEN": token}, data_dir=srv.data_dir)
    async with httpx.AsyncClient(base_url=srv.url, timeout=10) as c:
        assert (await c.get("/metrics")).status_code == 401
        wrong = await c.get("/metrics", headers={"Authorization": "Bearer nope"})
        assert wrong.status_code == 401 and wrong.json()["code"] == "unauthenticated"
        right = await c.get("/metrics", headers={"Authorization": f"Bearer {token}"})
        assert right.status_code == 200 and "agentplaza_" in right.text
        relayed = await c.get(
            "/metrics",
            headers={"Authorization": f"Bearer {token}", "X-Forwarded-For": "203.0.113.9"},
        )
        assert relayed.status_code == 200
