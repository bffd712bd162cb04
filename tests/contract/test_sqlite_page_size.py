"""A new SQLite database file gets the store's page size (store/sqlite.py PAGE_SIZE); an
existing file keeps its own and works as before."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from agentplaza.store.sqlite import PAGE_SIZE, SqliteStore
from tests.contract.storedata import new_agent


def page_size(path: Path) -> int:
    with sqlite3.connect(path) as conn:
        return int(conn.execute("PRAGMA page_size").fetchone()[0])


async def roundtrip(path: Path, name: str = "paged") -> None:
    """Start a store on `path`, write an account through it, read it back, close."""
    store = SqliteStore(str(path))
    await store.start()
    try:
        account_id = await new_agent(store, name)
        account = await store.get_account(account_id)
        assert account is not None and account.display_name == name
    finally:
        await store.close()


async def test_a_new_file_gets_the_page_size(tmp_path: Path) -> None:
    assert PAGE_SIZE != 4096  # SQLite's default: the test below would prove nothing
    path = tmp_path / "new.db"
    await roundtrip(path)
    assert page_size(path) == PAGE_SIZE
    await roundtrip(path, "restarted")  # and a restart keeps it
    assert page_size(path) == PAGE_SIZE


async def test_an_empty_file_is_a_new_one(tmp_path: Path) -> None:
    path = tmp_path / "touched.db"
    path.touch()
    await roundtrip(path)
    assert page_size(path) == PAGE_SIZE


async def test_an_existing_file_keeps_its_page_size(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    with sqlite3.connect(path) as conn:  # as a server before PAGE_SIZE created it
        conn.execute("PRAGMA page_size=4096")
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("CREATE TABLE kept (x INTEGER)")
        conn.execute("INSERT INTO kept VALUES (7)")
    await roundtrip(path)
    assert page_size(path) == 4096
    with sqlite3.connect(path) as conn:
        assert conn.execute("SELECT x FROM kept").fetchall() == [(7,)]
