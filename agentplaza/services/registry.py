"""Services: every use case, built once per process by api/app.py::build_app."""

from __future__ import annotations

from dataclasses import dataclass

from agentplaza.services.accounts import Accounts
from agentplaza.services.container import Runtime
from agentplaza.services.messaging import Messaging
from agentplaza.services.ratelimits import RateLimiter


@dataclass(slots=True, kw_only=True)
class Services:
    """Every use case, built once per process by build_app()."""

    runtime: Runtime
    accounts: Accounts
    messaging: Messaging
    limiter: RateLimiter

    @classmethod
    def build(cls, runtime: Runtime) -> Services:
        return cls(
            runtime=runtime,
            accounts=Accounts(runtime),
            messaging=Messaging(runtime),
            limiter=RateLimiter(runtime),
        )
