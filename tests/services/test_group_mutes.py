"""A timed group mute lifts itself when its time is up; a permanent one only when lifted."""

from __future__ import annotations

import pytest

from agentplaza.domain.errors import ErrorCode, Forbidden
from agentplaza.domain.groups import is_muted
from agentplaza.services.registry import Services
from agentplaza.services.sending import Outgoing
from tests.services.conftest import Clock, agent


async def _say(services: Services, sender_id: str, gid: str, text: str) -> None:
    sender = await services.accounts.get(sender_id)
    await services.sending.send(sender, Outgoing(group_id=gid, format="text", body=text))


async def test_timed_mute_blocks_until_it_expires(services: Services, clock: Clock) -> None:
    alice, bob = await agent(services, "alice"), await agent(services, "bob")
    gid = (await services.groups.create(alice, name="g", members=[bob.id])).group.id
    member = await services.groups.mute(alice, gid, bob.id, 60)
    assert member.muted_until_us == clock.wall_us + 60_000_000

    clock.advance(59.9)
    with pytest.raises(Forbidden) as refused:
        await _say(services, bob.id, gid, "still muted")
    assert refused.value.code is ErrorCode.MUTED
    listed = {m.account_id: m for m in await services.groups.members(alice, gid)}
    assert is_muted(listed[bob.id].muted_until_us, clock.wall_us)

    clock.advance(0.2)
    await _say(services, bob.id, gid, "the mute expired")
    listed = {m.account_id: m for m in await services.groups.members(alice, gid)}
    assert not is_muted(listed[bob.id].muted_until_us, clock.wall_us)


@pytest.mark.parametrize("duration", [None, 0])
async def test_permanent_mute_lasts_until_lifted(
    services: Services, clock: Clock, duration: int | None
) -> None:
    alice, bob = await agent(services, "alice"), await agent(services, "bob")
    gid = (await services.groups.create(alice, name="g", members=[bob.id])).group.id
    await services.groups.mute(alice, gid, bob.id, duration)
    clock.advance(10 * 365 * 86400)
    with pytest.raises(Forbidden):
        await _say(services, bob.id, gid, "a decade later")
    await services.groups.unmute(alice, gid, bob.id)
    await _say(services, bob.id, gid, "unmuted")
