"""RedisLink: the connection every part of RedisClusterState shares (cluster/redis.py),
the one place that knows redis-py's exceptions, and the failure policy.

Unreachable Redis: callers answer without it (rate limits fail open, presence is this node's
own) for SUSPEND_SECS after each failure, so a blackholed Redis adds no socket timeout to
every request; a warning is logged at most every WARN_EVERY_SECS.
"""

from __future__ import annotations

import hashlib
import logging
import time
from types import TracebackType
from typing import Any

from redis.asyncio import Redis
from redis.asyncio.client import Pipeline
from redis.exceptions import NoScriptError, RedisError

from agentplaza.cluster.base import ClusterUnavailable

log = logging.getLogger(__name__)

SUSPEND_SECS = 1.0
WARN_EVERY_SECS = 30.0


class Script:
    """A Lua script called by SHA1: the source crosses the wire only when Redis lacks it."""

    __slots__ = ("sha", "source")

    def __init__(self, source: str) -> None:
        self.source = source
        self.sha = hashlib.sha1(source.encode(), usedforsecurity=False).hexdigest()


class _Translated:
    """The one place that knows redis-py's exceptions: they leave as ClusterUnavailable.

    A class rather than @contextmanager: it wraps every take, and costs no generator.
    """

    __slots__ = ()

    def __enter__(self) -> None:
        pass

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        # OSError: DNS and TLS failures can escape redis-py untranslated.
        if isinstance(exc, RedisError | OSError):
            raise ClusterUnavailable(str(exc) or type(exc).__name__) from exc


translated = _Translated()


class RedisLink:
    def __init__(self, redis: Redis) -> None:
        self.redis = redis
        self.closed = False
        self.degraded = False
        self._suspended_until = 0.0
        self._warned_at: float | None = None

    @property
    def suspended(self) -> bool:
        """Closed, or failed less than SUSPEND_SECS ago: answer without Redis."""
        return self.closed or time.monotonic() < self._suspended_until

    async def load(self, scripts: tuple[Script, ...]) -> None:
        pipe = self.redis.pipeline(transaction=False)
        for script in scripts:
            pipe.script_load(script.source)
        await self.execute(pipe)

    async def ping(self) -> bool:
        if self.closed:
            return False
        try:
            with translated:
                await self.redis.ping()
        except ClusterUnavailable:
            return False
        return True

    async def aclose(self) -> None:
        self.closed = True
        await self.redis.aclose()

    async def eval(self, script: Script, numkeys: int, *keys_and_args: str | float) -> Any:
        with translated:
            try:
                return await self.redis.evalsha(script.sha, numkeys, *keys_and_args)
            except NoScriptError:
                # Redis restarted or was flushed since start(): load it again.
                await self.redis.script_load(script.source)
                return await self.redis.evalsha(script.sha, numkeys, *keys_and_args)

    async def eval_many(
        self, script: Script, numkeys: int, calls: list[tuple[str | float, ...]]
    ) -> list[Any]:
        """`eval` for each of `calls` (keys and args), in one pipeline."""
        with translated:
            replies = await self._pipeline(script, numkeys, calls)
            if any(isinstance(r, NoScriptError) for r in replies):
                # Redis restarted or was flushed since start(): load it and send only those
                # again (the others ran: sending them twice would take twice).
                await self.redis.script_load(script.source)
                again = [i for i, r in enumerate(replies) if isinstance(r, NoScriptError)]
                retried = await self._pipeline(script, numkeys, [calls[i] for i in again])
                for i, reply in zip(again, retried, strict=True):
                    replies[i] = reply
            for reply in replies:
                if isinstance(reply, Exception):
                    raise reply
            return replies

    async def _pipeline(
        self, script: Script, numkeys: int, calls: list[tuple[str | float, ...]]
    ) -> list[Any]:
        pipe = self.redis.pipeline(transaction=False)
        for keys_and_args in calls:
            pipe.evalsha(script.sha, numkeys, *keys_and_args)
        replies: list[Any] = await pipe.execute(raise_on_error=False)
        return replies

    async def execute(self, pipe: Pipeline) -> list[Any]:
        with translated:
            return await pipe.execute()

    def unavailable(self, exc: ClusterUnavailable) -> None:
        now = time.monotonic()
        self._suspended_until = now + SUSPEND_SECS
        self.degraded = True
        if self._warned_at is None or now - self._warned_at >= WARN_EVERY_SECS:
            self._warned_at = now
            log.warning(
                "Redis unreachable (%s): rate limits fail open and presence is this"
                " node's own until it answers",
                exc,
            )

    def recovered(self) -> None:
        self.degraded = False
        log.info("Redis reachable again: rate limits and presence are cluster-wide")
