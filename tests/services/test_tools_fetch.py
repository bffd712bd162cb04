"""`http_fetch`: off by default; on, it GETs only allow-listed hosts with public addresses (the
webhooks' SSRF guard, checked on the address the connection uses). A real HTTP server on
loopback proves what is and is not fetched."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
import pytest
from aiohttp import web

from agentplaza.domain.hosted import AgentMode
from agentplaza.domain.webhooks import check_resolved
from agentplaza.services.checked_http import Check
from agentplaza.services.registry import Services
from agentplaza.services.tools import ToolContext, ToolRegistry
from agentplaza.services.tools.fetch import (
    FETCH_MAX_BYTES,
    http_fetch_tool,
    parse_allowed_hosts,
)
from agentplaza.settings import Settings
from tests.server import TEST_HOST, free_port
from tests.services.conftest import Clock, agent, running_services


@dataclass
class Site:
    """A loopback web server that counts what it was asked."""

    port: int
    hosts: list[str] = field(default_factory=list)

    async def handle(self, request: web.Request) -> web.StreamResponse:
        self.hosts.append(request.headers["Host"])
        match request.path:
            case "/page":
                return web.Response(text="hello from the page", content_type="text/html")
            case "/json":
                return web.json_response({"answer": 42})
            case "/moved":
                raise web.HTTPFound("http://elsewhere.test/secret")
            case "/binary":
                return web.Response(body=b"\x00\x01", content_type="application/octet-stream")
            case "/big":
                return web.Response(text="y" * (FETCH_MAX_BYTES * 2), content_type="text/plain")
            case _:
                return web.Response(status=404, text="no such page")


@pytest.fixture
async def site() -> AsyncIterator[Site]:
    app = web.Application()
    served = Site(free_port())
    app.router.add_get("/{tail:.*}", served.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, TEST_HOST, served.port).start()
    yield served
    await runner.cleanup()


class Answering:
    """A resolver with fixed answers (the names exist in no real DNS)."""

    def __init__(self, answers: dict[str, list[str]]) -> None:
        self.answers = answers

    async def __call__(self, host: str, port: int) -> list[str]:
        return self.answers[host]


def allow_all(host: str, addresses: Iterable[str]) -> None:
    """A check that lets loopback through: only to prove the happy path on this machine."""


def context(services: Services, account: Any, names: Iterable[str]) -> ToolContext:
    return ToolContext(
        account=account, owner_id=account.id, mode=AgentMode.PROXY, allowed=frozenset(names)
    )


async def test_off_by_default(services: Services, site: Site) -> None:
    assert "http_fetch" not in {t.name for t in services.tools.all()}
    ctx = context(services, await agent(services), ["http_fetch"])
    outcome = await services.tools.execute(
        "http_fetch", {"url": f"http://{TEST_HOST}:{site.port}/page"}, ctx
    )
    assert outcome.is_error and "unknown tool" in outcome.result
    assert site.hosts == []


async def test_allow_listed_private_addresses_are_still_refused(
    tmp_path: Path, clock: Clock, site: Site
) -> None:
    hosts = f"{TEST_HOST},localhost,metadata.google.internal,public.test"
    settings = Settings(data_dir=str(tmp_path), llm_http_fetch_allowed_hosts=hosts)
    async with running_services(settings, clock) as services:
        fetch = services.tools.get("http_fetch")
        assert fetch.category == "web" and "public.test" in fetch.description
        ctx = context(services, await agent(services), ["http_fetch"])
        for url, reason in [
            (f"http://{TEST_HOST}:{site.port}/page", "not public"),
            (f"http://localhost:{site.port}/page", "internal"),
            ("http://metadata.google.internal/computeMetadata/v1/", "internal"),
            (f"http://other.test:{site.port}/page", "not allowed"),
            (f"ftp://{TEST_HOST}/page", "http:// or https://"),
            (f"http://user:pw@public.test:{site.port}/page", "user:password"),
        ]:
            outcome = await services.tools.execute("http_fetch", {"url": url}, ctx)
            assert outcome.is_error and outcome.result.startswith("refused:"), url
            assert reason in outcome.result, (url, outcome.result)
    assert site.hosts == []


_fetchers = itertools.count()


async def fetch(
    site: Site, services: Services, path: str, *, check: Check = allow_all
) -> tuple[str, bool]:
    tool = http_fetch_tool(
        parse_allowed_hosts(" Pinned.Test. , other.test"),
        resolve=Answering({"pinned.test": [TEST_HOST]}),
        check=check,
    )
    registry = ToolRegistry([tool], timeout_secs=10)
    ctx = context(services, await agent(services, f"fetcher{next(_fetchers)}"), ["http_fetch"])
    outcome = await registry.execute(
        "http_fetch", {"url": f"http://pinned.test:{site.port}{path}"}, ctx
    )
    return outcome.result, outcome.is_error


async def test_a_name_resolving_to_loopback_is_refused_at_connect(
    services: Services, site: Site
) -> None:
    # DNS rebinding: the allow-listed name answers with a private address when connecting.
    result, is_error = await fetch(site, services, "/page", check=check_resolved)
    assert is_error and result.startswith("refused:") and "non-public" in result
    assert site.hosts == []


async def test_text_is_fetched_from_an_allowed_host(services: Services, site: Site) -> None:
    result, is_error = await fetch(site, services, "/page")
    assert not is_error
    assert result == "HTTP 200 text/html\n\nhello from the page"
    assert site.hosts == [f"pinned.test:{site.port}"]  # the URL's host, the checked address

    result, is_error = await fetch(site, services, "/json")
    assert not is_error and orjson.loads(result.split("\n\n", 1)[1]) == {"answer": 42}


async def test_what_is_not_fetched(services: Services, site: Site) -> None:
    result, is_error = await fetch(site, services, "/moved")
    assert is_error and "302" in result and "not followed" in result
    assert len(site.hosts) == 1  # elsewhere.test was never asked

    result, is_error = await fetch(site, services, "/binary")
    assert is_error and "application/octet-stream is not text" in result

    result, is_error = await fetch(site, services, "/missing")
    assert is_error and result.startswith("HTTP 404: no such page")

    result, is_error = await fetch(site, services, "/big")
    assert not is_error and f"[truncated at {FETCH_MAX_BYTES} bytes]" in result


def test_allowed_hosts_setting() -> None:
    assert parse_allowed_hosts("") == frozenset()
    assert parse_allowed_hosts(" , ") == frozenset()
    assert parse_allowed_hosts("Example.COM., api.test") == {"example.com", "api.test"}
