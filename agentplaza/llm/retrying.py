"""What both provider kinds share: retries with backoff, the concurrency cap, error translation.

A client supplies `attempt()`, an async generator that makes ONE request and maps the provider's
stream to ModelEvents (closing its HTTP response in `finally`). `guarded_stream` runs it under
the client's semaphore and retries it (429, 408, 409, 5xx, 529, connection errors) only while
no event has been yielded: once the caller has seen text, a retry would repeat it, so a later
failure raises ProviderError instead.

The official packages (openai ≥ 3, anthropic ≥ 2) run on `httpx2`; a stream's read errors
surface as its exceptions, so both httpx generations are recognised here.
"""

from __future__ import annotations

import asyncio
import email.utils
import random
import re
import time
from collections.abc import AsyncGenerator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import httpx
import httpx2

from agentplaza.llm.base import ModelEvent, ProviderError
from agentplaza.llm.transport import timeout_message

T = TypeVar("T")

RETRYABLE_STATUS = frozenset({408, 409, 429, 500, 502, 503, 504, 529})
_KEYISH = re.compile(r"\b(sk|key|ak)-[A-Za-z0-9_\-*.]{6,}")
_MESSAGE_LIMIT = 300


class StreamCutShort(ProviderError):
    """The stream ended without the provider's end marker: like a dropped connection, retried
    when it happens before the first event."""

    def __init__(self) -> None:
        super().__init__("the provider closed the stream before the answer was complete")


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    max_retries: int = 2
    base_delay: float = 0.5
    """Backoff before retry n (0-based): uniform in [0, min(max_delay, base_delay * 2**n)]."""
    max_delay: float = 8.0
    retry_after_cap: float = 20.0
    """A provider's Retry-After is honoured up to this many seconds (a longer wait would hold
    a user's reply hostage; the next attempt then simply fails again if it is still early)."""

    def delay(self, attempt: int, retry_after: float | None) -> float:
        if retry_after is not None:
            return max(0.0, min(retry_after, self.retry_after_cap))
        # Full jitter (AWS architecture blog): spreads the retries of many streams that failed
        # together, which is exactly what a provider-wide 429 or 503 produces.
        return random.uniform(0, min(self.max_delay, self.base_delay * 2**attempt))


@dataclass(frozen=True, slots=True)
class Failure:
    """A translated provider exception: what to show, and whether to try again."""

    error: ProviderError
    retryable: bool
    retry_after: float | None = None


class Translator:
    """Turns one SDK's exceptions into Failures. The SDKs' classes are passed in so that this
    module imports neither package."""

    def __init__(
        self,
        *,
        api_error: type[BaseException],
        status_error: type[BaseException],
        timeout_error: type[BaseException],
        connection_error: type[BaseException],
        api_key: str,
        timeout_secs: float,
    ) -> None:
        self._api, self._status = api_error, status_error
        self._timeout, self._connection = timeout_error, connection_error
        self._api_key = api_key
        self._timeout_secs = timeout_secs

    def __call__(self, exc: BaseException) -> Failure:
        if isinstance(exc, ProviderError):
            return Failure(exc, retryable=isinstance(exc, StreamCutShort))
        if isinstance(exc, (self._timeout, httpx.TimeoutException, httpx2.TimeoutException)):
            message = timeout_message(exc, self._timeout_secs)
            return Failure(ProviderError(message), retryable=False)
        if isinstance(exc, self._status):
            return self._status_failure(exc)
        if isinstance(exc, (self._connection, httpx.TransportError, httpx2.TransportError)):
            reason = self.clean(str(exc.__cause__ or exc)) or type(exc).__name__
            return Failure(
                ProviderError(f"connection to the provider failed: {reason}"), retryable=True
            )
        if isinstance(exc, self._api) and getattr(exc, "body", None) is not None:
            # An error event inside a 200 stream (OpenAI-compatible servers send these).
            return self._status_failure(exc)
        reason = self.clean(str(exc)) or type(exc).__name__
        return Failure(ProviderError(f"the provider sent an unusable response: {reason}"), False)

    def _status_failure(self, exc: Any) -> Failure:
        status = int(getattr(exc, "status_code", 0) or 0)
        body = getattr(exc, "body", None)
        detail, kind = _error_detail(body)
        # Anthropic reports overload and rate limits inside a 200 stream as `event: error`.
        status = {"overloaded_error": 529, "rate_limit_error": 429}.get(kind, status)
        if status < 400:
            status = 502
        hint = {
            401: "the API key was rejected",
            403: "the API key may not use this",
            404: "model or base URL not found",
            429: "rate limited",
        }.get(status, "provider error" if status >= 500 else "request refused")
        text = f"the provider answered {status} ({hint})"
        if detail:
            text += f": {self.clean(detail)}"
        response = getattr(exc, "response", None)
        headers: Any = (
            response.headers if isinstance(response, (httpx.Response, httpx2.Response)) else {}
        )
        return Failure(
            ProviderError(text, status=status),
            retryable=status in RETRYABLE_STATUS,
            retry_after=retry_after_secs(headers),
        )

    def clean(self, text: str) -> str:
        """Shortened, with the API key (and anything shaped like one) blanked out."""
        if len(self._api_key) >= 8:  # a shorter "key" (tests, local servers) is no secret
            text = text.replace(self._api_key, "***")
        text = _KEYISH.sub("***", text)
        return text if len(text) <= _MESSAGE_LIMIT else text[: _MESSAGE_LIMIT - 1] + "…"


def _error_detail(body: Any) -> tuple[str, str]:
    """(message, type) from an OpenAI (`{"message", "type"}`, the SDK strips the `error` key)
    or Anthropic (`{"type": "error", "error": {...}}`) error body."""
    if not isinstance(body, dict):
        return (body if isinstance(body, str) else ""), ""
    inner = body.get("error") if isinstance(body.get("error"), dict) else body
    assert isinstance(inner, dict)
    return str(inner.get("message") or ""), str(inner.get("type") or "")


def retry_after_secs(headers: Any) -> float | None:
    """Seconds from `retry-after-ms` (OpenAI) or `retry-after` (seconds or an HTTP date)."""
    try:
        ms = headers.get("retry-after-ms")
        if ms is not None:
            return float(ms) / 1000
        value = headers.get("retry-after")
        if value is None:
            return None
        try:
            return float(value)
        except ValueError:
            when = email.utils.parsedate_to_datetime(value)
            return max(0.0, when.timestamp() - time.time())
    except (TypeError, ValueError):
        return None


async def guarded_stream(
    attempt: Callable[[], AsyncGenerator[ModelEvent, None]],
    *,
    policy: RetryPolicy,
    translate: Translator,
    semaphore: asyncio.Semaphore,
) -> AsyncGenerator[ModelEvent, None]:
    """Yield `attempt()`'s events, holding `semaphore` throughout, retrying before the first."""
    async with semaphore:
        tries = 0
        while True:
            events = attempt()
            started = False
            try:
                async for event in events:
                    started = True
                    yield event
                return
            except Exception as exc:
                failure = translate(exc)
                if started or not failure.retryable or tries >= policy.max_retries:
                    raise failure.error from None  # the SDK error may quote the key
            finally:
                # Closes the upstream response on every exit, including the caller's aclose()
                # or cancellation while we are suspended at `yield`.
                await events.aclose()
            await asyncio.sleep(policy.delay(tries, failure.retry_after))
            tries += 1


async def guarded_call(
    call: Callable[[], Awaitable[T]],
    *,
    policy: RetryPolicy,
    translate: Translator,
    semaphore: asyncio.Semaphore,
) -> T:
    """One request/response call with the same cap, retries and translation as a stream."""
    async with semaphore:
        tries = 0
        while True:
            try:
                return await call()
            except Exception as exc:
                failure = translate(exc)
                if not failure.retryable or tries >= policy.max_retries:
                    raise failure.error from None  # the SDK error may quote the key
            await asyncio.sleep(policy.delay(tries, failure.retry_after))
            tries += 1
