"""The one place that builds error bodies: `{"detail": str, "code": str}` on every error path.

See docs/errors.md. The agentim SDK needs a JSON object with `detail` on every non-2xx.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException
from starlette.responses import JSONResponse, Response
from starlette.routing import Match

from agentplaza.domain.errors import AgentplazaError, ErrorCode, RateLimited
from agentplaza.store.errors import StoreError

log = logging.getLogger(__name__)

_HTTP_CODES = {
    400: ErrorCode.INVALID_JSON,  # FastAPI's only 400: a body it cannot parse (bad UTF-8, too deep)
    401: ErrorCode.UNAUTHENTICATED,
    403: ErrorCode.FORBIDDEN,
    404: ErrorCode.NOT_FOUND,
    405: ErrorCode.METHOD_NOT_ALLOWED,
    413: ErrorCode.PAYLOAD_TOO_LARGE,
    429: ErrorCode.RATE_LIMITED,
}


def error_response(
    status: int,
    detail: str,
    code: str,
    *,
    headers: Mapping[str, str] | None = None,
    **extra: Any,
) -> JSONResponse:
    return JSONResponse(
        {"detail": detail, "code": code, **extra}, status_code=status, headers=headers
    )


def rate_limit_headers(exc: RateLimited) -> dict[str, str]:
    retry = str(max(1, math.ceil(exc.retry_after_secs)))
    return {
        "Retry-After": retry,
        "X-RateLimit-Limit": str(exc.limit),
        "X-RateLimit-Remaining": "0",
        "X-RateLimit-Reset": retry,
    }


async def _agentplaza_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, AgentplazaError)
    headers = rate_limit_headers(exc) if isinstance(exc, RateLimited) else None
    return error_response(exc.status, exc.detail, exc.code.value, headers=headers)


async def _validation_error(request: Request, exc: Exception) -> Response:
    """400 for every malformed request: seed 001's status table has no 422."""
    assert isinstance(exc, RequestValidationError)
    errors = exc.errors()
    if any(e.get("type") == "json_invalid" for e in errors):
        return error_response(400, "request body is not valid JSON", ErrorCode.INVALID_JSON.value)
    if any(
        e.get("type") == "model_attributes_type" and tuple(e.get("loc", ())) == ("body",)
        for e in errors
    ):
        return error_response(
            400,
            "request body must be a JSON object (send Content-Type: application/json)",
            ErrorCode.VALIDATION_ERROR.value,
        )
    first = errors[0] if errors else {}
    where = ".".join(str(p) for p in first.get("loc", ()) if p != "body") or "request"
    detail = f"{where}: {first.get('msg', 'invalid value')}"
    simplified = [
        {
            "loc": [str(p) for p in e.get("loc", ())],
            "msg": str(e.get("msg", "")),
            "type": e.get("type"),
        }
        for e in errors
    ]
    return error_response(400, detail, ErrorCode.VALIDATION_ERROR.value, errors=simplified)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    code = _HTTP_CODES.get(exc.status_code, ErrorCode.VALIDATION_ERROR)
    detail = exc.detail if isinstance(exc.detail, str) else str(exc.detail)
    headers = exc.headers
    if exc.status_code == 405:
        # Starlette lists only the first matching route's methods; a path served by several
        # routes (GET/PATCH/DELETE /v1/agents/me) must list them all (RFC 9110 §15.5.6).
        headers = {**(headers or {}), "Allow": _allowed_methods(request)}
    return error_response(exc.status_code, detail, code.value, headers=headers)


def _allowed_methods(request: Request) -> str:
    routes = request.app.router.routes
    return ", ".join(
        method
        for method in ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE")
        if any(r.matches({**request.scope, "method": method})[0] is Match.FULL for r in routes)
    )


async def _store_error(request: Request, exc: Exception) -> Response:
    log.error("store failure on %s %s: %s", request.method, request.url.path, exc)
    return error_response(
        503,
        "storage temporarily unavailable; retry",
        ErrorCode.UNAVAILABLE.value,
        headers={"Retry-After": "1"},
    )


async def _unexpected_error(request: Request, exc: Exception) -> Response:
    log.error("unhandled error on %s %s", request.method, request.url.path)
    return error_response(500, "internal server error", ErrorCode.INTERNAL_ERROR.value)


async def render_exception(request: Request, exc: Exception) -> Response:
    """The response FastAPI's handlers would give for `exc` (for routes served without it)."""
    if isinstance(exc, AgentplazaError):
        return await _agentplaza_error(request, exc)
    if isinstance(exc, RequestValidationError):
        return await _validation_error(request, exc)
    if isinstance(exc, HTTPException):
        return await _http_error(request, exc)
    if isinstance(exc, StoreError):
        return await _store_error(request, exc)
    return await _unexpected_error(request, exc)


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(AgentplazaError, _agentplaza_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(HTTPException, _http_error)
    app.add_exception_handler(StoreError, _store_error)
    app.add_exception_handler(Exception, _unexpected_error)
