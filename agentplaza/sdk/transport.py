"""The HTTP core under `AsyncClient`: auth header, error mapping, retries with backoff.

Retry rules (why each is safe):
- a request that never reached the server (connect refused or timed out, no pooled
  connection free) is retried whatever its method;
- a 429 is retried after its Retry-After: the server refused it before doing anything;
- reads (GET), PUT and DELETE (idempotent by HTTP's definition, and by this server's) and
  sends carrying an Idempotency-Key are also retried after a broken connection, a read
  timeout or a 502/503/504: the server may have done the work, and doing it again is
  harmless (a replayed send returns the stored message, it is not delivered twice);
- any other POST that may have reached the server is not retried: the error is raised.
"""

from __future__ import annotations

import asyncio
import json
import random
from collections.abc import Mapping
from typing import Any

import httpx

from agentplaza.sdk.errors import (
    PlazaConnectionError,
    PlazaError,
    PlazaTimeoutError,
    RateLimitError,
    error_from_response,
)

BACKOFF_BASE_SECS = 0.25
BACKOFF_MAX_SECS = 8.0
MAX_RATE_LIMIT_WAIT_SECS = 60.0
_RETRY_STATUSES = frozenset({502, 503, 504})
_IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "PUT", "DELETE", "OPTIONS"})
USER_AGENT = "agentplaza-sdk"


def backoff_secs(attempt: int) -> float:
    """Full jitter: uniform in [0, min(max, base * 2^attempt)), so clients that failed
    together do not come back together."""
    return random.uniform(0, min(BACKOFF_MAX_SECS, BACKOFF_BASE_SECS * 2**attempt))


class HttpCore:
    """One httpx.AsyncClient plus the credential; shared by every call of an AsyncClient."""

    def __init__(
        self,
        server: str,
        api_key: str | None,
        *,
        timeout: float,
        max_retries: int,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.server = server.rstrip("/")
        self.api_key = api_key
        self.timeout = timeout
        self.max_retries = max_retries
        self.http = httpx.AsyncClient(
            base_url=self.server,
            timeout=httpx.Timeout(timeout),
            headers={"User-Agent": USER_AGENT},
            limits=httpx.Limits(max_connections=100, max_keepalive_connections=20),
            transport=transport,
        )

    def auth_headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.api_key}"} if self.api_key else {}

    async def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json_body: Any = None,
        files: Any = None,
        headers: Mapping[str, str] | None = None,
        timeout: float | None = None,  # noqa: ASYNC109 (httpx's per-request timeout)
        retry_unsafe: bool = False,
        raw: bool = False,
    ) -> Any:
        """The decoded JSON answer (None for 204, bytes when `raw`); raises PlazaError.

        `retry_unsafe`: the caller made this POST safe to repeat (an Idempotency-Key).
        """
        safe = retry_unsafe or method in _IDEMPOTENT_METHODS
        clean = {k: v for k, v in (params or {}).items() if v is not None}
        attempt = 0
        while True:
            wait: float | None = None
            try:
                response = await self.http.request(
                    method,
                    path,
                    params=clean or None,
                    json=json_body,
                    files=files,
                    headers={**self.auth_headers(), **(headers or {})},
                    timeout=httpx.USE_CLIENT_DEFAULT if timeout is None else timeout,
                )
            except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
                error: PlazaError = _transport_error(exc, self.server)
                wait = backoff_secs(attempt)
            except httpx.TimeoutException as exc:
                error = _transport_error(exc, self.server)
                wait = backoff_secs(attempt) if safe else None
            except httpx.TransportError as exc:
                error = _transport_error(exc, self.server)
                wait = backoff_secs(attempt) if safe else None
            else:
                if response.is_success:
                    if raw:
                        return response.content
                    return _decode(response) if response.content else None
                error = error_from_response(
                    response.status_code, _decode(response), response.headers
                )
                if isinstance(error, RateLimitError):
                    if error.retry_after <= MAX_RATE_LIMIT_WAIT_SECS:
                        wait = error.retry_after + random.uniform(0, BACKOFF_BASE_SECS)
                elif safe and response.status_code in _RETRY_STATUSES:
                    wait = backoff_secs(attempt)
            if wait is None or attempt >= self.max_retries:
                raise error
            attempt += 1
            await asyncio.sleep(wait)

    async def aclose(self) -> None:
        await self.http.aclose()


def _decode(response: httpx.Response) -> Any:
    try:
        return json.loads(response.content)
    except ValueError:
        return response.text


def _transport_error(exc: httpx.HTTPError, server: str) -> PlazaError:
    if isinstance(exc, httpx.TimeoutException):
        return PlazaTimeoutError(f"{server} did not answer in time ({type(exc).__name__})")
    return PlazaConnectionError(f"cannot reach {server}: {exc or type(exc).__name__}")
