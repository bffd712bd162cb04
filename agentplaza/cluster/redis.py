"""RedisClusterState: rate-limit buckets (cluster/redis_buckets.py) and presence
(cluster/redis_presence.py) shared by every node through one Redis (cluster/redis_link.py:
the connection and the failure policy).

Keys are all under the deployment's namespace, so deployments and test runs can share a
Redis. No node's clock matters: buckets use Redis's TIME and presence uses key TTLs, which
run on the Redis server. Needs Redis >= 6.2 (SMISMEMBER) and a single Redis, not Redis
Cluster: the presence scripts read node sets whose names they build themselves.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable

from redis.asyncio import BlockingConnectionPool, Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError

from agentplaza.cluster.base import ClusterUnavailable
from agentplaza.cluster.redis_buckets import TAKE, RedisBuckets
from agentplaza.cluster.redis_link import RedisLink
from agentplaza.cluster.redis_presence import PRESENCE_TTL_SECS, SCRIPTS, RedisPresence
from agentplaza.domain.ids import AccountId
from agentplaza.domain.ratelimit import Decision

log = logging.getLogger(__name__)
SOCKET_TIMEOUT_SECS = 1.0
CLOSE_STEP_SECS = 5.0
MAX_CONNECTIONS = 64


class RedisClusterState:
    """ClusterState shared through Redis.

    Unreachable Redis: takes are allowed, presence answers from this node's own connections,
    a warning is logged now and then, and the node's presence set is rewritten from its
    local view once Redis answers again.
    """

    def __init__(
        self,
        url: str,
        *,
        namespace: str,
        node_id: str,
        presence_ttl_secs: float = PRESENCE_TTL_SECS,
        refresh_every_secs: float | None = None,
    ) -> None:
        pool = BlockingConnectionPool.from_url(
            url,
            max_connections=MAX_CONNECTIONS,
            timeout=SOCKET_TIMEOUT_SECS,  # waiting for a free pooled connection
            socket_timeout=SOCKET_TIMEOUT_SECS,
            socket_connect_timeout=SOCKET_TIMEOUT_SECS,
            # One immediate retry replaces a pooled connection Redis closed (restart). Not on
            # timeouts, nor more often: that would only delay the fail-open answer.
            retry=Retry(NoBackoff(), 1, supported_errors=(RedisConnectionError,)),
        )
        self._link = RedisLink(Redis.from_pool(pool))
        self._buckets = RedisBuckets(self._link, namespace=namespace)
        self._presence = RedisPresence(
            self._link,
            namespace=namespace,
            node_id=node_id,
            presence_ttl_secs=presence_ttl_secs,
            refresh_every_secs=refresh_every_secs,
        )

    async def start(self) -> None:
        try:
            await self._link.load((TAKE, *SCRIPTS))
        except ClusterUnavailable as exc:
            self._link.unavailable(exc)
            await self._presence.start(reachable=False)
        else:
            await self._presence.start(reachable=True)

    async def close(self) -> None:
        if self._link.closed:
            return
        self._link.closed = True  # from now on nothing new is written (the withdrawal aside)
        # Bounded: a node's shutdown must not wait on Redis (a CI run once hung here); presence
        # not withdrawn lapses with its TTL.
        for step in (self._buckets.close, self._presence.withdraw, self._link.aclose):
            try:
                async with asyncio.timeout(CLOSE_STEP_SECS):
                    await step()
            except TimeoutError:
                log.warning("closing the Redis cluster state timed out in %s", step.__name__)

    async def ping(self) -> bool:
        return await self._link.ping()

    async def take(self, limit_name: str, key: str, *, capacity: float, per_sec: float) -> Decision:
        return await self._buckets.take(limit_name, key, capacity=capacity, per_sec=per_sec)

    async def connected(self, account_id: AccountId) -> None:
        await self._presence.connected(account_id)

    async def disconnected(self, account_id: AccountId) -> None:
        await self._presence.disconnected(account_id)

    async def is_online(self, account_id: AccountId) -> bool:
        return await self._presence.is_online(account_id)

    async def online_of(self, account_ids: Iterable[AccountId]) -> set[AccountId]:
        return await self._presence.online_of(account_ids)

    async def online_accounts(self, limit: int) -> list[AccountId]:
        return await self._presence.online_accounts(limit)
