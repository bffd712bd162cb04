"""The hottest route, `POST /v1/messages`, served without FastAPI's per-request machinery.

FastAPI's routing, middleware and dependency solving cost about a third of a send's CPU
(py-spy, bench/README.md). This handler does the same steps in the same order — parse the
JSON (400), authenticate (401), validate the body (422), send — with the same model and
error rendering; the FastAPI route stays declared for OpenAPI and is the reference, and
tests/api holds this path to it.
"""

from __future__ import annotations

import json
from typing import Any, NamedTuple

import orjson
from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError
from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send

from agentplaza.api.auth import account_for, services_of
from agentplaza.api.errors import render_exception
from agentplaza.api.routes.messages import send_from_body
from agentplaza.api.schemas.messages import SendMessageIn
from agentplaza.domain.errors import Invalid
from agentplaza.domain.messages import IDEMPOTENCY_KEY_MAX_CHARS

_WANTED = {b"content-type", b"authorization", b"x-api-key", b"idempotency-key"}
_NOT_AN_OBJECT = [{"type": "model_attributes_type", "loc": ("body",), "msg": "not an object"}]


class _RouteTemplate(NamedTuple):
    path: str


# What the router would leave in scope["route"]; api/httpmetrics.py labels requests by it.
_SEND_ROUTE = _RouteTemplate("/v1/messages")


class FastPaths:
    """Routes `POST /v1/messages` to its lean handler, everything else to `app`."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] == "http"
            and scope["path"] == "/v1/messages"
            and scope["method"] == "POST"
        ):
            scope["app"] = self.app  # what FastAPI would set: services live on app.state
            scope["route"] = _SEND_ROUTE
            request = Request(scope, receive)
            try:
                status, view, extra = await _send_message(request)
            except Exception as exc:
                await (await render_exception(request, exc))(scope, receive, send)
                return
            body = orjson.dumps(view)
            headers = [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
            ]
            headers += [(k.lower().encode(), v.encode()) for k, v in extra.items()]
            await send({"type": "http.response.start", "status": status, "headers": headers})
            await send({"type": "http.response.body", "body": body})
            return
        await self.app(scope, receive, send)


def _headers(scope: Scope) -> dict[bytes, str]:
    """The few headers this route reads, in one pass (Starlette's Headers.get scans per call)."""
    found: dict[bytes, str] = {}
    for name, value in scope["headers"]:
        if name in _WANTED and name not in found:
            found[name] = value.decode("latin-1")
    return found


def _lenient(raw: bytes) -> tuple[SendMessageIn | None, list[Any]]:
    try:
        data = json.loads(raw)
    except (ValueError, RecursionError):
        raise RequestValidationError(
            [{"type": "json_invalid", "loc": ("body",), "msg": "JSON decode error"}]
        ) from None
    try:
        return SendMessageIn.model_validate(data), []
    except ValidationError as exc:
        return None, exc.errors(include_url=False)


def _located(errors: list[Any]) -> list[Any]:
    """Errors as FastAPI reports body errors: under `body`, or "not an object" for the root."""
    if any(e["type"] in {"model_type", "model_attributes_type"} and not e["loc"] for e in errors):
        return _NOT_AN_OBJECT
    return [{**e, "loc": ("body", *e["loc"])} for e in errors]


async def _send_message(request: Request) -> tuple[int, dict[str, Any], dict[str, str]]:
    raw = await request.body()
    headers = _headers(request.scope)
    content_type = headers.get(b"content-type", "")
    is_json = not content_type or content_type.split(";")[0].strip().lower().endswith("json")
    body: SendMessageIn | None = None
    problem: list[Any] | None = None
    if is_json and raw:
        try:
            body = SendMessageIn.model_validate_json(raw)
        except ValidationError as exc:
            errors = exc.errors(include_url=False)
            if any(e["type"] == "json_invalid" for e in errors):
                # pydantic's parser is stricter than the json module FastAPI uses (lone
                # surrogates, NaN); only what json.loads refuses is a 400 on every route.
                body, errors = _lenient(raw)
            if body is None:
                problem = _located(errors)
    else:
        problem = _NOT_AN_OBJECT
    services = services_of(request)
    account = await account_for(services, headers.get(b"authorization"), headers.get(b"x-api-key"))
    if problem is not None or body is None:
        raise RequestValidationError(problem or _NOT_AN_OBJECT)
    key = headers.get(b"idempotency-key")
    if key is not None and len(key) > IDEMPOTENCY_KEY_MAX_CHARS:
        raise Invalid(f"header.idempotency-key: at most {IDEMPOTENCY_KEY_MAX_CHARS} characters")
    return await send_from_body(services, account, body, key)
