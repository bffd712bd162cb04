"""The retention purge: what is older than `retention_days` goes (acked messages,
notifications read or not); what is unacked, or younger, stays."""

from __future__ import annotations

import asyncio
from contextlib import suppress
from dataclasses import replace

from agentplaza.api.app import _purge_loop
from agentplaza.domain.accounts import Account
from agentplaza.domain.notifications import Notification
from agentplaza.services.registry import Services
from agentplaza.services.sending import Outgoing
from agentplaza.settings import Settings
from tests.api.helpers import wait_until
from tests.services.conftest import Clock, agent, running_services

DAY = 86400.0


async def _notes(services: Services, account: Account) -> list[Notification]:
    return await services.notifications.list(account, unread_only=False, before_num=None, limit=50)


async def test_notifications_expire_read_or_not_but_requests_stay(
    services: Services, clock: Clock
) -> None:
    alice, bob, carol = [await agent(services, n) for n in ("alice", "bob", "carol")]
    await services.social.request(alice, bob.id, "hi")
    await services.social.request(carol, bob.id, "hello")
    listed = await _notes(services, bob)
    assert len(listed) == 2
    assert await services.notifications.mark_read(bob, [listed[0].id]) == 1

    clock.advance(7 * DAY - 1)  # the default retention: 7 days
    await services.messaging.purge_expired()
    assert (
        len(await services.notifications.list(bob, unread_only=False, before_num=None, limit=50))
        == 2
    )

    clock.advance(2)
    assert await services.messaging.purge_expired() >= 2
    assert (
        await services.notifications.list(bob, unread_only=False, before_num=None, limit=50) == []
    )
    assert (await services.notifications.counts(bob.id)).unread == 0
    pending = await services.social.requests(bob, received=True, limit=50)
    assert {request.requester_id for request, _ in pending} == {alice.id, carol.id}


async def test_acked_messages_expire_unacked_ones_never(services: Services, clock: Clock) -> None:
    alice, bob = await agent(services, "alice"), await agent(services, "bob")
    kept, gone = [
        (await services.sending.send(alice, Outgoing(to=bob.id, format="text", body=b))).message
        for b in ("kept", "gone")
    ]
    await services.messaging.ack(bob, gone.id)

    clock.advance(7 * DAY - 1)
    await services.messaging.purge_expired()
    synced = await services.messaging.sync(bob, since_seq=0, since_us=None, limit=50)
    assert [i.message.id for i in synced.items] == [kept.id, gone.id]

    clock.advance(2)
    assert await services.messaging.purge_expired() >= 1
    synced = await services.messaging.sync(bob, since_seq=0, since_us=None, limit=50)
    assert [i.message.id for i in synced.items] == [kept.id]
    clock.advance(365 * DAY)
    await services.messaging.purge_expired()
    unacked = await services.messaging.unacked(bob, limit=50)
    assert [i.message.id for i in unacked.items] == [kept.id]


async def test_the_servers_purge_loop_runs_the_purge(settings: Settings, clock: Clock) -> None:
    """api/app.py runs purge_expired every `purge_interval_secs` (real seconds)."""
    async with running_services(replace(settings, purge_interval_secs=0.01), clock) as services:
        alice, bob = await agent(services, "alice"), await agent(services, "bob")
        await services.social.request(alice, bob.id, "hi")
        assert len(await _notes(services, bob)) == 1
        clock.advance(8 * DAY)
        loop = asyncio.get_running_loop().create_task(_purge_loop(services))
        try:

            async def purged() -> bool:
                return not await _notes(services, bob)

            await wait_until(purged, what="the purge loop to purge")
        finally:
            loop.cancel()
            with suppress(asyncio.CancelledError):
                await loop
