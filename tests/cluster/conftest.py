"""Two (or more) real server processes on one PostgreSQL database and one bus: a cluster."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from tests import backends
from tests.server import CLIENT_TLS, TEST_HOST, ServerProcess


@dataclass
class Cluster:
    env: dict[str, str]
    root: Path
    nodes: list[ServerProcess] = field(default_factory=list)

    def start_node(
        self, *, host: str = TEST_HOST, aim_port: int | None = None, **env: str
    ) -> ServerProcess:
        node = ServerProcess(
            data_dir=self.root / f"node{len(self.nodes)}",
            env={**self.env, **env},
            host=host,
            aim_port=aim_port,
        ).start()
        self.nodes.append(node)
        return node


@asynccontextmanager
async def clients(
    *nodes: ServerProcess, request_timeout: float = 30.0
) -> AsyncIterator[list[httpx.AsyncClient]]:
    """One HTTP client per node, in the order given."""
    async with AsyncExitStack() as stack:
        yield [
            await stack.enter_async_context(
                httpx.AsyncClient(base_url=n.url, timeout=request_timeout, verify=CLIENT_TLS)
            )
            for n in nodes
        ]


@pytest.fixture(params=["redis", "nats"])
def cluster_bus(request: pytest.FixtureRequest) -> str:
    return backends.require(str(request.param))


@pytest.fixture
def cluster_factory(cluster_bus: str, tmp_path: Path) -> Iterator[Callable[..., Cluster]]:
    """`cluster_factory(**env)` → a Cluster whose nodes share one throwaway database and bus
    namespace; every node is stopped and the database dropped after the test."""
    backends.require("postgres")
    made: list[tuple[Cluster, str]] = []

    def make(**env: str) -> Cluster:
        database_url = backends.create_postgres_database()
        cluster = Cluster(
            env={
                "AGENTPLAZA_DATABASE_URL": database_url,
                "AGENTPLAZA_BUS_URL": cluster_bus,
                "AGENTPLAZA_BUS_NAMESPACE": backends.unique_namespace(),
                **env,
            },
            root=tmp_path / f"cluster{len(made)}",
        )
        made.append((cluster, database_url))
        return cluster

    try:
        yield make
    finally:
        for cluster, database_url in made:
            for node in cluster.nodes:
                node.stop()
            backends.drop_postgres_database(database_url)
