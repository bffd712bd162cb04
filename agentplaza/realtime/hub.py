"""Hub: which accounts have live connections on this node, fed by the bus.

The hub subscribes the bus for an account while at least one sink of that account is
attached (reference-counted by the set of sinks) and hands every publication to those sinks.
Ordering, dedup and gap filling are the sinks' business (realtime/sink.py). When the bus may
have lost publications (a RESYNC event, or its listener failed and restarted), every sink
is told to `resync()`, i.e. to recover from the store.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from contextlib import suppress

from agentplaza.bus.base import RESYNC, Bus
from agentplaza.cluster.base import ClusterState
from agentplaza.domain.credentials import Revocation
from agentplaza.domain.envelopes import (
    FANOUT_TOPIC,
    TOPIC_PREFIX,
    account_of,
    decode_envelope,
    decode_fanout,
    topic_for,
)
from agentplaza.domain.ids import AccountId
from agentplaza.realtime.sink import Sink

log = logging.getLogger(__name__)
BUS_RETRY_SECS = 1.0


class Hub:
    def __init__(self, bus: Bus, presence: ClusterState, *, heartbeat_interval_secs: float) -> None:
        self._bus = bus
        self._presence = presence  # told of an account's first and last sink on this node
        self._heartbeat_interval = heartbeat_interval_secs
        self._sinks: dict[AccountId, set[Sink]] = {}
        self._tasks: list[asyncio.Task[None]] = []
        # Other per-node fan-outs (realtime/rooms.py): the bus has one consumer, this hub.
        self._topic_handlers: list[tuple[str, Callable[[str, bytes], None]]] = []
        self.started_at = time.monotonic()

    def route_topics(self, prefix: str, handler: Callable[[str, bytes], None]) -> None:
        """Hand publications on topics starting with `prefix`, and every RESYNC, to `handler`
        (called on the listener task: it must not block). Inbox topics are the hub's own."""
        if prefix.startswith(TOPIC_PREFIX) or TOPIC_PREFIX.startswith(prefix):
            raise ValueError(f"{prefix!r} overlaps the inbox topics")
        self._topic_handlers.append((prefix, handler))

    async def start(self) -> None:
        # Fan-outs come on one topic for every node (services/publishing.py, Publisher).
        await self._bus.subscribe([FANOUT_TOPIC])
        loop = asyncio.get_running_loop()
        self._tasks = [loop.create_task(self._listen()), loop.create_task(self._heartbeats())]

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with suppress(asyncio.CancelledError):
                await task
        sinks = [s for group in self._sinks.values() for s in group]
        await asyncio.gather(
            *(s.close("server shutting down") for s in sinks), return_exceptions=True
        )
        self._sinks.clear()

    async def attach(self, sink: Sink) -> None:
        group = self._sinks.get(sink.account_id)
        if group is None:
            self._sinks[sink.account_id] = {sink}
            # Before any other await, so presence changes happen in the order _sinks changes
            # (a detach during the subscribe below comes after this, not before).
            await self._presence.connected(sink.account_id)
            await self._bus.subscribe([topic_for(sink.account_id)])
        else:
            group.add(sink)

    async def detach(self, sink: Sink) -> None:
        group = self._sinks.get(sink.account_id)
        if group is None or sink not in group:
            return
        group.discard(sink)
        if not group:
            del self._sinks[sink.account_id]
            await self._presence.disconnected(sink.account_id)  # first, as in attach
            await self._bus.unsubscribe([topic_for(sink.account_id)])
            if sink.account_id in self._sinks:  # re-attached while we were unsubscribing
                await self._bus.subscribe([topic_for(sink.account_id)])

    async def is_online(self, account_id: AccountId) -> bool:
        """Connected to any node (to this one only, while the cluster state is unreachable)."""
        return await self._presence.is_online(account_id)

    async def online_accounts(self, limit: int) -> list[AccountId]:
        """Up to `limit` accounts connected to any node, in no particular order."""
        return await self._presence.online_accounts(limit)

    def revoke(self, revocation: Revocation) -> None:
        """End this node's connections that `revocation` covers (never blocks)."""
        for sink in tuple(self._sinks.get(revocation.account_id, ())):
            if sink.credential is not None and revocation.covers(sink.credential):
                sink.revoke()

    def sinks(self) -> list[Sink]:
        """Every live connection on this node."""
        return [sink for group in self._sinks.values() for sink in group]

    def connection_count(self) -> int:
        return sum(len(group) for group in self._sinks.values())

    def connections_by_transport(self) -> dict[str, int]:
        """Live connections on this node per transport; transports with none are absent."""
        counts: dict[str, int] = {}
        for group in self._sinks.values():
            for sink in group:
                counts[sink.transport] = counts.get(sink.transport, 0) + 1
        return counts

    async def _listen(self) -> None:
        while True:
            try:
                async for topic, payload in self._bus.events():
                    if topic == RESYNC:
                        await self._resync_sinks()
                    else:
                        self._dispatch(topic, payload)
                return
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("bus listener failed; retrying in %.0f s", BUS_RETRY_SECS)
                await asyncio.sleep(BUS_RETRY_SECS)
                # Whatever arrived while nobody listened may be gone. Each sink's store read
                # starts after this point, so it sees every delivery committed before it.
                await self._resync_sinks()

    async def _resync_sinks(self) -> None:
        """Every attached sink recovers from the store what the bus may have lost."""
        for _, handler in self._topic_handlers:
            handler(RESYNC, b"")
        sinks = [sink for group in self._sinks.values() for sink in group]
        if not sinks:
            return
        log.info("bus may have lost publications: %d connections re-read the store", len(sinks))
        for sink in sinks:  # each only schedules its read (Sink.resync), so one by one
            try:
                await sink.resync()
            except Exception:
                log.exception("resync of a %s connection failed", sink.transport)

    def _dispatch(self, topic: str, payload: bytes) -> None:
        account = account_of(topic)  # first: nearly every publication is a delivery
        if account is None:
            if topic == FANOUT_TOPIC:
                self._dispatch_fanout(payload)
                return
            for prefix, handler in self._topic_handlers:
                if topic.startswith(prefix):
                    handler(topic, payload)
                    return
            return
        group = self._sinks.get(account)
        if not group:
            return
        try:
            envelope = decode_envelope(payload)
        except ValueError:
            log.warning("dropping malformed bus payload on %s", topic)
            return
        for sink in tuple(group):
            sink.push(envelope)

    def _dispatch_fanout(self, payload: bytes) -> None:
        sinks = self._sinks
        try:
            deliveries = decode_fanout(payload, sinks)
        except ValueError:
            log.warning("dropping malformed bus payload on %s", FANOUT_TOPIC)
            return
        for account, envelope in deliveries:
            for sink in tuple(sinks.get(account, ())):
                sink.push(envelope)

    async def _heartbeats(self) -> None:
        while True:
            await asyncio.sleep(self._heartbeat_interval)
            for group in tuple(self._sinks.values()):
                for sink in tuple(group):
                    sink.heartbeat()
