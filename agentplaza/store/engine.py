"""What the query functions may call on a transaction, and how a `*_txn` function becomes a
Store method; engines (sqlite.py, postgres.py) differ only behind this.

SQL in store/queries/ is written once with `?` placeholders; an engine whose driver uses
another parameter style translates it (PostgreSQL: `%s`). Where one engine can do much better
with SQL the other lacks, a query asks the transaction's `caps` for the capability, never for
the engine's name.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass
from typing import Any, Concatenate, Generic, ParamSpec, Protocol, Self, TypeVar, overload

P = ParamSpec("P")
R = TypeVar("R")
T = TypeVar("T")


class Cursor(Protocol):
    @property
    def rowcount(self) -> int: ...

    def fetchone(self) -> Any: ...

    def fetchall(self) -> list[Any]: ...


@dataclass(frozen=True, slots=True)
class Capabilities:
    """What an engine's SQL can do beyond the portable subset the queries are written in."""

    row_locks: bool
    """Concurrent writers: `SELECT … FOR UPDATE [OF t]` is needed (and allowed) to serialize
    a check and its write. False on SQLite, where one writer at a time already does."""
    skip_locked: bool
    """`FOR UPDATE … SKIP LOCKED`: several nodes claim disjoint rows of one queue."""
    array_params: bool
    """A list may be bound to one `?::text[]` parameter (`= ANY(?)`, `unnest(?, ?)`), so one
    prepared statement serves any number of rows."""
    lateral: bool
    """`CROSS JOIN LATERAL (subquery)`: a top-N per outer row."""
    greatest: str
    """The two-argument maximum: GREATEST (MAX is an aggregate there) or SQLite's MAX."""
    json_group: bool
    """SQLite's `json_group_array`/`json_group_object`: many rows read back as one text. Worth
    it where a query returns dozens of rows, because Python's sqlite3 hands the GIL over and
    back for every cell it reads (bench/README.md, issue 17's twelfth round)."""

    def lock_suffix(self, of: str) -> str:
        """` FOR UPDATE OF <of>` where rows need locking, else nothing."""
        return f" FOR UPDATE OF {of}" if self.row_locks else ""


SQLITE = Capabilities(
    row_locks=False,
    skip_locked=False,
    array_params=False,
    lateral=False,
    greatest="MAX",
    json_group=True,
)
POSTGRESQL = Capabilities(
    row_locks=True,
    skip_locked=True,
    array_params=True,
    lateral=True,
    greatest="GREATEST",
    json_group=False,
)


class Txn(Protocol):
    """An open transaction. Rows are tuples in the column order of the SELECT."""

    @property
    def caps(self) -> Capabilities: ...

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Cursor: ...


class Engine:
    """How a `*_txn` function runs: `_write` inside a write transaction (committed before it
    returns), `_read` on a connection that sees committed data. Implemented by
    sqlite.py and postgres.py."""

    async def _write(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        raise NotImplementedError

    async def _read(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        raise NotImplementedError


class TxnMethod(Generic[P, R]):
    """A Store method made of one `*_txn` function: the function's signature (minus `txn`)
    and docstring are the method's, `runner` names the Engine method that runs it.

    Bound once per store instance (cached in its `__dict__`), so a call costs one
    `functools.partial` call more than calling the runner directly.
    """

    def __init__(self, fn: Callable[Concatenate[Any, P], R], runner: str) -> None:
        self.fn = fn
        self.runner = runner
        self.name = fn.__name__
        self.__doc__ = fn.__doc__

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    @overload
    def __get__(self, obj: None, owner: type | None = None) -> Self: ...

    @overload
    def __get__(
        self, obj: object, owner: type | None = None
    ) -> Callable[P, Coroutine[Any, Any, R]]: ...

    def __get__(self, obj: object | None, owner: type | None = None) -> Any:
        if obj is None:
            return self
        bound = functools.partial(getattr(obj, self.runner), self.fn)
        obj.__dict__[self.name] = bound
        return bound


def write(fn: Callable[Concatenate[Txn, P], R]) -> TxnMethod[P, R]:
    """A Store method running `fn` in a write transaction: its effect is committed (durable)
    when the coroutine returns; an exception means nothing of it was written."""
    return TxnMethod(fn, "_write")


def read(fn: Callable[Concatenate[Txn, P], R]) -> TxnMethod[P, R]:
    """A Store method running `fn` on committed data; it writes nothing."""
    return TxnMethod(fn, "_read")
