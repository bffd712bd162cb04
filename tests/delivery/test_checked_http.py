"""The webhook transport checks the addresses its connections use (DNS rebinding): a real
local HTTP server, names answered by a resolver the test controls."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable

import httpx
import pytest
from aiohttp import web

from agentplaza.domain.errors import Invalid
from agentplaza.domain.webhooks import check_resolved
from agentplaza.services.checked_http import Check, CheckedNetworkBackend, CheckedTransport
from tests.server import TEST_HOST, free_port

# Loopback, but not where the receiver listens: connections there are refused.
ELSEWHERE = "127.0.0.3"
assert ELSEWHERE != TEST_HOST


class Receiver:
    def __init__(self) -> None:
        self.hosts: list[str] = []

    async def handle(self, request: web.Request) -> web.Response:
        self.hosts.append(request.headers["Host"])
        return web.Response(text="ok")


@pytest.fixture
async def receiver() -> AsyncIterator[tuple[Receiver, int]]:
    recv = Receiver()
    app = web.Application()
    app.router.add_post("/hook", recv.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, TEST_HOST, port).start()
    yield recv, port
    await runner.cleanup()


class Answering:
    """A resolver with fixed answers (the names exist in no real DNS)."""

    def __init__(self, host: str, addresses: list[str]) -> None:
        self.answers = {host: addresses}
        self.asked: list[str] = []

    async def __call__(self, host: str, port: int) -> list[str]:
        self.asked.append(host)
        return self.answers[host]


def allow_all(host: str, addresses: Iterable[str]) -> None:
    pass


def client(resolve: Answering, check: Check) -> httpx.AsyncClient:
    backend = CheckedNetworkBackend(resolve, check)
    transport = CheckedTransport(backend, limits=httpx.Limits(max_connections=4))
    return httpx.AsyncClient(transport=transport, timeout=5)


async def test_a_name_that_now_resolves_to_loopback_is_refused_before_connecting(
    receiver: tuple[Receiver, int],
) -> None:
    recv, port = receiver
    resolve = Answering("rebind.test", [TEST_HOST])
    async with client(resolve, check_resolved) as c:
        with pytest.raises(Invalid) as refused:
            await c.post(f"http://rebind.test:{port}/hook", content=b"{}")
    assert refused.value.code == "webhook_url_refused"
    assert recv.hosts == []


async def test_one_private_address_among_public_ones_refuses_the_host() -> None:
    resolve = Answering("mixed.test", ["93.184.216.34", "10.0.0.7"])
    async with client(resolve, check_resolved) as c:
        with pytest.raises(Invalid):
            await c.post("http://mixed.test/hook", content=b"{}")


async def test_the_connection_goes_to_the_checked_address_with_the_url_host(
    receiver: tuple[Receiver, int],
) -> None:
    recv, port = receiver
    # pinned.test resolves nowhere but here: the request arriving proves the socket went to
    # the address that was checked, and the Host header is still the URL's.
    resolve = Answering("pinned.test", [TEST_HOST])
    async with client(resolve, allow_all) as c:
        response = await c.post(f"http://pinned.test:{port}/hook", content=b"{}")
    assert response.status_code == 200
    assert recv.hosts == [f"pinned.test:{port}"]
    assert resolve.asked == ["pinned.test"]


async def test_an_address_that_refuses_the_connection_is_skipped(
    receiver: tuple[Receiver, int],
) -> None:
    recv, port = receiver
    resolve = Answering("two.test", [ELSEWHERE, TEST_HOST])
    async with client(resolve, allow_all) as c:
        response = await c.post(f"http://two.test:{port}/hook", content=b"{}")
    assert response.status_code == 200
    assert recv.hosts == [f"two.test:{port}"]


async def test_no_address_answers_is_a_connect_error() -> None:
    resolve = Answering("down.test", [ELSEWHERE])
    async with client(resolve, allow_all) as c:
        with pytest.raises(httpx.ConnectError):
            await c.post(f"http://down.test:{free_port()}/hook", content=b"{}")
