"""TxnRunner: how a Store mixin runs a `store/queries/*_txn` function.

`_write` runs it inside a write transaction (committed before it returns), `_read` on a
connection that sees committed data; `_write_bulk` is `_write` for large writes. Engines
(sqlite.py, postgres.py) implement them; the per-area mixins (social.py, groups.py…) only
call them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")


class TxnRunner:
    async def _write(self, fn: Callable[..., T], *args: Any) -> T:
        raise NotImplementedError

    async def _read(self, fn: Callable[..., T], *args: Any) -> T:
        raise NotImplementedError

    async def _write_bulk(self, fn: Callable[..., T], *args: Any) -> T:
        """`_write` for a large write (a group's fan-out): an engine may run it where it
        blocks nothing else (SQLite: its writer thread instead of the event loop's)."""
        return await self._write(fn, *args)
