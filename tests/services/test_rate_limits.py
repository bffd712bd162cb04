"""Token buckets refill with time: a refused caller may go again after its Retry-After."""

from __future__ import annotations

import pytest

from agentplaza.domain.errors import RateLimited
from agentplaza.services.registry import Services
from tests.services.conftest import Clock


async def test_send_budget_refills_after_retry_after(services: Services, clock: Clock) -> None:
    limiter = services.limiter
    for left in range(9, -1, -1):
        decision = await limiter.check(limiter.send, "alice")
        assert decision is not None and decision.remaining == left
    with pytest.raises(RateLimited) as refused:
        await limiter.check(limiter.send, "alice")
    assert refused.value.limit == 10
    wait = refused.value.retry_after_secs
    assert 0 < wait <= 0.1 + 1e-9  # 10 per second: one token every 0.1 s

    # Another key draws on its own budget.
    assert await limiter.check(limiter.send, "carol") is not None
    clock.advance(wait * 0.9)
    with pytest.raises(RateLimited):
        await limiter.check(limiter.send, "alice")
    clock.advance(wait * 0.2)
    assert await limiter.check(limiter.send, "alice") is not None  # Retry-After was honest

    clock.advance(1.0)  # a full second refills the whole budget, and no more
    for _ in range(10):
        await limiter.check(limiter.send, "alice")
    with pytest.raises(RateLimited):
        await limiter.check(limiter.send, "alice")


async def test_per_minute_budget_refills_one_token_at_a_time(
    services: Services, clock: Clock
) -> None:
    limiter = services.limiter
    for _ in range(5):
        await limiter.check(limiter.register, "127.0.0.2")
    with pytest.raises(RateLimited) as refused:
        await limiter.check(limiter.register, "127.0.0.2")
    assert refused.value.retry_after_secs == pytest.approx(12)  # 5 per minute
    clock.advance(12)
    await limiter.check(limiter.register, "127.0.0.2")
    with pytest.raises(RateLimited):
        await limiter.check(limiter.register, "127.0.0.2")
