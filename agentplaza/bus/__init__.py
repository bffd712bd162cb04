"""The only place that knows Redis/NATS. `open_bus(url)` picks the implementation by scheme."""

from __future__ import annotations

from agentplaza.bus.base import Bus


def open_bus(url: str) -> Bus:
    """A not-yet-started Bus for `url` (`memory://`; `redis://` and `nats://` come next)."""
    if url in {"memory://", "memory", ""}:
        from agentplaza.bus.memory import MemoryBus

        return MemoryBus()
    scheme = url.split("://", 1)[0]
    raise ValueError(f"unsupported bus URL scheme {scheme!r}: use memory://")
