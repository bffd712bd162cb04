"""RedisBuckets: rate-limit token buckets shared by every node through Redis.

    {ns}:rl:{limit}:{key}   hash {t: tokens, ts: Redis time in µs}; expires when the bucket
                            would be full again (then it is the same as absent)

Buckets run on Redis's TIME, so no node's clock matters.
"""

from __future__ import annotations

import asyncio
from contextlib import suppress
from typing import Any

from agentplaza.cluster.base import ClusterUnavailable
from agentplaza.cluster.redis_link import RedisLink, Script
from agentplaza.domain.ratelimit import Bucket, Decision

MAX_BATCH = 512  # takes per pipeline

# Same arithmetic as domain/ratelimit.py::take; a refused take also stores the refill.
TAKE = Script("""
local capacity = tonumber(ARGV[1])
local per_sec = tonumber(ARGV[2])
local t = redis.call('TIME')
local now_us = tonumber(t[1]) * 1000000 + tonumber(t[2])
local state = redis.call('HMGET', KEYS[1], 't', 'ts')
local tokens = capacity
if state[1] then
  local elapsed = math.max(0, now_us - tonumber(state[2])) / 1000000
  tokens = math.min(capacity, tonumber(state[1]) + elapsed * per_sec)
end
local allowed = 0
if tokens >= 1 - 1e-9 then
  tokens = math.max(0, tokens - 1)
  allowed = 1
end
local tokens_s = string.format('%.17g', tokens)
local now_s = string.format('%.0f', now_us)
redis.call('HSET', KEYS[1], 't', tokens_s, 'ts', now_s)
redis.call('PEXPIRE', KEYS[1], math.max(1, math.ceil((capacity - tokens) / per_sec * 1000)))
return {allowed, tokens_s, now_s}
""")


def _fail_open(capacity: float, per_sec: float) -> Decision:
    """The answer when Redis cannot be asked: allowed, as if the bucket were fresh."""
    tokens = max(0.0, capacity - 1.0)
    return Decision(True, Bucket(tokens, 0.0), int(tokens), 0.0, (capacity - tokens) / per_sec)


_Take = tuple[str, float, float, "asyncio.Future[Any]"]


class RedisBuckets:
    """Takes queue up and one sender task sends each loop turn's worth as one pipeline of
    EVALSHAs (one in flight at a time; what arrives meanwhile forms the next), as the Redis
    bus does with its PUBLISHes: with rate limits on, every send and every ack takes a
    token, and concurrent requests then share a round trip instead of one each."""

    def __init__(self, link: RedisLink, *, namespace: str) -> None:
        self._link = link
        self._prefix = f"{namespace}:rl:"
        self._queue: list[_Take] = []
        self._sender: asyncio.Task[None] | None = None

    async def take(self, limit_name: str, key: str, *, capacity: float, per_sec: float) -> Decision:
        if self._link.suspended:
            return _fail_open(capacity, per_sec)
        loop = asyncio.get_running_loop()
        done: asyncio.Future[Any] = loop.create_future()
        self._queue.append((f"{self._prefix}{limit_name}:{key}", capacity, per_sec, done))
        if self._sender is None:
            self._sender = loop.create_task(self._send())
        try:
            allowed, tokens_raw, now_raw = await done
        except ClusterUnavailable as exc:
            self._link.unavailable(exc)
            return _fail_open(capacity, per_sec)
        if self._link.degraded:
            self._link.recovered()
        tokens = float(tokens_raw)
        return Decision(
            bool(allowed),
            Bucket(tokens, int(now_raw) / 1e6),
            int(tokens),
            0.0 if allowed else (1.0 - tokens) / per_sec,
            (capacity - tokens) / per_sec,
        )

    async def _send(self) -> None:
        """Send the queue in pipelines of up to MAX_BATCH until it is empty."""
        batch: list[_Take] = []
        try:
            while self._queue:
                batch = self._queue[:MAX_BATCH]
                del self._queue[:MAX_BATCH]
                try:
                    replies = await self._link.eval_many(
                        TAKE, 1, [(key, capacity, per_sec) for key, capacity, per_sec, _ in batch]
                    )
                except ClusterUnavailable as exc:
                    _settle(batch, exc)
                else:
                    for (*_, done), reply in zip(batch, replies, strict=True):
                        if not done.done():  # its taker may have been cancelled
                            done.set_result(reply)
                batch = []
        finally:  # cancelled (close) or a bug: no taker waits forever
            _settle(batch, ClusterUnavailable("the rate-limit sender stopped"))
            self._sender = None

    async def close(self) -> None:
        """Stop the sender; takes still queued are answered as if Redis were unreachable."""
        if self._sender is not None:
            self._sender.cancel()
            with suppress(asyncio.CancelledError):
                await self._sender
        queued, self._queue = self._queue, []
        _settle(queued, ClusterUnavailable("closed"))


def _settle(batch: list[_Take], exc: ClusterUnavailable) -> None:
    for *_, done in batch:
        if not done.done():
            done.set_exception(exc)
