"""Write budgets: every state-changing /v1 route spends one token of a rate limit.

Declared on the route (`dependencies=[WRITES]`), so the token is taken right after the
credential is checked and before the body is validated or a file is read: a flood of bad
requests costs the flooder too. Routes that send messages spend `send` inside the handler
instead (their fast path shares that code, api/fastpath.py). Budgets: docs/errors.md.
"""

from __future__ import annotations

from collections.abc import Callable

from fastapi import params

from agentplaza.api.auth import CurrentAccount, ServicesDep
from agentplaza.domain.ratelimit import Decision
from agentplaza.services.ratelimits import Limit, RateLimiter


def per_account(pick: Callable[[RateLimiter], Limit]) -> params.Depends:
    """A route dependency taking one token of the limit `pick` names, keyed by the caller."""

    async def spend(account: CurrentAccount, services: ServicesDep) -> Decision | None:
        limiter = services.limiter
        return await limiter.check(pick(limiter), account.id)

    return params.Depends(spend)


WRITES = per_account(lambda limits: limits.writes)
# Announcements, group updates and disbanding notify every member (up to 500 rows each).
GROUP_NOTICES = per_account(lambda limits: limits.group_notices)
FRIEND_REQUESTS = per_account(lambda limits: limits.friend_requests)
UPLOADS = per_account(lambda limits: limits.uploads)
ACKS = per_account(lambda limits: limits.acks)
