"""Long-poll `GET /v1/messages/pending`: return unacked items now, or park until one arrives.

A parked request is a `Waiter` sink in the hub; any delivery for the account wakes it and
the handler re-reads the store, so a woken poll returns every unacked item, in seq order.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from contextlib import suppress

from agentplaza.domain.accounts import Account
from agentplaza.domain.credentials import Credential, credential_for
from agentplaza.domain.envelopes import Envelope
from agentplaza.domain.errors import ErrorCode, Unauthenticated
from agentplaza.domain.messages import InboxItem
from agentplaza.realtime.hub import Hub
from agentplaza.realtime.sink import REVOKED
from agentplaza.services.registry import Services

PENDING_DEFAULT_LIMIT = 100


class Waiter:
    """A parked long-poll: woken by the first delivery, a bus RESYNC, shutdown or the
    revocation of its credential (then it answers 401)."""

    transport = "longpoll"

    def __init__(self, account: Account, credential: Credential | None = None) -> None:
        self.account_id = account.id
        self.credential = credential
        self.woken = asyncio.Event()
        self.revoked = False

    def push(self, envelope: Envelope) -> None:
        self.woken.set()

    async def resync(self) -> None:
        # The bus may have lost a delivery for us: the woken poll re-reads the store.
        self.woken.set()

    def heartbeat(self) -> None:
        pass

    async def close(self, reason: str) -> None:
        self.revoked = self.revoked or reason == REVOKED
        self.woken.set()

    def revoke(self) -> None:
        self.revoked = True
        self.woken.set()


async def wait_for_pending(
    services: Services,
    hub: Hub,
    account: Account,
    *,
    timeout_secs: float,
    limit: int,
    token: str,
    client_gone: Callable[[], Awaitable[object]] | None = None,
) -> list[InboxItem]:
    """Unacked items, ascending by seq; waits up to `timeout_secs` for the first one.

    `client_gone` resolves when the HTTP client disconnects: the waiter is dropped at once,
    so presence and connection counts do not lag by a whole poll timeout.
    """
    messaging = services.messaging
    page = await messaging.unacked(account, limit=limit)
    if page.items or timeout_secs <= 0:
        return page.items
    waiter = Waiter(account, credential_for(token))
    await hub.attach(waiter)
    try:
        # A revocation handled since the route's check found no waiter to wake; it did clear
        # the cache, so this asks the store.
        await services.accounts.authenticate(token)
        # Re-read after attaching: a delivery committed in between would otherwise be missed.
        page = await messaging.unacked(account, limit=limit)
        if page.items:
            return page.items
        woken = asyncio.ensure_future(waiter.woken.wait())
        gone = asyncio.ensure_future(client_gone()) if client_gone else None
        waits = {woken} if gone is None else {woken, gone}
        try:
            await asyncio.wait(waits, timeout=timeout_secs, return_when=asyncio.FIRST_COMPLETED)
            client_left = gone is not None and gone.done() and not woken.done()
        finally:
            for task in waits:
                task.cancel()
            for task in waits:
                with suppress(asyncio.CancelledError):
                    await task
        if client_left:
            return []  # nobody to answer; skip the store read
    finally:
        await hub.detach(waiter)
    if waiter.revoked:
        raise Unauthenticated(REVOKED, ErrorCode.INVALID_CREDENTIALS)
    return (await messaging.unacked(account, limit=limit)).items
