"""The in-process tier: the services built as the composition root builds them, on SQLite and
the in-process bus, with a clock the test moves. Time-based behaviour (mutes expiring, budgets
refilling, retention, session expiry) is tested here by moving the clock, not by sleeping;
what needs real sockets stays in the server-subprocess tests."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from agentplaza.bus import open_bus
from agentplaza.cluster.memory import MemoryClusterState
from agentplaza.domain.accounts import Account
from agentplaza.services.registry import Services, build_services
from agentplaza.services.runtime import Runtime
from agentplaza.settings import Settings
from agentplaza.store import open_store
from agentplaza.store.blobs import open_blob_store

START_US = 1_780_000_000_000_000  # 2026-05-28, a fixed wall-clock start


@dataclass(slots=True)
class Clock:
    """Wall-clock and monotonic time that only move when the test says so."""

    wall_us: int = START_US
    mono: float = 1_000.0

    def clock_us(self) -> int:
        return self.wall_us

    def monotonic(self) -> float:
        return self.mono

    def advance(self, secs: float) -> None:
        self.wall_us += int(secs * 1_000_000)
        self.mono += secs


@asynccontextmanager
async def running_services(settings: Settings, clock: Clock) -> AsyncIterator[Services]:
    """The one place the tier builds services: keep it in step with api/app.py::build_app.

    The only departures: the clock is the test's, and cluster state is always in memory
    (it reads the same monotonic clock, so rate-limit buckets refill when the test says)."""
    store = open_store(
        settings.effective_database_url,
        sqlite_synchronous=settings.sqlite_synchronous,
        group_commit_max=settings.group_commit_max,
        pool_size=settings.database_pool_size,
    )
    bus = open_bus(settings.bus_url, namespace=settings.bus_namespace)
    cluster = MemoryClusterState(monotonic=clock.monotonic)
    runtime = Runtime(
        store=store,
        bus=bus,
        cluster=cluster,
        settings=settings,
        clock_us=clock.clock_us,
        monotonic=clock.monotonic,
    )
    services = build_services(
        runtime,
        blobs=open_blob_store(settings.data_dir),
        webhook_due=asyncio.Event(),
        hosted_due=asyncio.Event(),
    )
    await store.start()
    await bus.start()
    await cluster.start()
    try:
        yield services
    finally:
        await cluster.close()
        await bus.close()
        await store.close()


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """Embedded defaults in a fresh data dir; rate limits on, as in production. Tests that
    need other settings override this fixture."""
    return Settings(data_dir=str(tmp_path))


@pytest.fixture
async def services(settings: Settings, clock: Clock) -> AsyncIterator[Services]:
    async with running_services(settings, clock) as built:
        yield built


async def agent(services: Services, name: str = "agent") -> Account:
    """A registered agent account."""
    created = await services.accounts.register_agent(display_name=name, bio="")
    return created.account
