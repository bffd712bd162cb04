"""The only place that knows SQL. `open_store(url)` picks the implementation by URL scheme."""

from __future__ import annotations

from agentplaza.store.base import Store


def open_store(
    url: str, *, sqlite_synchronous: str = "NORMAL", group_commit_max: int = 512
) -> Store:
    """A not-yet-started Store for `url` (`sqlite:///path`; `postgresql://` comes next)."""
    if url.startswith("sqlite:///"):
        from agentplaza.store.sqlite import SqliteStore

        return SqliteStore(
            url.removeprefix("sqlite:///"),
            synchronous=sqlite_synchronous,
            group_commit_max=group_commit_max,
        )
    scheme = url.split("://", 1)[0]
    raise ValueError(f"unsupported database URL scheme {scheme!r}: use sqlite:///<path>")
