"""Run the Alembic migrations on a database URL (used at start-up and by `agentplaza migrate`)."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import create_engine, text

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
# Nodes of a cluster start together and each migrates: one at a time (any fixed 64-bit key).
POSTGRES_MIGRATION_LOCK = 0x61676E7470_6C617A


def sqlalchemy_url(url: str) -> str:
    """Our URL (sqlite:///path, postgresql://...) in the form SQLAlchemy's drivers expect."""
    if url.startswith(("postgresql://", "postgres://")):
        return "postgresql+psycopg://" + url.split("://", 1)[1]
    return url


def upgrade_to_head(url: str) -> None:
    """Bring the database at `url` to the newest schema. Safe to run on every start."""
    engine = create_engine(sqlalchemy_url(url))
    try:
        with engine.begin() as connection:
            if connection.dialect.name == "postgresql":  # held until this transaction ends
                connection.execute(
                    text("SELECT pg_advisory_xact_lock(:key)"), {"key": POSTGRES_MIGRATION_LOCK}
                )
            config = Config()
            config.set_main_option("script_location", str(MIGRATIONS_DIR))
            config.attributes["connection"] = connection
            command.upgrade(config, "head")
    finally:
        engine.dispose()
