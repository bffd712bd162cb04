"""The ClusterState interface: state every node of a deployment must agree on.

Two things live here: rate-limit buckets (so a client cannot multiply its budget by spreading
requests over nodes) and presence (which accounts have a live connection on *some* node).
Neither is durable: losing it all (Redis restart) only resets budgets and presence heals
within one refresh interval. So no method raises because the backend is unreachable: rate
limits fail open and presence falls back to this node's own view (see each method).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol

from agentplaza.domain.ids import AccountId
from agentplaza.domain.ratelimit import Decision


class ClusterUnavailable(Exception):
    """The shared backend did not answer; implementations catch it and degrade."""


class ClusterState(Protocol):
    async def start(self) -> None:
        """Connect and start background work. Never raises for an unreachable backend: the
        node starts degraded and recovers when the backend answers."""

    async def close(self) -> None:
        """Leave the cluster: this node's presence is withdrawn at once (not after a TTL),
        background work stops, connections are closed. Idempotent."""

    async def ping(self) -> bool:
        """True when the shared backend answers (always for a single node)."""

    async def take(self, limit_name: str, key: str, *, capacity: float, per_sec: float) -> Decision:
        """Take one token from the bucket (`limit_name`, `key`), shared by every node.

        Same arithmetic as domain.ratelimit.take: a bucket holds at most `capacity` tokens
        and refills at `per_sec`; a refused take reports `retry_after_secs`, after which one
        token is there. Concurrent takes from any nodes never allow more than capacity plus
        refill. Buckets of different limit names or keys are independent. If the backend is
        unreachable the take is allowed (fail open) and a warning is logged, rate-limited.
        """

    async def connected(self, account_id: AccountId) -> None:
        """This node now has a live connection of `account_id`.

        Set semantics per node: the hub calls this for an account's first sink and
        `disconnected` for its last, so no counting happens here. The local effect is
        applied before the first await, so when calls for one account overlap the last
        call made wins, as it would in a synchronous program.
        """

    async def disconnected(self, account_id: AccountId) -> None:
        """This node no longer has a live connection of `account_id` (see `connected`)."""

    async def is_online(self, account_id: AccountId) -> bool:
        """True when some live node has a connection of `account_id`. A node that died
        without `close` stops counting within its presence TTL."""

    async def online_of(self, account_ids: Iterable[AccountId]) -> set[AccountId]:
        """The subset of `account_ids` that is online, in one round trip."""

    async def online_accounts(self, limit: int) -> list[AccountId]:
        """Up to `limit` online accounts, each once, in no particular order."""
