"""The external engines tests may use (PostgreSQL, Redis, NATS), found or skipped with a reason.

Each is taken from `AGENTPLAZA_TEST_<KIND>_URL` or, unset, from its default on this machine;
set the variable to an empty string to skip that engine. `.ci/run` starts the engines that
are installed but not running; on a laptop without them those tests skip and say why.
"""

from __future__ import annotations

import functools
import os
import socket
import uuid
from urllib.parse import urlsplit, urlunsplit

import pytest

DEFAULT_URLS = {
    "postgres": "postgresql://postgres@127.0.0.1:5432/postgres",
    "redis": "redis://127.0.0.1:6379/0",
    "nats": "nats://127.0.0.1:4222",
}
DEFAULT_PORTS = {"postgres": 5432, "redis": 6379, "nats": 4222}


def _env_name(kind: str) -> str:
    return f"AGENTPLAZA_TEST_{kind.upper()}_URL"


@functools.cache
def url(kind: str) -> str | None:
    """The engine's URL if something answers on its port, else None."""
    configured = os.environ.get(_env_name(kind), DEFAULT_URLS[kind])
    if not configured:
        return None
    parts = urlsplit(configured)
    try:
        with socket.create_connection(
            (parts.hostname or "127.0.0.1", parts.port or DEFAULT_PORTS[kind]), timeout=1
        ):
            return configured
    except OSError:
        return None


def require(kind: str) -> str:
    """The engine's URL, or skip the test with the reason."""
    found = url(kind)
    if found is None:
        configured = os.environ.get(_env_name(kind), DEFAULT_URLS[kind])
        pytest.skip(
            f"{kind} not reachable at {configured or '(disabled)'}:"
            f" start it or set {_env_name(kind)}"
        )
    return found


def cluster_bus_url() -> str:
    """The bus beside PostgreSQL in the suite: Redis, or what AGENTPLAZA_TEST_BUS names
    (`redis`, `nats`, or `memory` to test the store alone)."""
    kind = os.environ.get("AGENTPLAZA_TEST_BUS", "redis")
    return "memory://" if kind == "memory" else require(kind)


def create_postgres_database() -> str:
    """A new empty database on the test PostgreSQL; returns its URL. Drop it when done."""
    import psycopg

    admin = require("postgres")
    name = f"agentplaza_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    parts = urlsplit(admin)
    return urlunsplit(parts._replace(path="/" + name))


def drop_postgres_database(database_url: str) -> None:
    import psycopg

    name = urlsplit(database_url).path.lstrip("/")
    assert name.startswith("agentplaza_test_"), name
    with psycopg.connect(require("postgres"), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def terminate_postgres_connections(database_url: str) -> int:
    """Kill every session on that database (a server restart, as its clients see it)."""
    import psycopg

    name = urlsplit(database_url).path.lstrip("/")
    with psycopg.connect(require("postgres"), autocommit=True) as conn:
        rows = conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE datname = %s AND pid <> pg_backend_pid()",
            (name,),
        ).fetchall()
    return len(rows)


def unique_namespace() -> str:
    """A bus namespace no other test run uses (account ids repeat across databases)."""
    return f"t{uuid.uuid4().hex[:10]}"
