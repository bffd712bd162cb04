"""The unmodified agentim `Agent` on a local URL is live at once: over AIM TCP on :8082 when the
server serves it (the `aim` variant of tests/sdk/conftest.py), instead of after ~15 s of refused
connects; on a non-local URL (the `ws` variant) it goes straight to the WebSocket."""

from __future__ import annotations

import asyncio
import logging
import time

import httpx
import pytest
from agentim import Agent, Message

from tests.api.helpers import send
from tests.conftest import register
from tests.realtime.test_aim import metric
from tests.sdk.conftest import EVENT_TIMEOUT, SDK_LEAKS, expected_transport, push_transport
from tests.server import ServerProcess

pytestmark = SDK_LEAKS


METRIC_TRANSPORT = {"aim": "aim", "ws": "websocket"}


@pytest.mark.slow
async def test_agent_is_live_at_once_and_on_the_expected_transport(
    server: ServerProcess,
    client: httpx.AsyncClient,
    sdk_transport: str,
    request: pytest.FixtureRequest,
) -> None:
    """The Agent's start-up is: login, one long-poll of `timeout=1` (returns at once when
    something is pending, else parks 1 s), then its push transport.

    Measured (loaded 2-core machine, both stores): the pending message reaches the handler
    0.03-0.09 s after start through that poll, AIM is up 0.04-0.16 s after start, a live
    message sent over HTTP reaches the handler 23-55 ms later. Without an AIM server the same
    Agent on 127.0.0.1 connects only after ~15 s; the bounds leave room for a loaded machine
    and still fail on that fallback."""
    assert expected_transport(server.url) == sdk_transport
    transport = METRIC_TRANSPORT[sdk_transport]
    alice, bob = await register(client), await register(client)
    early = await send(client, alice, bob, "sent before the agent started")
    connections = "agentplaza_connections"
    before = metric((await client.get("/metrics")).text, connections, transport=transport)

    agent = Agent(api_key=bob.api_key, server=server.url, log_level=logging.WARNING)
    got: asyncio.Queue[tuple[float, Message]] = asyncio.Queue()
    connected = asyncio.Event()

    @agent.on_message
    async def _on_message(msg: Message) -> None:
        got.put_nowait((time.monotonic(), msg))

    @agent.on_connect
    async def _on_connect() -> None:
        connected.set()

    started = time.monotonic()
    task = asyncio.create_task(agent.start())
    try:
        first_at, first = await asyncio.wait_for(got.get(), EVENT_TIMEOUT)
        assert first.id == early["id"]
        assert first_at - started < 1.0, f"first message after {first_at - started:.3f} s"
        await asyncio.wait_for(connected.wait(), EVENT_TIMEOUT)
        connect_secs = time.monotonic() - started
        assert connect_secs < 4.0, f"connected after {connect_secs:.3f} s"
        assert push_transport(agent) == sdk_transport
        text = (await client.get("/metrics")).text
        assert metric(text, connections, transport=transport) == before + 1

        delivered = metric(text, "agentplaza_messages_delivered_total", transport=transport)
        sent_at = time.monotonic()
        live = await send(client, alice, bob, "live")
        at, msg = await asyncio.wait_for(got.get(), EVENT_TIMEOUT)
        assert msg.id == live["id"] and at - sent_at < 1.0
        text = (await client.get("/metrics")).text
        assert metric(text, "agentplaza_messages_delivered_total", transport=transport) > delivered
        request.node.user_properties += [
            ("first_message_secs", round(first_at - started, 3)),
            ("connected_secs", round(connect_secs, 3)),
            ("live_latency_ms", round((at - sent_at) * 1000, 1)),
        ]
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        aim = getattr(agent._conn, "_aim", None)
        if aim is not None:
            aim.close()  # the SDK never does (tests/sdk/conftest.py::stop_agent)
