"""Every ClusterState guarantee (cluster/base.py), run against memory and Redis.

Rate-limit tests use refill rates so slow (or capacity math so exact) that a loaded machine
cannot change the outcome; the presence-TTL tests poll with generous deadlines.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, cast

import pytest
import redis.asyncio

from agentplaza.cluster import open_cluster_state
from agentplaza.cluster.base import ClusterState
from agentplaza.cluster.memory import MemoryClusterState
from agentplaza.cluster.redis import RedisClusterState
from agentplaza.domain.errors import RateLimited
from agentplaza.domain.ids import AccountId
from agentplaza.domain.ratelimit import take
from agentplaza.services.ratelimits import RateLimiter
from agentplaza.services.runtime import Runtime
from agentplaza.settings import Settings
from tests import backends

X, Y, Z = AccountId("10001"), AccountId("10002"), AccountId("P10003")
SLOW = 0.001  # tokens per second: no refill worth a token during any test
PRESENCE_DEADLINE_SECS = 15.0

StartNode = Callable[..., Awaitable[ClusterState]]


async def _drop_keys(namespace: str) -> None:
    raw = redis.asyncio.Redis.from_url(backends.require("redis"))
    try:
        keys = [k async for k in raw.scan_iter(match=f"{namespace}:*")]
        if keys:
            await raw.delete(*keys)
    finally:
        await raw.aclose()


@pytest.fixture
async def namespace() -> AsyncIterator[str]:
    ns = backends.unique_namespace()
    yield ns
    if backends.url("redis") is not None:
        await _drop_keys(ns)


def _opener(kind: str, namespace: str, started: list[ClusterState]) -> StartNode:
    async def start(node_id: str = "n1", **options: Any) -> ClusterState:
        if kind == "memory":
            state: ClusterState = MemoryClusterState()
        else:
            url = options.pop("url", None) or backends.require("redis")
            state = RedisClusterState(
                url, namespace=options.pop("namespace", namespace), node_id=node_id, **options
            )
        started.append(state)
        await state.start()
        return state

    return start


@pytest.fixture(params=["memory", "redis"])
async def start_node(request: pytest.FixtureRequest, namespace: str) -> AsyncIterator[StartNode]:
    """Starts nodes of one cluster; every node is closed after the test."""
    if request.param == "redis":
        backends.require("redis")
    started: list[ClusterState] = []
    yield _opener(request.param, namespace, started)
    for state in started:
        await state.close()


@pytest.fixture
async def start_redis_node(namespace: str) -> AsyncIterator[StartNode]:
    """Like start_node, Redis only: for guarantees between several nodes."""
    backends.require("redis")
    started: list[ClusterState] = []
    yield _opener("redis", namespace, started)
    for state in started:
        await state.close()


async def _eventually(check: Callable[[], Awaitable[bool]], what: str) -> None:
    deadline = time.monotonic() + PRESENCE_DEADLINE_SECS
    while not await check():
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {PRESENCE_DEADLINE_SECS} s: {what}")
        await asyncio.sleep(0.1)


# --- rate limits --------------------------------------------------------------------------


async def test_bucket_allows_capacity_then_refuses_with_retry_after(start_node: StartNode) -> None:
    state = await start_node()
    decisions = [await state.take("send", "k", capacity=3, per_sec=SLOW) for _ in range(3)]
    assert [(d.allowed, d.remaining) for d in decisions] == [(True, 2), (True, 1), (True, 0)]
    assert all(d.retry_after_secs == 0 for d in decisions)

    refused = await state.take("send", "k", capacity=3, per_sec=SLOW)
    assert (refused.allowed, refused.remaining) == (False, 0)
    assert 0.9 / SLOW < refused.retry_after_secs <= 1 / SLOW  # one token at SLOW per second
    assert 2.9 / SLOW < refused.reset_after_secs <= 3 / SLOW


async def test_arithmetic_matches_the_domain_bucket(start_node: StartNode) -> None:
    """Redis runs the bucket in Lua: it must agree with domain.ratelimit.take, fractions too."""
    state = await start_node()
    bucket = None
    for _ in range(4):
        got = await state.take("search", "ip", capacity=2.5, per_sec=SLOW)
        want = take(bucket, capacity=2.5, per_sec=SLOW, now=0.0)
        bucket = want.bucket
        assert (got.allowed, got.remaining) == (want.allowed, want.remaining)
        assert got.bucket.tokens == pytest.approx(want.bucket.tokens, abs=1e-3)
        assert got.retry_after_secs == pytest.approx(want.retry_after_secs, rel=1e-3)
        assert got.reset_after_secs == pytest.approx(want.reset_after_secs, rel=1e-3)


async def test_retry_after_is_honest_and_refill_stops_at_capacity(start_node: StartNode) -> None:
    state = await start_node()
    assert (await state.take("send", "r", capacity=1, per_sec=1)).allowed
    refused = await state.take("send", "r", capacity=1, per_sec=1)
    assert not refused.allowed
    await asyncio.sleep(refused.retry_after_secs)
    assert (await state.take("send", "r", capacity=1, per_sec=1)).allowed

    # Capacity 2 at 20/s: after 0.3 s the refill would be 6 tokens, but the bucket holds 2.
    for _ in range(2):
        await state.take("send", "cap", capacity=2, per_sec=20)
    await asyncio.sleep(0.3)
    assert (await state.take("send", "cap", capacity=2, per_sec=20)).remaining == 1


async def test_buckets_are_per_limit_name_and_key(start_node: StartNode) -> None:
    state = await start_node()
    assert (await state.take("send", "k", capacity=1, per_sec=SLOW)).allowed
    assert not (await state.take("send", "k", capacity=1, per_sec=SLOW)).allowed
    assert (await state.take("search", "k", capacity=1, per_sec=SLOW)).allowed
    assert (await state.take("send", "k2", capacity=1, per_sec=SLOW)).allowed


async def test_two_nodes_share_one_budget(start_redis_node: StartNode) -> None:
    a, b = await start_redis_node("a"), await start_redis_node("b")
    decisions = await asyncio.gather(
        *((a if i % 2 else b).take("send", "shared", capacity=5, per_sec=SLOW) for i in range(20))
    )
    assert sum(d.allowed for d in decisions) == 5


async def test_namespaces_do_not_share_buckets(start_redis_node: StartNode) -> None:
    other_namespace = backends.unique_namespace()
    a = await start_redis_node("a")
    other = await start_redis_node("a", namespace=other_namespace)
    try:
        assert (await a.take("send", "k", capacity=1, per_sec=SLOW)).allowed
        assert not (await a.take("send", "k", capacity=1, per_sec=SLOW)).allowed
        assert (await other.take("send", "k", capacity=1, per_sec=SLOW)).allowed
    finally:
        await _drop_keys(other_namespace)


async def test_bucket_key_and_expiry(start_redis_node: StartNode, namespace: str) -> None:
    """Operators may look for `{ns}:rl:{limit}:{key}`; it expires once it would be full."""
    state = await start_redis_node()
    # Refilled at 1 token per 100 s: a loaded machine's delay before the PTTL cannot let the
    # key lapse (at 2/s it had 500 ms, and lost it once).
    await state.take("send", "10001", capacity=10, per_sec=0.01)
    raw = redis.asyncio.Redis.from_url(backends.require("redis"))
    try:
        ttl_ms = await raw.pttl(f"{namespace}:rl:send:10001")
    finally:
        await raw.aclose()
    assert 90_000 < ttl_ms <= 100_000  # one token short of full


async def test_unreachable_redis_fails_open_and_presence_stays_local(
    namespace: str, caplog: pytest.LogCaptureFixture
) -> None:
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    state = RedisClusterState(f"redis://127.0.0.1:{port}/0", namespace=namespace, node_id="n")
    with caplog.at_level(logging.WARNING, logger="agentplaza.cluster.redis"):
        await state.start()
        try:
            decisions = [await state.take("send", "k", capacity=1, per_sec=SLOW) for _ in range(5)]
            assert all(d.allowed for d in decisions)
            await state.connected(X)
            await state.connected(Y)
            await state.disconnected(Y)
            assert await state.is_online(X)
            assert not await state.is_online(Y)
            assert await state.online_of([X, Y, Z]) == {X}
            assert await state.online_accounts(10) == [X]
            assert not await state.ping()
        finally:
            await state.close()
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1, [r.getMessage() for r in warnings]  # not one per call


# --- presence -----------------------------------------------------------------------------


async def test_presence_on_one_node(start_node: StartNode) -> None:
    state = await start_node()
    assert not await state.is_online(X)
    await state.connected(X)
    await state.connected(Y)
    assert await state.is_online(X)
    assert not await state.is_online(Z)
    assert await state.online_of([X, Y, Z]) == {X, Y}
    assert await state.online_of([]) == set()
    assert sorted(await state.online_accounts(10)) == sorted([X, Y])
    assert len(subset := await state.online_accounts(1)) == 1 and set(subset) <= {X, Y}
    # Set semantics per node: the hub reports an account's first and last sink only.
    await state.connected(X)
    await state.disconnected(X)
    assert not await state.is_online(X)
    assert await state.online_accounts(10) == [Y]


async def test_presence_is_seen_from_every_node(start_redis_node: StartNode) -> None:
    a, b = await start_redis_node("a"), await start_redis_node("b")
    await a.connected(X)
    assert await b.is_online(X)
    assert await b.online_of([X, Y]) == {X}
    await b.connected(X)  # connected to both nodes: listed once, online until both leave
    assert await a.online_accounts(10) == [X]
    await a.disconnected(X)
    assert await a.is_online(X)
    await b.disconnected(X)
    assert not await a.is_online(X)
    assert not await b.is_online(X)


async def test_closed_node_is_withdrawn_at_once(start_redis_node: StartNode) -> None:
    a, b = await start_redis_node("a"), await start_redis_node("b")
    await a.connected(X)
    assert await b.is_online(X)
    await a.close()
    assert not await b.is_online(X)


async def test_node_that_stops_refreshing_drops_out(start_redis_node: StartNode) -> None:
    """A killed node cannot say goodbye: its presence must lapse with its TTL, while a node
    that keeps refreshing stays."""
    dying = await start_redis_node("dying", presence_ttl_secs=1.0, refresh_every_secs=3600)
    alive = await start_redis_node("alive", presence_ttl_secs=1.0, refresh_every_secs=0.2)
    observer = await start_redis_node("observer")
    await dying.connected(X)
    await alive.connected(Y)
    assert await observer.online_of([X, Y]) == {X, Y}

    async def x_gone() -> bool:
        return not await observer.is_online(X)

    await _eventually(x_gone, "the node that stopped refreshing to drop out")
    await asyncio.sleep(1.0)  # Y was written after X: let its first TTL surely lapse too
    assert await observer.is_online(Y)


async def test_restarted_node_leaves_no_ghosts(start_redis_node: StartNode) -> None:
    killed = await start_redis_node("n1")
    observer = await start_redis_node("observer")
    await killed.connected(X)
    assert await observer.is_online(X)
    await start_redis_node("n1")  # same node id, new process: nothing connected yet
    assert not await observer.is_online(X)


async def test_presence_heals_when_redis_loses_it(
    start_redis_node: StartNode, namespace: str
) -> None:
    a = await start_redis_node("a", presence_ttl_secs=5.0, refresh_every_secs=0.2)
    observer = await start_redis_node("observer")
    await a.connected(X)
    raw = redis.asyncio.Redis.from_url(backends.require("redis"))
    try:
        await raw.delete(f"{namespace}:presence:node:a", f"{namespace}:presence:nodes")
    finally:
        await raw.aclose()

    async def x_back() -> bool:
        return await observer.is_online(X)

    await _eventually(x_back, "the node to rewrite its presence")


# --- wiring -------------------------------------------------------------------------------


async def test_open_cluster_state_picks_by_url(
    namespace: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert isinstance(open_cluster_state("", namespace=namespace, node_id="n"), MemoryClusterState)
    with pytest.raises(ValueError, match="redis://"):
        open_cluster_state("nats://127.0.0.1:4222", namespace=namespace, node_id="n")
    state = open_cluster_state("redis://127.0.0.1:6379/0", namespace=namespace, node_id="n")
    assert isinstance(state, RedisClusterState)
    await state.close()

    for name in [n for n in sys.modules if n == "redis" or n.startswith("redis.")]:
        monkeypatch.setitem(sys.modules, name, None)  # as if the driver were not installed
    monkeypatch.delitem(sys.modules, "agentplaza.cluster.redis")
    with pytest.raises(RuntimeError, match=r'pip install "agentplaza\[redis\]"'):
        open_cluster_state("redis://127.0.0.1:6379/0", namespace=namespace, node_id="n")


def _runtime(cluster: object, **settings: Any) -> Runtime:
    unused = cast(Any, None)
    return Runtime(
        store=unused, bus=unused, cluster=cast(Any, cluster), settings=Settings(**settings)
    )


async def test_disabled_limiter_does_no_io() -> None:
    class Unreachable:
        async def take(self, *args: object, **kwargs: object) -> None:
            raise AssertionError("a disabled limiter must not ask the cluster state")

    limiter = RateLimiter(_runtime(Unreachable(), rate_limits_enabled=False))
    assert await limiter.check(limiter.send, "k") is None


async def test_limiter_refuses_through_the_cluster_state() -> None:
    limiter = RateLimiter(
        _runtime(MemoryClusterState(), rate_limits_enabled=True, rate_limit_messages_per_sec=2)
    )
    remaining = []
    for _ in range(2):
        decision = await limiter.check(limiter.send, "k")
        assert decision is not None
        remaining.append(decision.remaining)
    assert remaining == [1, 0]
    with pytest.raises(RateLimited) as refused:
        await limiter.check(limiter.send, "k")
    assert 0 < refused.value.retry_after_secs <= 0.5


async def test_concurrent_takes_after_a_script_flush_each_take_once(
    start_redis_node: StartNode,
) -> None:
    """Takes of one loop turn share a pipeline; when Redis lost the script (a restart), only
    the takes it refused are sent again, so none is counted twice."""
    state = await start_redis_node()
    assert (await state.take("send", "flushed", capacity=10, per_sec=SLOW)).allowed
    raw = redis.asyncio.Redis.from_url(backends.require("redis"))
    try:
        await raw.script_flush()
    finally:
        await raw.aclose()
    decisions = await asyncio.gather(
        *(state.take("send", "flushed", capacity=10, per_sec=SLOW) for _ in range(12))
    )
    assert sum(d.allowed for d in decisions) == 9
    assert sorted(d.remaining for d in decisions if d.allowed) == list(range(9))
