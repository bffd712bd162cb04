"""State every node must agree on (rate limits, presence). `open_cluster_state(url)` picks
the implementation: Redis when a URL is configured, this process's memory otherwise."""

from __future__ import annotations

from agentplaza.cluster.base import ClusterState

REDIS_SCHEMES = ("redis://", "rediss://")


def open_cluster_state(redis_url: str, *, namespace: str, node_id: str) -> ClusterState:
    """A not-yet-started ClusterState: in memory for an empty URL, else Redis at `redis_url`.

    `namespace` prefixes every key; `node_id` names this node in presence records and must
    differ between live nodes (a restart may reuse it: start() wipes what it left).
    """
    if not redis_url:
        from agentplaza.cluster.memory import MemoryClusterState

        return MemoryClusterState()
    if not redis_url.startswith(REDIS_SCHEMES):
        scheme = redis_url.split("://", 1)[0]
        raise ValueError(f"unsupported redis URL scheme {scheme!r}: use redis:// or rediss://")
    try:
        from agentplaza.cluster.redis import RedisClusterState
    except ImportError as exc:
        if exc.name is None or exc.name.split(".")[0] != "redis":
            raise
        raise RuntimeError(
            'cluster state in Redis needs the Redis driver: pip install "agentplaza[redis]"'
        ) from exc
    return RedisClusterState(redis_url, namespace=namespace, node_id=node_id)
