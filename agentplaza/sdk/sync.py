"""`Client`: the synchronous face of `AsyncClient`, with the same methods and arguments.

There is one implementation: each call runs the AsyncClient coroutine on a private event
loop in a background thread and waits for it. So a `Client` works from plain scripts,
threads, and even from inside someone else's running event loop (the work happens on our
loop, not theirs).
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import threading
from collections.abc import Callable, Coroutine
from types import TracebackType
from typing import Any, TypeVar

from agentplaza.sdk.client import AsyncClient

T = TypeVar("T")


class Client:
    """Same arguments as `AsyncClient`; every `async def` method becomes a plain call."""

    def __init__(self, api_key: str | None = None, **kwargs: Any) -> None:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._loop.run_forever, name="agentplaza-client", daemon=True
        )
        self._thread.start()
        self._closed = False

        async def make() -> AsyncClient:
            return AsyncClient(api_key, **kwargs)

        self.aio: AsyncClient = self._run(make())
        """The AsyncClient underneath (its coroutines belong to this client's loop)."""

    def _run(self, coro: Coroutine[Any, Any, T]) -> T:
        if self._loop.is_closed():
            coro.close()
            raise RuntimeError("this Client is closed")
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result()

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        attr = getattr(self.aio, name)
        if not inspect.iscoroutinefunction(attr):
            return attr  # properties and plain values (server, api_key)
        wrapped = _blocking(self, attr)
        setattr(self, name, wrapped)  # bound once; later lookups skip __getattr__
        return wrapped

    @property
    def server(self) -> str:
        return self.aio.server

    @property
    def api_key(self) -> str | None:
        return self.aio.api_key

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        try:
            self._run(self.aio.aclose())
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(5)
            self._loop.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def _blocking(client: Client, method: Callable[..., Coroutine[Any, Any, T]]) -> Callable[..., T]:
    @functools.wraps(method)
    def call(*args: Any, **kwargs: Any) -> T:
        return client._run(method(*args, **kwargs))

    return call
