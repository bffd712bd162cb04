"""Revoked credentials end live connections on every node (docs/credentials.md).

A rotation, recovery, logout or deletion is applied on the node that served it at once and
published on the bus topic every node subscribes (REVOCATION_TOPIC); each node then forgets
the cached credential and the hub ends the connections it opened. The bus may lose a
publication: after a RESYNC every node forgets all cached credentials and re-checks each live
connection's credential against the store.
"""

from __future__ import annotations

import asyncio
import logging
from contextlib import suppress

from agentplaza.bus.base import RESYNC, Bus
from agentplaza.domain.credentials import REVOCATION_TOPIC, Credential, decode_revocation
from agentplaza.domain.ids import AccountId
from agentplaza.realtime.hub import Hub
from agentplaza.services.accounts import Accounts

log = logging.getLogger(__name__)


class RevocationRelay:
    def __init__(self, bus: Bus, hub: Hub, accounts: Accounts) -> None:
        self._bus = bus
        self._hub = hub
        self._accounts = accounts
        self._recheck: asyncio.Task[None] | None = None
        self._recheck_again = False
        accounts.on_revocation(hub.revoke)
        hub.route_topics(REVOCATION_TOPIC, self.on_bus_event)

    async def start(self) -> None:
        """Subscribe for the node's whole life: a cached credential needs no connection."""
        await self._bus.subscribe([REVOCATION_TOPIC])

    async def stop(self) -> None:
        if self._recheck is not None:
            self._recheck.cancel()
            with suppress(asyncio.CancelledError):
                await self._recheck

    def on_bus_event(self, topic: str, payload: bytes) -> None:
        if topic == RESYNC:
            self._accounts.forget_all()
            self._start_recheck()
            return
        try:
            revocation = decode_revocation(payload)
        except ValueError:
            log.warning("dropping malformed revocation on %s", topic)
            return
        self._accounts.apply_revocation(revocation)

    def _start_recheck(self) -> None:
        if self._recheck is not None and not self._recheck.done():
            self._recheck_again = True  # this RESYNC may follow revocations it already read
            return
        self._recheck = asyncio.get_running_loop().create_task(self._recheck_all())

    async def _recheck_all(self) -> None:
        while True:
            self._recheck_again = False
            try:
                await self._recheck_once()
            except Exception:
                log.exception("re-checking live connections' credentials failed")
            if not self._recheck_again:
                return

    async def _recheck_once(self) -> None:
        verdicts: dict[tuple[AccountId, Credential], bool] = {}
        for sink in self._hub.sinks():
            if sink.credential is None:
                continue
            key = (sink.account_id, sink.credential)
            if key not in verdicts:  # one store read per credential, not per connection
                verdicts[key] = await self._accounts.is_current(*key)
            if not verdicts[key]:
                sink.revoke()
