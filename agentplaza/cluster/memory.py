"""MemoryClusterState: one node is the whole cluster; buckets and presence live in dicts."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from itertools import islice

from agentplaza.domain.ids import AccountId
from agentplaza.domain.ratelimit import Bucket, Decision, take

# Past this many buckets, full ones are dropped (they behave like absent ones): a flood of
# distinct keys (client IPs) cannot grow memory without bound.
MAX_BUCKETS = 100_000


class MemoryClusterState:
    """ClusterState for a single node. Nothing can be unreachable, so nothing degrades."""

    def __init__(self, *, monotonic: Callable[[], float] = time.monotonic) -> None:
        self._now = monotonic
        self._buckets: dict[tuple[str, str], Bucket] = {}
        self._limits: dict[str, tuple[float, float]] = {}  # name -> (capacity, per_sec)
        # A dict, not a set: online_accounts lists in connection order, like the hub did.
        self._online: dict[AccountId, None] = {}

    async def start(self) -> None:
        pass

    async def close(self) -> None:
        self._online.clear()

    async def ping(self) -> bool:
        return True

    async def take(self, limit_name: str, key: str, *, capacity: float, per_sec: float) -> Decision:
        now = self._now()
        slot = (limit_name, key)
        decision = take(self._buckets.get(slot), capacity=capacity, per_sec=per_sec, now=now)
        if slot not in self._buckets:
            self._limits[limit_name] = (capacity, per_sec)
            if len(self._buckets) >= MAX_BUCKETS:
                self._prune(now)
        self._buckets[slot] = decision.bucket
        return decision

    def _prune(self, now: float) -> None:
        """Forget buckets that have refilled completely: they behave like absent ones."""
        for slot, bucket in list(self._buckets.items()):
            capacity, per_sec = self._limits[slot[0]]
            if bucket.tokens + (now - bucket.updated_at) * per_sec >= capacity:
                del self._buckets[slot]

    async def connected(self, account_id: AccountId) -> None:
        self._online[account_id] = None

    async def disconnected(self, account_id: AccountId) -> None:
        self._online.pop(account_id, None)

    async def is_online(self, account_id: AccountId) -> bool:
        return account_id in self._online

    async def online_of(self, account_ids: Iterable[AccountId]) -> set[AccountId]:
        return {a for a in account_ids if a in self._online}

    async def online_accounts(self, limit: int) -> list[AccountId]:
        return list(islice(self._online, max(0, limit)))
