"""RedisPresence: which accounts have a live connection on some node, shared through Redis.

    {ns}:presence:node:{node_id}   set of the account ids connected to that node; TTL
                                   presence_ttl, extended by the node every refresh interval
    {ns}:presence:nodes            set of node ids that may have members; a node whose set is
                                   gone (expired: dead, or emptied) is pruned by any refresh

This node's own connections are the truth (answered even while Redis is unreachable); Redis
follows them, and the node's set is rewritten from the local view once Redis answers again.
TTLs run on the Redis server, so no node's clock matters.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from contextlib import suppress

from redis.asyncio.client import Pipeline

from agentplaza.cluster.base import ClusterUnavailable
from agentplaza.cluster.redis_link import RedisLink, Script
from agentplaza.domain.ids import AccountId

PRESENCE_TTL_SECS = 20.0
# Four refreshes per TTL: a live node survives three failed or late ones (a stalled loop).
REFRESHES_PER_TTL = 4
# Ids per presence script call: Lua's unpack() is limited by the C stack (~8000 values).
IDS_PER_CALL = 1000

# KEYS: this node's set, the registry. ARGV: node id, TTL ms, node set prefix.
# Returns the size of this node's set, so the node can tell that Redis lost or missed writes.
_TOUCH = Script("""
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
_ONLINE_OF = Script("""
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
_ONLINE_ACCOUNTS = Script("""
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

SCRIPTS = (_TOUCH, _ONLINE_OF, _ONLINE_ACCOUNTS)


class RedisPresence:
    def __init__(
        self,
        link: RedisLink,
        *,
        namespace: str,
        node_id: str,
        presence_ttl_secs: float = PRESENCE_TTL_SECS,
        refresh_every_secs: float | None = None,
    ) -> None:
        self._link = link
        self._node_id = node_id
        self._ttl_ms = max(1, round(presence_ttl_secs * 1000))
        self._refresh_every = (
            refresh_every_secs
            if refresh_every_secs is not None
            else presence_ttl_secs / REFRESHES_PER_TTL
        )
        self._node_prefix = f"{namespace}:presence:node:"
        self._node_key = self._node_prefix + node_id
        self._nodes_key = f"{namespace}:presence:nodes"
        self._local: set[AccountId] = set()  # this node's truth; Redis follows it
        self._pending: set[AccountId] = set()  # changed locally, not yet written
        self._resync = True  # Redis's copy of this node's set is not known to be right
        # One writer at a time, so Redis sees this node's changes in the order they happened.
        self._write_lock = asyncio.Lock()
        self._refresher: asyncio.Task[None] | None = None

    async def start(self, *, reachable: bool) -> None:
        if reachable:
            # Replaces whatever a killed previous incarnation of this node id left behind.
            await self._refresh()
        self._refresher = asyncio.get_running_loop().create_task(self._refresh_forever())

    async def withdraw(self) -> None:
        """Stop refreshing and remove this node's presence (call before the link closes)."""
        if self._refresher is not None:  # started: withdraw this node's presence
            self._refresher.cancel()
            with suppress(asyncio.CancelledError):
                await self._refresher
            async with self._write_lock:  # no presence write may land after the withdrawal
                pipe = self._link.redis.pipeline(transaction=True)
                pipe.delete(self._node_key)
                pipe.srem(self._nodes_key, self._node_id)
                with suppress(ClusterUnavailable):  # unreachable: the TTL withdraws it
                    await self._link.execute(pipe)
        self._local.clear()

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
        if not wanted or self._link.suspended:
            return found
        try:
            for start in range(0, len(wanted), IDS_PER_CALL):
                chunk = wanted[start : start + IDS_PER_CALL]
                reply = await self._link.eval(
                    _ONLINE_OF, 1, self._nodes_key, self._node_prefix, *chunk
                )
                found.update(AccountId(raw.decode()) for raw in reply)
        except ClusterUnavailable as exc:
            self._link.unavailable(exc)
        return found

    async def online_accounts(self, limit: int) -> list[AccountId]:
        found: dict[AccountId, None] = {}
        if limit > 0 and not self._link.suspended:
            try:
                reply = await self._link.eval(
                    _ONLINE_ACCOUNTS, 1, self._nodes_key, self._node_prefix, limit
                )
                found = dict.fromkeys(AccountId(raw.decode()) for raw in reply)
            except ClusterUnavailable as exc:
                self._link.unavailable(exc)
        for account_id in self._local:
            if len(found) >= limit:
                break
            found.setdefault(account_id)
        return list(found)

    async def _publish(self, account_id: AccountId) -> None:
        """Bring Redis in line with the local view of `account_id` (and of every change
        waiting behind it: the first writer to get the lock writes them all)."""
        if self._link.closed:
            return
        if self._link.suspended:
            self._resync = True  # the refresher rewrites the whole set once Redis answers
            return
        self._pending.add(account_id)
        async with self._write_lock:
            if account_id not in self._pending or self._link.closed:
                return  # an earlier writer took it along
            batch, self._pending = self._pending, set()
            try:
                await self._write(batch)
            except ClusterUnavailable as exc:
                self._resync = True
                self._link.unavailable(exc)
            except BaseException:
                self._resync = True  # cancelled mid-write: what landed is unknown
                raise

    async def _write(self, batch: set[AccountId]) -> None:
        online = [a for a in batch if a in self._local]
        offline = [a for a in batch if a not in self._local]
        # MULTI: the registry entry and the set appear together, so a concurrent prune (which
        # drops nodes without a set) cannot strand this node's members outside the registry.
        pipe = self._link.redis.pipeline(transaction=True)
        if online:
            pipe.sadd(self._node_key, *online)
        if offline:
            pipe.srem(self._node_key, *offline)
        self._keep_alive(pipe)
        await self._link.execute(pipe)

    async def _rewrite(self) -> None:
        """Replace this node's set with the local view; readers never see it half-written."""
        self._pending.clear()
        pipe = self._link.redis.pipeline(transaction=True)
        pipe.delete(self._node_key)
        if self._local:
            pipe.sadd(self._node_key, *self._local)
        self._keep_alive(pipe)
        await self._link.execute(pipe)

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
            if self._link.closed:
                return
            try:
                if not self._resync:
                    count = await self._link.eval(
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
                self._link.unavailable(exc)
                return
        if self._link.degraded:
            self._link.recovered()
