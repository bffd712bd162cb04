"""Alembic migrations, run on SQLite and PostgreSQL alike (see store/migrate.py)."""
