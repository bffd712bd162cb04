"""The only place that knows SQL. `open_store(url)` picks the implementation by URL scheme."""

from __future__ import annotations

from agentplaza.store.base import Store

POSTGRES_SCHEMES = ("postgresql://", "postgres://")


def open_store(
    url: str,
    *,
    sqlite_synchronous: str = "NORMAL",
    group_commit_max: int = 512,
    pool_size: int = 8,
) -> Store:
    """A not-yet-started Store for `url`: `sqlite:///path` or `postgresql://user@host/db`."""
    if url.startswith("sqlite:///"):
        from agentplaza.store.sqlite import SqliteStore

        return SqliteStore(
            url.removeprefix("sqlite:///"),
            synchronous=sqlite_synchronous,
            group_commit_max=group_commit_max,
        )
    if url.startswith(POSTGRES_SCHEMES):
        try:
            from agentplaza.store.postgres import PostgresStore
        except ImportError as exc:
            raise RuntimeError(
                f'AGENTPLAZA_DATABASE_URL=postgresql://… needs: pip install "agentplaza[postgres]"'
                f" ({exc})"
            ) from exc
        return PostgresStore(url, pool_size=pool_size)
    scheme = url.split("://", 1)[0]
    raise ValueError(
        f"unsupported database URL scheme {scheme!r}: use sqlite:///<path> or postgresql://..."
    )
