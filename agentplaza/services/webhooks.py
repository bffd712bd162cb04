"""Webhooks: registration, the durable outbox, and what the delivery worker needs."""

from __future__ import annotations

from agentplaza.services.container import Runtime


class Webhooks:
    def __init__(self, runtime: Runtime) -> None:
        self._rt = runtime
        self._store = runtime.store
