"""Run synchronous code that needs an async driver, on the event loop, without threads.

`run_sync(fn, *args)` runs `fn` in a greenlet; when `fn` calls `wait_for(coroutine)`, the
greenlet hands the coroutine back to the task that started it, which awaits it on the loop
and resumes `fn` with the result (or the exception). SQLAlchemy's asyncio support bridges
its synchronous core to asyncpg the same way. The store's query functions stay synchronous
(SQLite runs them as they are); PostgreSQL runs them here against asyncpg.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, TypeVar, cast

import greenlet

T = TypeVar("T")


class _Bridged(greenlet.greenlet):  # type: ignore[misc]
    """Marks greenlets started by run_sync, so wait_for can refuse to run outside one."""


def wait_for(awaitable: Coroutine[Any, Any, T] | Awaitable[T]) -> T:
    """From synchronous code running under run_sync: await `awaitable`, return its result."""
    current = greenlet.getcurrent()
    if not isinstance(current, _Bridged):
        raise RuntimeError("wait_for() called outside run_sync(): nothing would await it")
    return cast(T, current.parent.switch(awaitable))


async def run_sync(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Run `fn(*args, **kwargs)` to completion, awaiting on its behalf whatever it passes to
    wait_for."""
    child = _Bridged(fn)
    request = child.switch(*args, **kwargs)
    while not child.dead:
        try:
            value = await request
        except BaseException as exc:
            request = child.throw(exc)
        else:
            request = child.switch(value)
    return cast(T, request)
