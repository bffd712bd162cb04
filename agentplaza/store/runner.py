"""TxnRunner: how a Store mixin runs a `store/queries/*_txn` function.

`_write` runs it inside a write transaction (committed before it returns), `_read` on a
connection that sees committed data. Engines (sqlite.py, postgres.py) implement them; the
per-area mixins (social.py, groups.py…) only call them.
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
