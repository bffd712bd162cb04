"""RedisClusterState: rate-limit buckets and presence shared by every node through one Redis.

Keys, all under the deployment's namespace so deployments and test runs can share a Redis:

    {ns}:rl:{limit}:{key}          hash {t: tokens, ts: Redis time in µs}; expires when the
                                   bucket would be full again (then it is the same as absent)
    {ns}:presence:node:{node_id}   set of the account ids connected to that node; TTL
                                   presence_ttl, extended by the node every refresh interval
    {ns}:presence:nodes            set of node ids that may have members; a node whose set is
                                   gone (expired: dead, or emptied) is pruned by any refresh

No node's clock matters: buckets use Redis's TIME and presence uses key TTLs, which run on
the Redis server. Needs Redis >= 6.2 (SMISMEMBER) and a single Redis, not Redis Cluster: the
presence scripts read node sets whose names they build themselves.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from collections.abc import Iterable
from contextlib import suppress
from types import TracebackType
from typing import Any

from redis.asyncio import BlockingConnectionPool, Redis
from redis.asyncio.client import Pipeline
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import NoScriptError, RedisError

from agentplaza.cluster.base import ClusterUnavailable
from agentplaza.domain.ids import AccountId
from agentplaza.domain.ratelimit import Bucket, Decision

log = logging.getLogger(__name__)

PRESENCE_TTL_SECS = 20.0
# Four refreshes per TTL: a live node survives three failed or late ones (a stalled loop).
REFRESHES_PER_TTL = 4
# After a failure, skip Redis this long: a blackholed Redis must not add a socket timeout to
# every request. The refresher keeps probing regardless.
SUSPEND_SECS = 1.0
WARN_EVERY_SECS = 30.0
SOCKET_TIMEOUT_SECS = 1.0
MAX_CONNECTIONS = 64
# Ids per presence script call: Lua's unpack() is limited by the C stack (~8000 values).
IDS_PER_CALL = 1000


class _Script:
    """A Lua script called by SHA1: the source crosses the wire only when Redis lacks it."""

    __slots__ = ("sha", "source")

    def __init__(self, source: str) -> None:
        self.source = source
        self.sha = hashlib.sha1(source.encode(), usedforsecurity=False).hexdigest()


# Same arithmetic as domain/ratelimit.py::take; a refused take also stores the refill.
_TAKE = _Script("""
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

# KEYS: this node's set, the registry. ARGV: node id, TTL ms, node set prefix.
# Returns the size of this node's set, so the node can tell that Redis lost or missed writes.
_TOUCH = _Script("""
local n = redis.call('SCARD', KEYS[1])
if n > 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  redis.call('SADD', KEYS[2], ARGV[1])
  redis.call('PEXPIRE', KEYS[2], ARGV[2])
end
for _, node in ipairs(redis.call('SMEMBERS', KEYS[2])) do
  if redis.call('EXISTS', ARGV[3] .. node) == 0 then
    redis.call('SREM', KEYS[2], node)
  end
end
return n
""")

# KEYS: the registry. ARGV: node set prefix, then account ids. Returns the online ones.
_ONLINE_OF = _Script("""
local n = #ARGV - 1
local hit = {}
for _, node in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  local flags = redis.call('SMISMEMBER', ARGV[1] .. node, unpack(ARGV, 2))
  for i = 1, n do
    if flags[i] == 1 then hit[i] = true end
  end
end
local out = {}
for i = 1, n do
  if hit[i] then out[#out + 1] = ARGV[i + 1] end
end
return out
""")

# KEYS: the registry. ARGV: node set prefix, how many. Scans only as far as it needs.
_ONLINE_ACCOUNTS = _Script("""
local limit = tonumber(ARGV[2])
local seen, out = {}, {}
if limit < 1 then return out end
for _, node in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  local cursor = '0'
  repeat
    local page = redis.call('SSCAN', ARGV[1] .. node, cursor, 'COUNT', 100)
    cursor = page[1]
    for _, id in ipairs(page[2]) do
      if not seen[id] then
        seen[id] = true
        out[#out + 1] = id
        if #out >= limit then return out end
      end
    end
  until cursor == '0'
end
return out
""")

_SCRIPTS = (_TAKE, _TOUCH, _ONLINE_OF, _ONLINE_ACCOUNTS)


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


_translated = _Translated()


def _fail_open(capacity: float, per_sec: float) -> Decision:
    """The answer when Redis cannot be asked: allowed, as if the bucket were fresh."""
    tokens = max(0.0, capacity - 1.0)
    return Decision(True, Bucket(tokens, 0.0), int(tokens), 0.0, (capacity - tokens) / per_sec)


class RedisClusterState:
    """ClusterState shared through Redis; see the module docstring for keys and TTLs.

    Unreachable Redis: takes are allowed, presence answers from this node's own connections,
    a warning is logged at most every WARN_EVERY_SECS, and the node's presence set is
    rewritten from its local view once Redis answers again.
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
        self._node_id = node_id
        self._ttl_ms = max(1, round(presence_ttl_secs * 1000))
        self._refresh_every = (
            refresh_every_secs
            if refresh_every_secs is not None
            else presence_ttl_secs / REFRESHES_PER_TTL
        )
        self._rl_prefix = f"{namespace}:rl:"
        self._node_prefix = f"{namespace}:presence:node:"
        self._node_key = self._node_prefix + node_id
        self._nodes_key = f"{namespace}:presence:nodes"
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
        self._redis: Redis = Redis.from_pool(pool)
        self._local: set[AccountId] = set()  # this node's truth; Redis follows it
        self._pending: set[AccountId] = set()  # changed locally, not yet written
        self._resync = True  # Redis's copy of this node's set is not known to be right
        # One writer at a time, so Redis sees this node's changes in the order they happened.
        self._write_lock = asyncio.Lock()
        self._refresher: asyncio.Task[None] | None = None
        self._closed = False
        self._suspended_until = 0.0
        self._warned_at: float | None = None
        self._degraded = False

    # --- lifecycle ------------------------------------------------------------------------

    async def start(self) -> None:
        try:
            pipe = self._redis.pipeline(transaction=False)
            for script in _SCRIPTS:
                pipe.script_load(script.source)
            await self._execute(pipe)
        except ClusterUnavailable as exc:
            self._unavailable(exc)
        else:
            # Replaces whatever a killed previous incarnation of this node id left behind.
            await self._refresh()
        self._refresher = asyncio.get_running_loop().create_task(self._refresh_forever())

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self._refresher is not None:  # started: withdraw this node's presence
            self._refresher.cancel()
            with suppress(asyncio.CancelledError):
                await self._refresher
            async with self._write_lock:  # no presence write may land after the withdrawal
                pipe = self._redis.pipeline(transaction=True)
                pipe.delete(self._node_key)
                pipe.srem(self._nodes_key, self._node_id)
                with suppress(ClusterUnavailable):  # unreachable: the TTL withdraws it
                    await self._execute(pipe)
        await self._redis.aclose()
        self._local.clear()

    async def ping(self) -> bool:
        if self._closed:
            return False
        try:
            with _translated:
                await self._redis.ping()
        except ClusterUnavailable:
            return False
        return True

    # --- rate limits ----------------------------------------------------------------------

    async def take(self, limit_name: str, key: str, *, capacity: float, per_sec: float) -> Decision:
        if self._closed or time.monotonic() < self._suspended_until:
            return _fail_open(capacity, per_sec)
        try:
            allowed, tokens_raw, now_raw = await self._eval(
                _TAKE, 1, f"{self._rl_prefix}{limit_name}:{key}", capacity, per_sec
            )
        except ClusterUnavailable as exc:
            self._unavailable(exc)
            return _fail_open(capacity, per_sec)
        if self._degraded:
            self._recovered()
        tokens = float(tokens_raw)
        return Decision(
            bool(allowed),
            Bucket(tokens, int(now_raw) / 1e6),
            int(tokens),
            0.0 if allowed else (1.0 - tokens) / per_sec,
            (capacity - tokens) / per_sec,
        )

    # --- presence -------------------------------------------------------------------------

    async def connected(self, account_id: AccountId) -> None:
        self._local.add(account_id)
        await self._publish(account_id)

    async def disconnected(self, account_id: AccountId) -> None:
        self._local.discard(account_id)
        await self._publish(account_id)

    async def is_online(self, account_id: AccountId) -> bool:
        return account_id in await self.online_of((account_id,))

    async def online_of(self, account_ids: Iterable[AccountId]) -> set[AccountId]:
        wanted = list(dict.fromkeys(account_ids))
        # This node's own connections count even if a write of them has not landed yet.
        found = {a for a in wanted if a in self._local}
        if not wanted or self._closed or time.monotonic() < self._suspended_until:
            return found
        try:
            for start in range(0, len(wanted), IDS_PER_CALL):
                chunk = wanted[start : start + IDS_PER_CALL]
                reply = await self._eval(_ONLINE_OF, 1, self._nodes_key, self._node_prefix, *chunk)
                found.update(AccountId(raw.decode()) for raw in reply)
        except ClusterUnavailable as exc:
            self._unavailable(exc)
        return found

    async def online_accounts(self, limit: int) -> list[AccountId]:
        found: dict[AccountId, None] = {}
        if limit > 0 and not self._closed and time.monotonic() >= self._suspended_until:
            try:
                reply = await self._eval(
                    _ONLINE_ACCOUNTS, 1, self._nodes_key, self._node_prefix, limit
                )
                found = dict.fromkeys(AccountId(raw.decode()) for raw in reply)
            except ClusterUnavailable as exc:
                self._unavailable(exc)
        for account_id in self._local:
            if len(found) >= limit:
                break
            found.setdefault(account_id)
        return list(found)

    async def _publish(self, account_id: AccountId) -> None:
        """Bring Redis in line with the local view of `account_id` (and of every change
        waiting behind it: the first writer to get the lock writes them all)."""
        if self._closed:
            return
        if time.monotonic() < self._suspended_until:
            self._resync = True  # the refresher rewrites the whole set once Redis answers
            return
        self._pending.add(account_id)
        async with self._write_lock:
            if account_id not in self._pending or self._closed:
                return  # an earlier writer took it along
            batch, self._pending = self._pending, set()
            try:
                await self._write(batch)
            except ClusterUnavailable as exc:
                self._resync = True
                self._unavailable(exc)
            except BaseException:
                self._resync = True  # cancelled mid-write: what landed is unknown
                raise

    async def _write(self, batch: set[AccountId]) -> None:
        online = [a for a in batch if a in self._local]
        offline = [a for a in batch if a not in self._local]
        # MULTI: the registry entry and the set appear together, so a concurrent prune (which
        # drops nodes without a set) cannot strand this node's members outside the registry.
        pipe = self._redis.pipeline(transaction=True)
        if online:
            pipe.sadd(self._node_key, *online)
        if offline:
            pipe.srem(self._node_key, *offline)
        self._keep_alive(pipe)
        await self._execute(pipe)

    async def _rewrite(self) -> None:
        """Replace this node's set with the local view; readers never see it half-written."""
        self._pending.clear()
        pipe = self._redis.pipeline(transaction=True)
        pipe.delete(self._node_key)
        if self._local:
            pipe.sadd(self._node_key, *self._local)
        self._keep_alive(pipe)
        await self._execute(pipe)

    def _keep_alive(self, pipe: Pipeline) -> None:
        pipe.pexpire(self._node_key, self._ttl_ms)
        pipe.sadd(self._nodes_key, self._node_id)
        pipe.pexpire(self._nodes_key, self._ttl_ms)

    async def _refresh_forever(self) -> None:
        while True:
            await asyncio.sleep(self._refresh_every)
            await self._refresh()

    async def _refresh(self) -> None:
        """Extend this node's TTLs; rewrite its set when Redis lost or missed something."""
        async with self._write_lock:
            if self._closed:
                return
            try:
                if not self._resync:
                    count = await self._eval(
                        _TOUCH,
                        2,
                        self._node_key,
                        self._nodes_key,
                        self._node_id,
                        self._ttl_ms,
                        self._node_prefix,
                    )
                    # With writes waiting for the lock the sizes differ legitimately.
                    self._resync = not self._pending and count != len(self._local)
                if self._resync:
                    await self._rewrite()
                    self._resync = False
            except ClusterUnavailable as exc:
                self._resync = True
                self._unavailable(exc)
                return
        if self._degraded:
            self._recovered()

    # --- Redis access and failure policy --------------------------------------------------

    async def _eval(self, script: _Script, numkeys: int, *keys_and_args: str | float) -> Any:
        with _translated:
            try:
                return await self._redis.evalsha(script.sha, numkeys, *keys_and_args)
            except NoScriptError:
                # Redis restarted or was flushed since start(): load it again.
                await self._redis.script_load(script.source)
                return await self._redis.evalsha(script.sha, numkeys, *keys_and_args)

    async def _execute(self, pipe: Pipeline) -> list[Any]:
        with _translated:
            return await pipe.execute()

    def _unavailable(self, exc: ClusterUnavailable) -> None:
        now = time.monotonic()
        self._suspended_until = now + SUSPEND_SECS
        self._degraded = True
        if self._warned_at is None or now - self._warned_at >= WARN_EVERY_SECS:
            self._warned_at = now
            log.warning(
                "Redis unreachable (%s): rate limits fail open and presence is this"
                " node's own until it answers",
                exc,
            )

    def _recovered(self) -> None:
        self._degraded = False
        log.info("Redis reachable again: rate limits and presence are cluster-wide")
