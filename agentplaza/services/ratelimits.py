"""Per-node rate limits (token buckets in memory). Limits and headers: docs/errors.md."""

from __future__ import annotations

from dataclasses import dataclass

from agentplaza.domain.errors import RateLimited
from agentplaza.domain.ratelimit import Bucket, Decision, take
from agentplaza.services.container import Runtime

MAX_BUCKETS = 100_000


@dataclass(frozen=True, slots=True)
class Limit:
    name: str
    capacity: float
    per_sec: float

    @property
    def label(self) -> str:
        return f"{self.name} ({self.capacity:g} per {self.capacity / self.per_sec:g} s)"


class RateLimiter:
    def __init__(self, runtime: Runtime) -> None:
        s = runtime.settings
        self._enabled = s.rate_limits_enabled
        self._now = runtime.monotonic
        self._buckets: dict[tuple[str, str], Bucket] = {}
        self.send = Limit("send", s.rate_limit_messages_per_sec, s.rate_limit_messages_per_sec)
        self.register = Limit(
            "register", s.rate_limit_register_per_min, s.rate_limit_register_per_min / 60
        )
        self.search = Limit("search", s.rate_limit_search_per_min, s.rate_limit_search_per_min / 60)
        self.login = Limit("login", s.rate_limit_login_per_min, s.rate_limit_login_per_min / 60)

    def check(self, limit: Limit, key: str) -> Decision | None:
        """Take a token for `key`; raise RateLimited when none is left. None when disabled."""
        if not self._enabled:
            return None
        now = self._now()
        slot = (limit.name, key)
        decision = take(
            self._buckets.get(slot), capacity=limit.capacity, per_sec=limit.per_sec, now=now
        )
        if len(self._buckets) >= MAX_BUCKETS and slot not in self._buckets:
            self._prune(now)
        self._buckets[slot] = decision.bucket
        if not decision.allowed:
            error = RateLimited(
                f"rate limit exceeded: {limit.label};"
                f" retry after {decision.retry_after_secs:.1f} s",
                retry_after_secs=decision.retry_after_secs,
                limit=int(limit.capacity),
            )
            raise error
        return decision

    def _prune(self, now: float) -> None:
        """Forget buckets that have refilled completely: they behave like absent ones."""
        limits = {lim.name: lim for lim in (self.send, self.register, self.search, self.login)}
        for slot, bucket in list(self._buckets.items()):
            lim = limits[slot[0]]
            if bucket.tokens + (now - bucket.updated_at) * lim.per_sec >= lim.capacity:
                del self._buckets[slot]
