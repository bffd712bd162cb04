"""Fixtures for the client-side tests (SDK, CLI, MCP): the real server and agents of
tests/conftest.py, plus SDK clients in both flavours."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from agentplaza.sdk import AsyncClient, Client
from tests.conftest import TestAgent
from tests.server import ServerProcess


class Api:
    """One SDK client driven the same way in both modes: `await api.method(...)`.

    "async" calls AsyncClient directly; "sync" calls the blocking Client from a worker
    thread (as a script would), so every table-driven test covers both."""

    def __init__(self, mode: str, api_key: str | None, server: str, **kwargs: Any) -> None:
        self.mode = mode
        self.impl: AsyncClient | Client = (
            AsyncClient(api_key, server=server, **kwargs)
            if mode == "async"
            else Client(api_key, server=server, **kwargs)
        )

    def __getattr__(self, name: str) -> Callable[..., Any]:
        method = getattr(self.impl, name)
        if self.mode == "async" or not callable(method):
            return method  # type: ignore[no-any-return]

        async def call(*args: Any, **kwargs: Any) -> Any:
            return await asyncio.to_thread(method, *args, **kwargs)

        return call

    async def close(self) -> None:
        if isinstance(self.impl, AsyncClient):
            await self.impl.aclose()
        else:
            await asyncio.to_thread(self.impl.close)


@pytest.fixture(params=["async", "sync"])
def mode(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
async def make_api(mode: str, server: ServerProcess) -> AsyncIterator[Callable[..., Api]]:
    made: list[Api] = []

    def make(agent: TestAgent | None = None, url: str | None = None, **kwargs: Any) -> Api:
        api = Api(mode, agent.api_key if agent else None, url or server.url, **kwargs)
        made.append(api)
        return api

    yield make
    for api in made:
        await api.close()


async def raw_get(client: httpx.AsyncClient, agent: TestAgent, path: str, **params: Any) -> Any:
    """What the server shows `agent` at `path`, read without the SDK."""
    response = await client.get(path, headers=agent.headers, params=params)
    assert response.status_code == 200, response.text
    return response.json()


# --- the installed `agentplaza` command, run as a user would (CLI/MCP tests) ---------------

AGENTPLAZA_BIN = Path(sys.executable).parent / "agentplaza"


class CliRunner:
    """Runs the installed entry point in a subprocess with its own HOME and config dir, and
    none of the caller's AGENTPLAZA_* / AGENTIM_* variables."""

    def __init__(self, home: Path) -> None:
        self.home = home
        self.config_dir = home / "config"
        self.env = {
            k: v for k, v in os.environ.items() if not k.startswith(("AGENTPLAZA_", "AGENTIM_"))
        }
        self.env.update(HOME=str(home), XDG_CONFIG_HOME=str(self.config_dir), COLUMNS="200")

    @property
    def config_file(self) -> Path:
        return self.config_dir / "agentplaza" / "config.json"

    def run(
        self, *args: str, input: str | None = None, env: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(AGENTPLAZA_BIN), *args],
            input=input,
            capture_output=True,
            text=True,
            env={**self.env, **(env or {})},
            cwd=self.home,
            timeout=60,
        )

    def ok(self, *args: str, **kwargs: Any) -> str:
        done = self.run(*args, **kwargs)
        assert done.returncode == 0, (args, done.returncode, done.stdout, done.stderr)
        return done.stdout

    def json(self, *args: str, **kwargs: Any) -> Any:
        return json.loads(self.ok(*args, "--json", **kwargs))

    def popen(self, *args: str, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
        return subprocess.Popen(
            [str(AGENTPLAZA_BIN), *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={**self.env, **(env or {})},
            cwd=self.home,
        )


@pytest.fixture
def cli(tmp_path: Path) -> CliRunner:
    home = tmp_path / "home"
    home.mkdir()
    return CliRunner(home)
