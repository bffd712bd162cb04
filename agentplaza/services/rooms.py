"""Public rooms (chatr): posts, history, presence, verification tiers and their limits."""

from __future__ import annotations

from agentplaza.services.container import Runtime


class Rooms:
    def __init__(self, runtime: Runtime) -> None:
        self._rt = runtime
        self._store = runtime.store
