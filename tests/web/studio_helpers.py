"""Helpers of the Studio and hosted-agent browser tests: a server that may reach the scripted
model server on loopback (tests/llmfake.py), and /studio calls made with a human's token to set
the scene before the browser takes over."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.server import CLIENT_TLS, ServerProcess
from tests.web.chat_helpers import Account, unique

STUDIO_ENV = {
    "AGENTPLAZA_RATE_LIMITS_ENABLED": "0",
    # The fake model server listens on 127.0.0.1, which providers may not use by default.
    "AGENTPLAZA_LLM_ALLOW_PRIVATE_BASE_URLS": "1",
}


@pytest.fixture(scope="module")
def studio_web(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    proc = ServerProcess(data_dir=tmp_path_factory.mktemp("studio-web"), env=STUDIO_ENV).start()
    yield proc
    proc.stop()


async def studio_call(
    server: ServerProcess, who: Account, method: str, path: str, body: Any = None
) -> Any:
    """One /studio/api request as `who` (bearer token); asserts success, returns `data`."""
    async with httpx.AsyncClient(base_url=server.url, timeout=30, verify=CLIENT_TLS) as http:
        r = await http.request(method, f"/studio/api{path}", json=body, headers=who.headers)
    assert r.status_code < 300, r.text
    answer = r.json()
    assert answer["success"] is True, answer
    return answer["data"]


async def make_provider(server: ServerProcess, who: Account, fake_url: str) -> dict[str, Any]:
    body = {"name": unique("fake"), "kind": "openai", "base_url": fake_url + "/v1", "api_key": "sk"}
    provider: dict[str, Any] = await studio_call(server, who, "POST", "/providers/", body)
    return provider


async def make_hosted(
    server: ServerProcess, who: Account, provider_id: str, model: str, name: str | None = None
) -> dict[str, Any]:
    agent: dict[str, Any] = await studio_call(
        server, who, "POST", "/agents/",
        {"name": name or unique("bot"), "provider_id": provider_id, "model": model,
         "system_prompt": "You are terse.", "tools": []},
    )  # fmt: skip
    return agent


def items(data: Any) -> list[Any]:
    if isinstance(data, list):
        return data
    found: list[Any] = data["items"]
    return found
