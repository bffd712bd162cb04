"""Hub: which accounts have live connections on this node, fed by the bus.

The hub subscribes the bus for an account while at least one sink of that account is
attached (reference-counted by the set of sinks) and hands every publication to those sinks.
Ordering, dedup and gap filling are the sinks' business (realtime/sink.py).
"""

from __future__ import annotations

import asyncio
import logging
import time
from contextlib import suppress

from agentplaza.bus.base import Bus
from agentplaza.domain.envelopes import account_of, decode_envelope, topic_for
from agentplaza.domain.ids import AccountId
from agentplaza.realtime.sink import Sink

log = logging.getLogger(__name__)
BUS_RETRY_SECS = 1.0


class Hub:
    def __init__(self, bus: Bus, *, heartbeat_interval_secs: float) -> None:
        self._bus = bus
        self._heartbeat_interval = heartbeat_interval_secs
        self._sinks: dict[AccountId, set[Sink]] = {}
        self._tasks: list[asyncio.Task[None]] = []
        self.started_at = time.monotonic()

    async def start(self) -> None:
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
            await self._bus.unsubscribe([topic_for(sink.account_id)])
            if sink.account_id in self._sinks:  # re-attached while we were unsubscribing
                await self._bus.subscribe([topic_for(sink.account_id)])

    def is_online(self, account_id: AccountId) -> bool:
        return account_id in self._sinks

    def online_accounts(self) -> list[AccountId]:
        return list(self._sinks)

    def connection_count(self) -> int:
        return sum(len(group) for group in self._sinks.values())

    async def _listen(self) -> None:
        while True:
            try:
                async for topic, payload in self._bus.events():
                    self._dispatch(topic, payload)
                return
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("bus listener failed; retrying in %.0f s", BUS_RETRY_SECS)
                await asyncio.sleep(BUS_RETRY_SECS)

    def _dispatch(self, topic: str, payload: bytes) -> None:
        account = account_of(topic)
        group = self._sinks.get(account) if account is not None else None
        if not group:
            return
        try:
            envelope = decode_envelope(payload)
        except ValueError:
            log.warning("dropping malformed bus payload on %s", topic)
            return
        for sink in tuple(group):
            sink.push(envelope)

    async def _heartbeats(self) -> None:
        while True:
            await asyncio.sleep(self._heartbeat_interval)
            for group in tuple(self._sinks.values()):
                for sink in tuple(group):
                    sink.heartbeat()
