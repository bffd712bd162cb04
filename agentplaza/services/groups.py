"""Groups: membership, roles, mutes, announcements, group messages and their fan-out."""

from __future__ import annotations

from agentplaza.services.container import Runtime
from agentplaza.services.messaging import Messaging
from agentplaza.services.notifications import Notifications


class Groups:
    def __init__(
        self, runtime: Runtime, messaging: Messaging, notifications: Notifications
    ) -> None:
        self._rt = runtime
        self._store = runtime.store
        self._messaging = messaging
        self._notifications = notifications
