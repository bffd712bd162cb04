"""An httpx transport that checks the target's addresses when it connects: webhook POSTs
(delivery/webhooks.py) and the `http_fetch` tool (services/tools/fetch.py) use it.

The URL was checked at registration and its host is resolved and checked again before each
attempt, but a hostile DNS server can answer that lookup with a public address and the
connect's own lookup, a moment later, with 127.0.0.1 (DNS rebinding). Here the lookup whose
answer is checked is the one the connection uses: the socket goes to a checked address, and
TLS still verifies the certificate against the URL's host name.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable

import httpcore
import httpx

from agentplaza.domain.errors import ErrorCode, Invalid

Resolve = Callable[[str, int], Awaitable[list[str]]]
Check = Callable[[str, Iterable[str]], None]


class CheckedNetworkBackend(httpcore.AsyncNetworkBackend):
    """Resolves with `resolve`, refuses the host unless `check` passes every address, then
    connects to those addresses in turn until one answers."""

    def __init__(self, resolve: Resolve, check: Check) -> None:
        self._resolve = resolve
        self._check = check
        self._inner = httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,  # noqa: ASYNC109 (httpcore's signature)
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        addresses = list(dict.fromkeys(await self._resolve(host, port)))  # dedup, keep order
        self._check(host, addresses)  # raises Invalid: the attempt fails as refused
        failure: Exception | None = None
        for address in addresses:
            try:
                return await self._inner.connect_tcp(
                    address.split("%", 1)[0],
                    port,
                    timeout=timeout,
                    local_address=local_address,
                    socket_options=socket_options,
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                failure = exc
        assert failure is not None  # check() refuses an empty answer
        raise failure

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,  # noqa: ASYNC109 (httpcore's signature)
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        raise Invalid("checked connections do not use unix sockets", ErrorCode.WEBHOOK_URL_REFUSED)

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


class CheckedTransport(httpx.AsyncHTTPTransport):
    """httpx's own transport (request mapping, errors, pooling) over the checked backend."""

    def __init__(self, backend: CheckedNetworkBackend, *, limits: httpx.Limits) -> None:
        super().__init__(trust_env=False, limits=limits)
        # httpx takes no network backend argument: swap in a pool built as its own is.
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=httpx.create_ssl_context(trust_env=False),
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            network_backend=backend,
        )
