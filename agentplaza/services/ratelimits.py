"""Rate limits: token buckets kept by the cluster state (Redis when configured, so every node
draws on one budget; this process's memory otherwise). Limits and headers: docs/errors.md."""

from __future__ import annotations

from dataclasses import dataclass

from agentplaza.cluster.base import ClusterState
from agentplaza.domain.errors import RateLimited
from agentplaza.domain.ratelimit import Decision
from agentplaza.services.container import Runtime


@dataclass(frozen=True, slots=True)
class Limit:
    name: str
    capacity: float
    per_sec: float

    @property
    def label(self) -> str:
        return f"{self.name} ({self.capacity:g} per {self.capacity / self.per_sec:g} s)"


def _per_min(name: str, per_min: float) -> Limit:
    """A budget of `per_min` requests that refills over one minute."""
    return Limit(name, per_min, per_min / 60)


class RateLimiter:
    def __init__(self, runtime: Runtime) -> None:
        s = runtime.settings
        self._enabled = s.rate_limits_enabled
        self._cluster: ClusterState = runtime.cluster
        self.send = Limit("send", s.rate_limit_messages_per_sec, s.rate_limit_messages_per_sec)
        self.register = Limit(
            "register", s.rate_limit_register_per_min, s.rate_limit_register_per_min / 60
        )
        self.search = Limit("search", s.rate_limit_search_per_min, s.rate_limit_search_per_min / 60)
        self.login = Limit("login", s.rate_limit_login_per_min, s.rate_limit_login_per_min / 60)
        # Every other state-changing /v1 route spends one of these (api/budgets.py).
        self.writes = _per_min("writes", s.rate_limit_writes_per_min)
        self.group_notices = _per_min("group_notices", s.rate_limit_group_notices_per_min)
        self.friend_requests = _per_min("friend_requests", s.rate_limit_friend_requests_per_min)
        self.uploads = _per_min("uploads", s.rate_limit_uploads_per_min)
        self.acks = Limit("acks", s.rate_limit_acks_per_sec, s.rate_limit_acks_per_sec)

    async def check(self, limit: Limit, key: str) -> Decision | None:
        """Take a token for `key`; raise RateLimited when none is left.

        None, without any I/O, when rate limits are disabled. When the cluster state cannot
        be reached the request is allowed (fail open; ClusterState.take logs it).
        """
        if not self._enabled:
            return None
        decision = await self._cluster.take(
            limit.name, key, capacity=limit.capacity, per_sec=limit.per_sec
        )
        if not decision.allowed:
            raise RateLimited(
                f"rate limit exceeded: {limit.label};"
                f" retry after {decision.retry_after_secs:.1f} s",
                retry_after_secs=decision.retry_after_secs,
                limit=int(limit.capacity),
            )
        return decision
