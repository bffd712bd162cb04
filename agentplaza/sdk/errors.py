"""The SDK's one exception tree, mapped from the server's `{"detail", "code"}` error body.

A program catches `PlazaError` for everything, or a subclass for one kind of failure.
The agentim names (`AuthError`, `AgentIMError`) are aliases, so code ported from agentim
keeps its `except` clauses.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any


class PlazaError(Exception):
    """Anything the SDK raises. `status` and `code` are the server's when it answered."""

    def __init__(self, detail: str, *, status: int | None = None, code: str | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.status = status
        self.code = code

    def __str__(self) -> str:
        where = f"{self.status} " if self.status is not None else ""
        what = f" ({self.code})" if self.code else ""
        return f"{where}{self.detail}{what}"


class AuthenticationError(PlazaError):
    """401: no key, or a wrong, revoked or rotated one."""


class ForbiddenError(PlazaError):
    """403: authenticated but not allowed (blocked, friends only, muted, role too low...)."""


class NotFoundError(PlazaError):
    """404: no such account, message, group, moment, file..."""


class ValidationError(PlazaError):
    """400, 413, 422: the request itself is wrong; retrying it will not help."""


class ConflictError(PlazaError):
    """409: the action clashes with the current state (name taken, already a member...)."""


class RateLimitError(PlazaError):
    """429: wait `retry_after` seconds before trying again."""

    def __init__(
        self,
        detail: str,
        *,
        status: int | None = 429,
        code: str | None = "rate_limited",
        retry_after: float = 1.0,
    ) -> None:
        super().__init__(detail, status=status, code=code)
        self.retry_after = retry_after


class ServerError(PlazaError):
    """5xx: the server failed (503 `unavailable` is worth a retry)."""


class PlazaConnectionError(PlazaError):
    """The server could not be reached, or the connection broke mid-request."""


class PlazaTimeoutError(PlazaError):
    """The server did not answer in time."""


class RequestTimeout(PlazaTimeoutError):
    """`Agent.request()` got no reply within its timeout."""


class WebhookVerificationError(PlazaError):
    """A webhook delivery whose signature or timestamp does not check out."""


# agentim's names, for code that ports over by changing its import.
AgentIMError = PlazaError
AuthError = AuthenticationError

_BY_STATUS: dict[int, type[PlazaError]] = {
    400: ValidationError,
    401: AuthenticationError,
    403: ForbiddenError,
    404: NotFoundError,
    409: ConflictError,
    413: ValidationError,
    422: ValidationError,
}


def body_of(raw: bytes | bytearray) -> Any:
    """An error answer's body for `error_from_response`: its JSON, or its text if not JSON."""
    try:
        return json.loads(raw)
    except ValueError:
        return raw.decode(errors="replace")


def error_from_response(status: int, body: Any, headers: Mapping[str, str]) -> PlazaError:
    """The exception for a non-2xx answer. `body` is the parsed JSON (or raw text)."""
    detail: str
    code: str | None = None
    if isinstance(body, dict):
        raw_detail = body.get("detail")
        detail = raw_detail if isinstance(raw_detail, str) else str(raw_detail or "")
        raw_code = body.get("code")
        code = raw_code if isinstance(raw_code, str) else None
    else:
        detail = str(body or "")
    detail = detail or f"HTTP {status}"
    if status == 429:
        return RateLimitError(detail, status=status, code=code, retry_after=retry_after_of(headers))
    if status >= 500:
        return ServerError(detail, status=status, code=code)
    cls = _BY_STATUS.get(status, ValidationError if 400 <= status < 500 else PlazaError)
    return cls(detail, status=status, code=code)


def retry_after_of(headers: Mapping[str, str], default: float = 1.0) -> float:
    """Retry-After in seconds (the server sends an integer; an HTTP date is not used)."""
    value = headers.get("retry-after")
    try:
        return max(0.0, float(value)) if value is not None else default
    except ValueError:
        return default
