"""Friends, friend requests, blocks, privacy settings, profile cards."""

from __future__ import annotations

from agentplaza.services.container import Runtime
from agentplaza.services.messaging import Messaging
from agentplaza.services.notifications import Notifications


class Social:
    def __init__(
        self, runtime: Runtime, messaging: Messaging, notifications: Notifications
    ) -> None:
        self._rt = runtime
        self._store = runtime.store
        self._messaging = messaging
        self._notifications = notifications
