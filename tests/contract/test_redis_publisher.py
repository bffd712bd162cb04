"""RedisPublisher (bus/redis_publisher.py) where the bus contract tests do not reach: a Redis
that accepts the connection and never answers, closing with publishes waiting, a cancelled
publish. (Delivery, order, a dropped line and a killed subscriber: tests/contract/test_bus.py.)"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis

from agentplaza.bus.base import BusError
from agentplaza.bus.redis_publisher import TIMEOUT_SECS, RedisPublisher
from tests import backends


@pytest.fixture
async def silent_url() -> AsyncIterator[str]:
    """A server that takes connections and what is sent on them, and never answers."""
    held: list[asyncio.StreamWriter] = []

    async def swallow(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        held.append(writer)
        while await reader.read(65536):
            pass

    server = await asyncio.start_server(swallow, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        for writer in held:
            writer.close()
        server.close()
        await server.wait_closed()


async def test_a_server_that_never_answers_fails_the_publish_within_the_timeout(
    silent_url: str,
) -> None:
    publisher = RedisPublisher(silent_url, client_name="test-silent")
    started = time.monotonic()
    try:
        with pytest.raises(BusError, match="PUBLISH"):
            await publisher.publish_many([("a", b"1"), ("b", b"2")])
    finally:
        await publisher.close()
    assert time.monotonic() - started < TIMEOUT_SECS + 1.5


async def test_closing_fails_the_waiting_publishes_and_refuses_later_ones(silent_url: str) -> None:
    publisher = RedisPublisher(silent_url, client_name="test-close")
    waiting = asyncio.create_task(publisher.publish_many([("a", b"1")]))
    await asyncio.sleep(0.05)  # the sender is now waiting for a reply that will not come
    await publisher.close()
    with pytest.raises(BusError, match="closed while publishing"):
        await waiting
    with pytest.raises(BusError, match="closed"):
        await publisher.publish_many([("a", b"2")])


async def test_a_cancelled_publish_does_not_hold_up_the_next_one() -> None:
    url = backends.require("redis")
    publisher = RedisPublisher(url, client_name="test-cancel")
    listener = Redis.from_url(url)
    pubsub = listener.pubsub()
    try:
        await pubsub.subscribe("test-cancel:inbox")
        cancelled = asyncio.create_task(publisher.publish_many([("test-cancel:inbox", b"1")]))
        await asyncio.sleep(0)  # queued, and the sender started
        cancelled.cancel()
        await publisher.publish_many([("test-cancel:inbox", b"2")])
        with pytest.raises(asyncio.CancelledError):
            await cancelled
        got = []
        deadline = time.monotonic() + 5
        while b"2" not in got and time.monotonic() < deadline:
            message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=0.5)
            if message is not None:
                got.append(message["data"])
        assert got[-1:] == [b"2"]  # the first may or may not have gone out: at most once
    finally:
        await publisher.close()
        await pubsub.aclose()
        await listener.aclose()
