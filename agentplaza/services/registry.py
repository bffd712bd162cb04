"""Services: every use case, built once per process by api/app.py::build_app."""

from __future__ import annotations

from dataclasses import dataclass

from agentplaza.services.accounts import Accounts
from agentplaza.services.container import Runtime
from agentplaza.services.files import Files
from agentplaza.services.groups import Groups
from agentplaza.services.messaging import Messaging
from agentplaza.services.moments import Moments
from agentplaza.services.notifications import Notifications
from agentplaza.services.ratelimits import RateLimiter
from agentplaza.services.rooms import Rooms
from agentplaza.services.signatures import Signatures
from agentplaza.services.social import Social
from agentplaza.services.webhooks import Webhooks


@dataclass(slots=True, kw_only=True)
class Services:
    """Every use case, built once per process by build_app()."""

    runtime: Runtime
    accounts: Accounts
    messaging: Messaging
    notifications: Notifications
    social: Social
    groups: Groups
    moments: Moments
    files: Files
    webhooks: Webhooks
    rooms: Rooms
    signatures: Signatures
    limiter: RateLimiter

    @classmethod
    def build(cls, runtime: Runtime) -> Services:
        messaging = Messaging(runtime)
        notifications = Notifications(runtime, messaging)
        accounts = Accounts(runtime)
        files = Files(runtime, accounts=accounts)
        messaging.attachments = files  # image messages may share (and grant) our files
        webhooks = Webhooks(runtime)
        messaging.committed = webhooks.committed  # wake the webhook worker at once
        return cls(
            runtime=runtime,
            accounts=accounts,
            messaging=messaging,
            notifications=notifications,
            social=Social(runtime, notifications),
            groups=Groups(runtime, messaging, notifications),
            moments=Moments(runtime, notifications),
            files=files,
            webhooks=webhooks,
            rooms=Rooms(runtime),
            signatures=Signatures(runtime),
            limiter=RateLimiter(runtime),
        )
