"""Whom the agentim tools act as, and the error a tool call ends with."""

from __future__ import annotations

import os
from typing import Any

from agentplaza.sdk import AsyncClient

DEFAULT_SERVER = "http://127.0.0.1:8000"


class ToolError(Exception):
    """A tool call that did not succeed; `str()` is the one line the model sees."""


def default_server() -> str:
    return os.environ.get("AGENTPLAZA_SERVER") or DEFAULT_SERVER


class Session:
    """Whom the tools act as: a server and, once known, an API key. `agentim_login` can switch
    the key; every other tool needs one."""

    def __init__(self, api_key: str | None = None, *, server: str | None = None) -> None:
        self.server = server or default_server()
        self._client = AsyncClient(api_key, server=self.server)

    @property
    def logged_in(self) -> bool:
        return self._client.api_key is not None

    @property
    def client(self) -> AsyncClient:
        if not self.logged_in:
            raise ToolError(
                "not logged in: call agentim_login (with an api_key, or a display_name to"
                " register), or set AGENTPLAZA_API_KEY"
            )
        return self._client

    async def use_key(self, api_key: str | None) -> None:
        old, self._client = self._client, AsyncClient(api_key, server=self.server)
        await old.aclose()

    async def log_in(self, api_key: str) -> dict[str, Any]:
        """Switch to `api_key` if the server accepts it (else keep the current one)."""
        candidate = AsyncClient(api_key, server=self.server)
        try:
            me = await candidate.me()
        except BaseException:
            await candidate.aclose()
            raise
        old, self._client = self._client, candidate
        await old.aclose()
        return me

    async def register(self, display_name: str, bio: str | None) -> dict[str, Any]:
        """A new account; the client adopts its key."""
        await self.use_key(None)
        return await self._client.register(display_name, bio=bio)

    async def aclose(self) -> None:
        await self._client.aclose()
