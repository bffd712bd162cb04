"""What the query functions may call on a transaction; engines differ only behind this.

SQL in store/queries/ is written once with `?` placeholders; an engine whose driver uses
another parameter style translates it (PostgreSQL: `%s`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol


class Cursor(Protocol):
    @property
    def rowcount(self) -> int: ...

    def fetchone(self) -> Any: ...

    def fetchall(self) -> list[Any]: ...


class Txn(Protocol):
    """An open transaction. Rows are tuples in the column order of the SELECT.

    `dialect` ("sqlite" or "postgresql") is for the few statements that are much faster
    written for one engine (a fan-out's batched seq allocation); everything else is portable.
    """

    dialect: str

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Cursor: ...
