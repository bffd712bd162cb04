"""The migrations produce exactly the schema declared in store/schema.py, on every engine."""

from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine

from agentplaza.store.migrate import sqlalchemy_url, upgrade_to_head
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
