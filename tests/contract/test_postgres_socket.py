"""A PostgreSQL on the node's machine reached through its Unix socket (docs/settings.md): the
migrations (psycopg) and the queries (asyncpg) both take the `?host=<directory>` URL."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

import pytest

from agentplaza.domain.permissions import check_direct_message
from agentplaza.store import open_store
from agentplaza.store.postgres import PostgresStore
from tests import backends
from tests.contract.storedata import dm, new_agent

SOCKET_DIR = Path("/var/run/postgresql")


async def test_a_database_url_naming_the_socket_directory_stores_and_reads() -> None:
    backends.require("postgres")
    if not (SOCKET_DIR / ".s.PGSQL.5432").exists():
        pytest.skip(f"no PostgreSQL socket in {SOCKET_DIR} on this machine")
    database_url = backends.create_postgres_database()
    parts = urlsplit(database_url)
    via_socket = f"postgresql://{parts.username}@{parts.path}?host={SOCKET_DIR}"
    try:
        store = open_store(via_socket, pool_size=1)
        await store.start()
        try:
            a, b = await new_agent(store, "sa"), await new_agent(store, "sb")
            sent = await store.append_direct_message(
                dm(a, b, "through the socket"), decide=check_direct_message, idempotency_key=None
            )
            page = await store.read_inbox(b, after_seq=0, limit=10, unacked_only=False)
            assert isinstance(store, PostgresStore)
            (conn,) = store._idle  # the pool's one connection, between jobs
            client_address = await conn.raw.fetchval("SELECT inet_client_addr()")
        finally:
            await store.close()
    finally:
        backends.drop_postgres_database(database_url)
    assert [i.seq for i in sent.items] == [1]
    assert [i.message.body for i in page.items] == ["through the socket"]
    assert client_address is None  # PostgreSQL's answer for a Unix-socket session, not TCP
