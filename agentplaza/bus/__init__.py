"""The only place that knows Redis/NATS. `open_bus(url)` picks the implementation by scheme."""

from __future__ import annotations

from agentplaza.bus.base import Bus

SUPPORTED = "memory://, redis://, rediss://, nats://, tls:// (NATS over TLS)"


def open_bus(url: str, *, namespace: str = "agentplaza") -> Bus:
    """A not-yet-started Bus for `url`; `namespace` keeps deployments on one broker apart.

    The Redis and NATS drivers are optional dependencies, imported only when asked for:
    RuntimeError with the install command if the one asked for is missing.
    """
    if url in {"memory://", "memory", ""}:
        from agentplaza.bus.memory import MemoryBus

        return MemoryBus(namespace=namespace)
    scheme = url.split("://", 1)[0].lower() if "://" in url else url
    if scheme in {"redis", "rediss"}:
        try:
            from agentplaza.bus.redis import RedisBus
        except ModuleNotFoundError as exc:
            raise _missing_driver(scheme, "redis", exc) from exc
        return RedisBus(url, namespace=namespace)
    if scheme in {"nats", "tls"}:
        try:
            from agentplaza.bus.nats import NatsBus
        except ModuleNotFoundError as exc:
            raise _missing_driver(scheme, "nats", exc) from exc
        return NatsBus(url, namespace=namespace)
    raise ValueError(f"unsupported bus URL scheme {scheme!r}: use one of {SUPPORTED}")


def _missing_driver(scheme: str, extra: str, exc: ModuleNotFoundError) -> RuntimeError:
    if exc.name is not None and exc.name.startswith("agentplaza"):
        raise exc  # a bug of ours, not a missing driver: keep the original error
    return RuntimeError(
        f"AGENTPLAZA_BUS_URL={scheme}://… needs the {extra} driver ({exc.name} is missing):"
        f' pip install "agentplaza[{extra}]"'
    )
