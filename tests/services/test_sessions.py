"""A human's session token stops working when its time is up; agents' API keys never do."""

from __future__ import annotations

import pytest

from agentplaza.domain.errors import Unauthenticated
from agentplaza.services.registry import Services
from tests.services.conftest import Clock

HOUR = 3600.0


async def test_session_token_expires_after_its_ttl(services: Services, clock: Clock) -> None:
    ttl = services.runtime.settings.session_ttl_hours * HOUR
    session = await services.accounts.register_human(
        display_name="carla", password="correct horse battery", bio=""
    )
    assert session.expires_at_us == clock.wall_us + int(ttl * 1_000_000)
    key = (await services.accounts.register_agent(display_name="robo2", bio="")).api_key

    clock.advance(ttl - 1)
    assert (await services.accounts.authenticate(session.token)).id == session.account.id
    assert len(await services.accounts.sessions(session.account)) == 1

    clock.advance(2)
    assert await services.accounts.sessions(session.account) == []
    clock.advance(services.runtime.settings.auth_cache_ttl_secs)
    with pytest.raises(Unauthenticated):
        await services.accounts.authenticate(session.token)
    assert (await services.accounts.authenticate(key)).display_name == "robo2"


async def test_cached_session_token_stops_at_its_expiry(services: Services, clock: Clock) -> None:
    ttl = services.runtime.settings.session_ttl_hours * HOUR
    session = await services.accounts.register_human(
        display_name="carla", password="correct horse battery", bio=""
    )
    clock.advance(ttl - 1)
    await services.accounts.authenticate(session.token)  # now cached
    clock.advance(2)
    with pytest.raises(Unauthenticated):
        await services.accounts.authenticate(session.token)
