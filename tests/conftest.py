"""Shared fixtures: a real server process, HTTP clients, registered agents."""

from __future__ import annotations

import itertools
import os
import uuid
from collections.abc import AsyncIterator, Callable, Generator, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from agentplaza.store import open_store
from agentplaza.store.base import Store
from tests import backends
from tests.server import CLIENT_TLS, STARTED, ServerProcess

_names = itertools.count()


@dataclass(frozen=True)
class TestAgent:
    id: str
    api_key: str
    display_name: str
    recovery_secret: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.api_key}"}


@pytest.fixture(scope="session", params=["sqlite", "postgres"])
def backend(request: pytest.FixtureRequest) -> str:
    """Every test that starts a server runs on both: SQLite + in-process bus (the embedded
    default) and PostgreSQL + Redis (a cluster's backends); the second skips, with the reason,
    where those engines are not running."""
    if request.param == "postgres":
        backends.require("postgres")
        backends.cluster_bus_url()
    return str(request.param)


@contextmanager
def backend_env(backend: str) -> Iterator[dict[str, str]]:
    """Server settings for `backend`: for PostgreSQL a throwaway database and bus namespace."""
    if backend == "sqlite":
        yield {}
        return
    database_url = backends.create_postgres_database()
    try:
        yield {
            "AGENTPLAZA_DATABASE_URL": database_url,
            "AGENTPLAZA_BUS_URL": backends.cluster_bus_url(),
            "AGENTPLAZA_BUS_NAMESPACE": backends.unique_namespace(),
        }
    finally:
        backends.drop_postgres_database(database_url)


@contextmanager
def own_server(
    backend: str,
    tmp_path_factory: pytest.TempPathFactory,
    name: str,
    env: dict[str, str] | None = None,
    **server: Any,
) -> Iterator[ServerProcess]:
    """A server of its own on `backend`, for a session- or module-scoped fixture (the pattern
    for a module whose settings differ from the shared `server`'s):

        @pytest.fixture(scope="module")
        def my_server(backend, tmp_path_factory):
            with own_server(backend, tmp_path_factory, "mine", {"AGENTPLAZA_X": "1"}) as s:
                yield s

    `server`: more ServerProcess fields (`host`, `aim_port`)."""
    with backend_env(backend) as backend_settings:
        proc = ServerProcess(
            data_dir=tmp_path_factory.mktemp(name),
            env={**backend_settings, **(env or {})},
            **server,
        ).start()
        try:
            yield proc
        finally:
            proc.stop()


NO_RATE_LIMITS = {"AGENTPLAZA_RATE_LIMITS_ENABLED": "0"}


@pytest.fixture(scope="session")
def server(backend: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """One server per backend for the session, rate limits off (tests that need limits start
    their own)."""
    with own_server(backend, tmp_path_factory, "server", NO_RATE_LIMITS) as proc:
        yield proc


@pytest.fixture
def server_factory(backend: str, tmp_path: Path) -> Iterator[Callable[..., ServerProcess]]:
    """Start extra servers with their own settings; all are stopped after the test.

    On PostgreSQL every server of one test shares one database and bus namespace, like the
    nodes of a cluster or a restart on the same data dir.
    """
    started: list[ServerProcess] = []
    with ExitStack() as stack:
        shared: dict[str, str] | None = None

        def start(
            env: dict[str, str] | None = None, data_dir: Path | None = None, **server: Any
        ) -> ServerProcess:
            """`server`: more ServerProcess fields (`host`, `aim_port`)."""
            nonlocal shared
            if shared is None:
                shared = stack.enter_context(backend_env(backend))
            proc = ServerProcess(
                data_dir=data_dir or tmp_path / f"srv{len(started)}",
                env={**shared, **(env or {})},
                **server,
            )
            started.append(proc)
            return proc.start()

        try:
            yield start
        finally:
            for proc in started:
                proc.stop()


@pytest.fixture
async def client(server: ServerProcess) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=server.url, timeout=30, verify=CLIENT_TLS) as c:
        yield c


def unique_name(prefix: str = "agent") -> str:
    return f"{prefix}-{os.getpid()}-{next(_names)}-{uuid.uuid4().hex[:6]}"


async def register(client: httpx.AsyncClient, name: str | None = None, bio: str = "") -> TestAgent:
    response = await client.post(
        "/v1/agents/register", json={"display_name": name or unique_name(), "bio": bio}
    )
    assert response.status_code == 201, response.text
    data = response.json()
    return TestAgent(data["id"], data["api_key"], data["display_name"], data["recovery_secret"])


@pytest.fixture
async def alice(client: httpx.AsyncClient) -> TestAgent:
    return await register(client, unique_name("alice"))


@pytest.fixture
async def bob(client: httpx.AsyncClient) -> TestAgent:
    return await register(client, unique_name("bob"))


@pytest.fixture(params=["sqlite", "postgres"])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Store]:
    """A started Store straight on each engine (contract tests, and tests that must write
    rows no endpoint writes); PostgreSQL gets a throwaway database."""
    if request.param == "sqlite":
        impl = open_store(f"sqlite:///{tmp_path / 'store.db'}")
        await impl.start()
        yield impl
        await impl.close()
        return
    database_url = backends.create_postgres_database()
    try:
        impl = open_store(database_url, pool_size=4)
        await impl.start()
        yield impl
        await impl.close()
    finally:
        backends.drop_postgres_database(database_url)


# Modules that start a server on the agentim SDK's fixed AIM port (tests/aimlock.py): under
# pytest-xdist they share one worker, so none waits for another worker's port.
_AIM_MODULES = ("tests/sdk/", "tests/realtime/test_aim.py", "tests/cluster/test_aim_cluster.py")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Group tests for `--dist loadgroup` (scripts/test): the modules that need port 8082 on
    one worker; a module with fixtures of its own scope (its own server) on one worker, so
    they are set up once; every other test goes to whichever worker is free."""
    root = Path(str(config.rootpath))
    module_scoped: dict[Path, bool] = {}
    for item in items:
        module = item.path.relative_to(root).as_posix()
        if module.startswith(_AIM_MODULES):
            item.add_marker(pytest.mark.xdist_group("aim-8082"))
            continue
        if item.path not in module_scoped:
            module_scoped[item.path] = 'scope="module"' in item.path.read_text()
        if module_scoped[item.path]:
            item.add_marker(pytest.mark.xdist_group(module))


# What a failed test's servers logged while it ran, in its report: a flake seen only in CI
# (which keeps the report, not the servers' log files) can then be read, not guessed at.
_LOG_LINES = 150
# At a test's start: how many servers had been started, and the log size of each running one.
_log_marks = pytest.StashKey[tuple[int, dict[int, int]]]()


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    running = {i: s.log_size() for i, s in enumerate(STARTED) if s.running()}
    item.stash[_log_marks] = (len(STARTED), running)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    if report.failed and call.when == "call":
        before, running = item.stash.get(_log_marks, (0, {}))
        for i, server in enumerate(STARTED):
            if i < before and i not in running:
                continue  # stopped before this test began
            logged = server.log_since(running.get(i, 0), max_lines=_LOG_LINES)
            if logged.strip():
                report.sections.append((f"server {server.url} logged during the test", logged))
    return report
