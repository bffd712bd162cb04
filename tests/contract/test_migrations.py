"""The migrations produce exactly the schema declared in store/schema.py, on every engine."""

from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, text
from sqlalchemy.exc import IntegrityError

from agentplaza.store.migrate import MIGRATIONS_DIR, sqlalchemy_url, upgrade_to_head
from agentplaza.store.schema import metadata
from tests import backends


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'm.db'}"
        return
    url = backends.create_postgres_database()
    yield url
    backends.drop_postgres_database(url)


def test_migrations_match_declared_schema(database_url: str) -> None:
    upgrade_to_head(database_url)
    upgrade_to_head(database_url)  # idempotent
    engine = create_engine(sqlalchemy_url(database_url))
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), metadata)
    engine.dispose()
    assert diff == []


def _upgrade_to(url: str, revision: str, *, down: bool = False) -> None:
    engine = create_engine(sqlalchemy_url(url))
    with engine.begin() as connection:
        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS_DIR))
        config.attributes["connection"] = connection
        (command.downgrade if down else command.upgrade)(config, revision)
    engine.dispose()


INBOX_ROWS = [  # account_id, seq, message_num, acked_at: two accounts, interleaved messages
    ("7", 1, 10, None),
    ("8", 1, 10, 5),
    ("7", 2, 11, 6),
    ("8", 2, 12, None),
    ("7", 3, 12, None),
]


def _inbox(url: str) -> list[tuple[object, ...]]:
    engine = create_engine(sqlalchemy_url(url))
    with engine.begin() as conn:
        rows = conn.execute(
            text(
                "SELECT account_id, seq, message_num, acked_at, message_id, scene FROM inbox"
                " ORDER BY account_id, seq"
            )
        ).fetchall()
    engine.dispose()
    return [tuple(r) for r in rows]


def test_0016_rekeys_the_inbox_by_message_and_back_keeping_every_row(database_url: str) -> None:
    """0016 rebuilds SQLite's inbox clustered by message (on PostgreSQL: swaps the keys): every
    row survives, an account's (account_id, seq) stays unique, and the downgrade restores
    the old key with the rows."""
    _upgrade_to(database_url, "0015")
    engine = create_engine(sqlalchemy_url(database_url))
    with engine.begin() as conn:
        for account_id, seq, num, acked_at in INBOX_ROWS:
            conn.execute(
                text(
                    "INSERT INTO inbox (account_id, seq, message_num, message_id, scene,"
                    " sender_relation, trust_level, created_at, acked_at) VALUES"
                    " (:a, :s, :n, :m, 'dm', 'stranger', 'unverified', 1, :acked)"
                ),
                {"a": account_id, "s": seq, "n": num, "m": f"m_{num}", "acked": acked_at},
            )
    engine.dispose()
    before = _inbox(database_url)
    assert len(before) == len(INBOX_ROWS)
    upgrade_to_head(database_url)
    assert _inbox(database_url) == before
    engine = create_engine(sqlalchemy_url(database_url))
    with engine.begin() as conn, pytest.raises(IntegrityError):
        conn.execute(  # another message at an account's existing seq
            text(
                "INSERT INTO inbox (account_id, seq, message_num, message_id, scene,"
                " sender_relation, trust_level, created_at) VALUES"
                " ('7', 2, 13, 'm_13', 'dm', 'stranger', 'unverified', 1)"
            )
        )
    engine.dispose()
    _upgrade_to(database_url, "0015", down=True)
    assert _inbox(database_url) == before


def test_name_skeleton_backfill_survives_existing_look_alikes(database_url: str) -> None:
    """0008 on a database whose names already collide by skeleton: it does not fail; the
    oldest live holder keeps the skeleton, a younger look-alike gets none, deleted accounts
    none, and the unique index is in place for what comes next."""
    _upgrade_to(database_url, "0007")
    engine = create_engine(sqlalchemy_url(database_url))
    names = [
        ("10001", "alice", None),
        ("10002", "AIice", None),  # capital i: looks like the first
        ("10003", "\u0430\u0440\u0435", None),  # all-Cyrillic "аре"
        ("10004", "ape", None),  # looks like the one before
        ("10005", "bob", 5),  # deleted
        ("10006", "b0b", None),  # looks like a deleted name: free
    ]
    with engine.begin() as conn:
        for account_id, name, deleted in names:
            conn.execute(
                text(
                    "INSERT INTO accounts (id, kind, display_name, name_key, created_at,"
                    " updated_at, deleted_at) VALUES (:id, 'agent', :name, :key, 1, 1, :deleted)"
                ),
                {"id": account_id, "name": name, "key": f"k{account_id}", "deleted": deleted},
            )
    engine.dispose()
    upgrade_to_head(database_url)
    engine = create_engine(sqlalchemy_url(database_url))
    with engine.begin() as conn:
        found = conn.execute(text("SELECT id, name_skeleton FROM accounts")).fetchall()
        rows: dict[str, str | None] = {r[0]: r[1] for r in found}
        assert rows == {
            "10001": "alice",
            "10002": None,
            "10003": "ape",
            "10004": None,
            "10005": None,
            "10006": "bob",
        }
        with pytest.raises(IntegrityError):
            conn.execute(text("UPDATE accounts SET name_skeleton = 'alice' WHERE id = '10006'"))
    engine.dispose()
