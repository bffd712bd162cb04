"""Run synchronous code that needs an async driver, on the event loop, without threads.

`run_sync(fn, *args)` runs `fn` in a greenlet; when `fn` calls `wait_for(coroutine)`, the
greenlet hands the coroutine back to the task that started it, which awaits it on the loop
and resumes `fn` with the result (or the exception). SQLAlchemy's asyncio support bridges
its synchronous core to asyncpg the same way. The store's query functions stay synchronous
(SQLite runs them as they are); PostgreSQL runs them here against asyncpg.

The greenlets are reused, one job after another. A new greenlet's first Python frame gets
CPython 3.11 a fresh 16 KiB frame stack, mapped with `mmap` and unmapped when the greenlet
dies: one greenlet per call cost 12 µs, 8 of them in the kernel (`mmap`, `munmap` and a page
fault), against 3.3 µs reused (`bench/greenbridge_cost.py`; issue 17).
"""

from __future__ import annotations

import threading
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, Generic, TypeVar, cast

import greenlet

T = TypeVar("T")
IDLE_WORKERS_MAX = 64
"""Idle greenlets kept per thread; as many as the store's connections is enough."""

_Job = tuple[Callable[..., Any], tuple[Any, ...], dict[str, Any]]


class _Outcome(Generic[T]):
    """How a job ended: its result, or the exception it raised."""

    __slots__ = ("error", "value")

    def __init__(self, value: T | None, error: BaseException | None) -> None:
        self.value = value
        self.error = error


class _Worker(greenlet.greenlet):  # type: ignore[misc]
    """Runs jobs for run_sync; wait_for refuses to run outside one."""


def _serve(job: _Job) -> None:
    """A worker's life: run a job, hand its outcome to run_sync, wait for the next one."""
    while True:
        fn, args, kwargs = job
        try:
            outcome: _Outcome[Any] = _Outcome(fn(*args, **kwargs), None)
        except greenlet.GreenletExit:  # the worker is being discarded: let it end
            raise
        except BaseException as exc:  # the caller's to handle, in run_sync
            outcome = _Outcome(None, exc)
        job = greenlet.getcurrent().parent.switch(outcome)


class _Idle(threading.local):
    """Greenlets cannot be switched to across threads: each thread keeps its own."""

    def __init__(self) -> None:
        self.workers: list[_Worker] = []


_idle = _Idle()


def wait_for(awaitable: Coroutine[Any, Any, T] | Awaitable[T]) -> T:
    """From synchronous code running under run_sync: await `awaitable`, return its result."""
    current = greenlet.getcurrent()
    if not isinstance(current, _Worker):
        raise RuntimeError("wait_for() called outside run_sync(): nothing would await it")
    return cast(T, current.parent.switch(awaitable))


async def run_sync(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Run `fn(*args, **kwargs)` to completion, awaiting on its behalf whatever it passes to
    wait_for."""
    idle = _idle.workers
    worker = idle.pop() if idle else _Worker(_serve)
    worker.parent = greenlet.getcurrent()  # where wait_for and the outcome return to
    request = worker.switch((fn, args, kwargs))
    while not isinstance(request, _Outcome):
        if worker.dead:  # fn raised GreenletExit itself: no outcome will come
            raise RuntimeError(f"{fn!r} ended its greenlet without a result")
        try:
            value = await request
        except BaseException as exc:
            request = worker.throw(exc)
        else:
            request = worker.switch(value)
    if len(idle) < IDLE_WORKERS_MAX:
        idle.append(worker)
    if request.error is not None:
        raise request.error
    return cast(T, request.value)
