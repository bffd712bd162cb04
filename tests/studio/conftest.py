"""Fixtures for issue 15's tests: a server that may reach providers on loopback, and humans.

The scripted model server (tests/llmfake.py) listens on 127.0.0.1, which the default settings
refuse as a provider base URL (SSRF): `studio_server` allows private base URLs.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass

import httpx
import pytest

from tests.conftest import NO_RATE_LIMITS, own_server, unique_name
from tests.llmfake import fake_llm  # noqa: F401
from tests.server import CLIENT_TLS, ServerProcess

STUDIO_ENV = {**NO_RATE_LIMITS, "AGENTPLAZA_LLM_ALLOW_PRIVATE_BASE_URLS": "1"}
PASSWORD = "correct horse battery staple"


@pytest.fixture(scope="session")
def studio_server(
    backend: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServerProcess]:
    """One studio server per backend for the session (like `server`, plus loopback providers)."""
    with own_server(backend, tmp_path_factory, "studio", STUDIO_ENV) as proc:
        yield proc


@pytest.fixture
async def studio(studio_server: ServerProcess) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=studio_server.url, timeout=30, verify=CLIENT_TLS) as c:
        yield c


@dataclass(frozen=True, slots=True)
class Human:
    id: str
    name: str
    token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


async def register_human(client: httpx.AsyncClient, name: str | None = None) -> Human:
    """A human account of the plaza with a session token (native /v1 registration)."""
    display_name = name or unique_name("human")[-40:]
    r = await client.post(
        "/v1/users/register", json={"display_name": display_name, "password": PASSWORD}
    )
    assert r.status_code == 201, r.text
    body = r.json()
    return Human(id=body["id"], name=display_name, token=body["token"])


@pytest.fixture
async def owner(studio: httpx.AsyncClient) -> Human:
    return await register_human(studio)


@pytest.fixture
async def stranger(studio: httpx.AsyncClient) -> Human:
    return await register_human(studio)


def unique_suffix() -> str:
    return f"{os.getpid()}-{uuid.uuid4().hex[:8]}"
