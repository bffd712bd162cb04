"""RedisBuckets: rate-limit token buckets shared by every node through Redis.

    {ns}:rl:{limit}:{key}   hash {t: tokens, ts: Redis time in µs}; expires when the bucket
                            would be full again (then it is the same as absent)

Buckets run on Redis's TIME, so no node's clock matters.
"""

from __future__ import annotations

from agentplaza.cluster.base import ClusterUnavailable
from agentplaza.cluster.redis_link import RedisLink, Script
from agentplaza.domain.ratelimit import Bucket, Decision

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


class RedisBuckets:
    def __init__(self, link: RedisLink, *, namespace: str) -> None:
        self._link = link
        self._prefix = f"{namespace}:rl:"

    async def take(self, limit_name: str, key: str, *, capacity: float, per_sec: float) -> Decision:
        if self._link.suspended:
            return _fail_open(capacity, per_sec)
        try:
            allowed, tokens_raw, now_raw = await self._link.eval(
                TAKE, 1, f"{self._prefix}{limit_name}:{key}", capacity, per_sec
            )
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
