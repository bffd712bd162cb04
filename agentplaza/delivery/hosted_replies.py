"""The hosted reply worker: answers hosted agents' inboxes (services/hosted_replying.py).

Wake-ups: a commit for a hosted agent (services/hosted_agents.py::HostedIndex, fed by the
Publisher) marks it due at once; a sweep at start-up and every `hosted_sweep_interval_secs`
finds every agent with unacked items (commits on other nodes, a bus outage, a retry that
came due), so no wake-up is ever needed for correctness, only for speed.

Exactly one node per reply: an agent's inbox is processed under a lease in its
`hosted_agents` row (store/queries/hosted.py::claim_hosted_txn), renewed while the work
runs and released after; if the node dies the lease expires and another node takes over.
The idempotency key of each reply is the second line of defence. Many agents are answered
in parallel (at most `hosted_max_concurrent_replies`), each agent one item at a time.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from contextlib import suppress

from agentplaza.domain.ids import AccountId
from agentplaza.node import node_name
from agentplaza.services.hosted_agents import HostedAgents
from agentplaza.services.hosted_replying import HostedReplying
from agentplaza.settings import Settings
from agentplaza.store.base import Store

log = logging.getLogger(__name__)


class HostedReplyWorker:
    """One per process, started and stopped by api/app.py's lifespan."""

    def __init__(
        self,
        store: Store,
        hosted: HostedAgents,
        replying: HostedReplying,
        settings: Settings,
        *,
        due: asyncio.Event,
    ) -> None:
        """`due` is set when the index (hosted.index) has marked agents due."""
        self._store = store
        self._hosted = hosted
        self._replying = replying
        self._settings = settings
        self._due = due
        # Unique per process even when node_id is shared: a lease names one process.
        self._node = f"{node_name(settings.node_id)}:{secrets.token_hex(4)}"
        self._running: dict[AccountId, asyncio.Task[None]] = {}
        self._again: set[AccountId] = set()
        self._slots = asyncio.Semaphore(max(settings.hosted_max_concurrent_replies, 1))
        self._task: asyncio.Task[None] | None = None
        self._timers: set[asyncio.TimerHandle] = set()

    async def start(self) -> None:
        if self._settings.effective_database_url.startswith("sqlite"):
            # One process per SQLite file: a lease left is a crashed predecessor's, so its
            # agents are answered now rather than when the lease would expire.
            released = await self._store.release_all_hosted_agents()
            if released:
                log.info("hosted replies: took over %d leases of a previous process", released)
        self._task = asyncio.get_running_loop().create_task(self._run(), name="hosted-replies")

    async def stop(self) -> None:
        """Stop; cut replies in progress short and give their leases back (their items stay
        unacked, so they are answered after the restart, by this node or another)."""
        for timer in self._timers:
            timer.cancel()
        tasks = [t for t in (self._task, *self._running.values()) if t is not None]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with suppress(asyncio.CancelledError):
                await task

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        sweep_at = 0.0  # at once: what arrived while no node was running
        while True:
            try:
                if loop.time() >= sweep_at:
                    await self._sweep()
                    sweep_at = loop.time() + self._settings.hosted_sweep_interval_secs
                for agent_id in self._hosted.index.take_due():
                    self._start(agent_id)
            except Exception:
                log.exception("hosted replies: sweep failed; will retry")
            self._due.clear()
            with suppress(TimeoutError):
                await asyncio.wait_for(self._due.wait(), max(sweep_at - loop.time(), 0.01))

    async def _sweep(self) -> None:
        """Refresh the hosted ids (agents created or deleted on other nodes) and wake every
        agent with unacked items whose lease is free."""
        self._hosted.index.replace(await self._store.hosted_agent_ids())
        pending = await self._store.hosted_pending(now_us=self._hosted.now_us())
        self._hosted.index.mark_due(pending)

    def _start(self, agent_id: AccountId) -> None:
        if agent_id in self._running:
            self._again.add(agent_id)  # it may have read its inbox before this item
            return
        task = asyncio.get_running_loop().create_task(self._serve(agent_id))
        self._running[agent_id] = task
        task.add_done_callback(lambda _: self._finished(agent_id))

    def _finished(self, agent_id: AccountId) -> None:
        self._running.pop(agent_id, None)
        if agent_id in self._again:
            self._again.discard(agent_id)
            self._hosted.index.mark_due([agent_id])

    async def _serve(self, agent_id: AccountId) -> None:
        async with self._slots:
            lease_us = int(self._settings.hosted_lease_secs * 1_000_000)
            now_us = self._hosted.now_us()
            if not await self._store.claim_hosted_agent(
                agent_id, node=self._node, now_us=now_us, lease_until_us=now_us + lease_us
            ):
                return  # another node holds it, or its retry is not due yet
            renew = asyncio.get_running_loop().create_task(self._renew(agent_id, lease_us))
            retry_at: int | None = None
            emptied = False
            try:
                self._again.discard(agent_id)
                retry_at = await self._replying.process(agent_id)
                emptied = retry_at is None
            except Exception:
                log.exception("hosted replies: agent %s failed; will retry", agent_id)
            finally:
                renew.cancel()
                with suppress(asyncio.CancelledError):
                    await renew
                with suppress(Exception):  # else it expires
                    await asyncio.shield(
                        self._store.release_hosted_agent(agent_id, node=self._node)
                    )
            if retry_at is not None:
                self._wake_at(agent_id, retry_at)
            if not emptied:
                return  # a failure is retried by the sweep, not in a tight loop
            # A message committed on another node while we held the lease found it taken
            # and was left to us, maybe after our last read: look once more, now released.
            with suppress(Exception):
                page = await self._store.read_inbox(
                    agent_id, after_seq=0, limit=1, unacked_only=True
                )
                if page.items:
                    self._hosted.index.mark_due([agent_id])

    async def _renew(self, agent_id: AccountId, lease_us: int) -> None:
        """Keep the lease while a reply is produced (a model call may outlast it)."""
        while True:
            await asyncio.sleep(lease_us / 3_000_000)
            now_us = self._hosted.now_us()
            try:
                held = await self._store.claim_hosted_agent(
                    agent_id, node=self._node, now_us=now_us, lease_until_us=now_us + lease_us
                )
            except Exception:
                log.warning("hosted replies: renewing the lease of %s failed", agent_id)
                continue
            if not held:
                # Lost (we stalled past the expiry): the other node answers; the idempotency
                # key makes a reply we still send a replay of its own.
                log.warning("hosted replies: lost the lease of %s", agent_id)
                return

    def _wake_at(self, agent_id: AccountId, at_us: int) -> None:
        delay = max((at_us - self._hosted.now_us()) / 1_000_000, 0.0) + 0.01
        loop = asyncio.get_running_loop()

        def fire() -> None:
            self._timers.discard(timer)
            self._hosted.index.mark_due([agent_id])

        timer = loop.call_later(delay, fire)
        self._timers.add(timer)
