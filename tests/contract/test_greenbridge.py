"""greenbridge: synchronous store code awaiting on the loop, in greenlets that are reused."""

from __future__ import annotations

import asyncio

import greenlet
import pytest

from agentplaza.store.greenbridge import run_sync, wait_for


async def _echo(value: object, delay: float = 0.0) -> object:
    await asyncio.sleep(delay)
    return value


def _two_waits(a: int, *, b: int) -> tuple[int, greenlet.greenlet]:
    first = wait_for(_echo(a))
    second = wait_for(_echo(b))
    return first + second, greenlet.getcurrent()  # type: ignore[operator]


async def test_results_and_keyword_arguments_come_back() -> None:
    total, _ = await run_sync(_two_waits, 2, b=3)
    assert total == 5


async def test_one_call_after_another_reuses_its_greenlet() -> None:
    _, first = await run_sync(_two_waits, 1, b=1)
    _, second = await run_sync(_two_waits, 1, b=1)
    assert first is second
    assert not first.dead


async def test_concurrent_calls_run_in_their_own_greenlets() -> None:
    def slow(delay: float) -> greenlet.greenlet:
        wait_for(_echo(None, delay))
        return greenlet.getcurrent()

    workers = await asyncio.gather(*(run_sync(slow, 0.01 * n) for n in range(4)))
    assert len({id(w) for w in workers}) == 4


async def test_an_exception_from_the_function_reaches_the_caller_and_the_worker_lives_on() -> None:
    def fails() -> None:
        wait_for(_echo(None))
        raise KeyError("boom")

    with pytest.raises(KeyError, match="boom"):
        await run_sync(fails)
    total, _ = await run_sync(_two_waits, 4, b=4)
    assert total == 8


async def test_an_exception_from_the_awaitable_is_raised_where_wait_for_was_called() -> None:
    async def broken() -> None:
        raise ValueError("from the loop")

    def catches() -> str:
        try:
            wait_for(broken())
        except ValueError as exc:
            return f"caught {exc}"
        return "not raised"

    assert await run_sync(catches) == "caught from the loop"


async def test_cancelling_the_caller_cancels_the_wait_inside_the_function() -> None:
    seen: list[str] = []

    def waits_long() -> None:
        try:
            wait_for(asyncio.sleep(30))
        except asyncio.CancelledError:
            seen.append("cancelled inside")
            raise

    task = asyncio.create_task(run_sync(waits_long))
    await asyncio.sleep(0.01)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert seen == ["cancelled inside"]
    total, _ = await run_sync(_two_waits, 1, b=2)  # the pool still works
    assert total == 3


async def test_a_function_that_ends_its_greenlet_is_an_error_not_a_hang() -> None:
    def exits() -> None:
        wait_for(_echo(None))
        raise greenlet.GreenletExit

    with pytest.raises(RuntimeError, match="without a result"):
        await run_sync(exits)


def test_wait_for_outside_run_sync_is_refused() -> None:
    coroutine = _echo(1)
    with pytest.raises(RuntimeError, match="outside run_sync"):
        wait_for(coroutine)
    coroutine.close()
