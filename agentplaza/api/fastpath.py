"""The hottest routes, `POST /v1/messages` and `POST /v1/groups/{id}/messages`, served
without FastAPI's per-request machinery.

FastAPI's routing, middleware and dependency solving cost about a third of a send's CPU
(py-spy, bench/README.md). These handlers do the same steps in the same order — parse the
JSON (400), authenticate (401), validate the body (400), send — with the same models and
error rendering; the FastAPI routes stay declared for OpenAPI and are the reference, and
tests/api holds these paths to them. A path the fast route would have to validate itself
(a group id of another shape) goes to FastAPI.
"""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable
from typing import Any, NamedTuple, TypeVar

import orjson
from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError
from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send

from agentplaza.api.auth import current_account, services_of
from agentplaza.api.errors import render_exception
from agentplaza.api.routes.groups import send_group_from_body
from agentplaza.api.routes.messages import send_from_body
from agentplaza.api.schemas.groups import SendGroupMessageIn
from agentplaza.api.schemas.messages import SendMessageIn
from agentplaza.domain.accounts import Account
from agentplaza.domain.errors import Invalid
from agentplaza.domain.messages import IDEMPOTENCY_KEY_MAX_CHARS

_WANTED = {b"content-type", b"authorization", b"x-api-key", b"idempotency-key"}
_NOT_AN_OBJECT = [{"type": "model_attributes_type", "loc": ("body",), "msg": "not an object"}]


class _RouteTemplate(NamedTuple):
    path: str


# What the router would leave in scope["route"]; api/httpmetrics.py labels requests by it.
_SEND_ROUTE = _RouteTemplate("/v1/messages")
_GROUP_SEND_ROUTE = _RouteTemplate("/v1/groups/{group_id}/messages")
_GROUP_SEND_PATH = re.compile(
    r"^/v1/groups/([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})/messages$"
)
Result = tuple[int, dict[str, Any], dict[str, str]]
M = TypeVar("M", SendMessageIn, SendGroupMessageIn)
Handler = Callable[[Request], Awaitable[Result]]


class FastPaths:
    """Routes the sends to their lean handlers, everything else to `app`."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        route = _fast_route(scope)
        if route is not None:
            template, handler = route
            scope["app"] = self.app  # what FastAPI would set: services live on app.state
            scope["route"] = template
            request = Request(scope, receive)
            try:
                status, view, extra = await handler(request)
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


def _fast_route(scope: Scope) -> tuple[_RouteTemplate, Handler] | None:
    if scope["type"] != "http" or scope["method"] != "POST":
        return None
    path = scope["path"]
    if path == "/v1/messages":
        return _SEND_ROUTE, _send_message
    if path.startswith("/v1/groups/") and _GROUP_SEND_PATH.match(path):
        return _GROUP_SEND_ROUTE, _send_group_message
    return None


def _headers(scope: Scope) -> dict[bytes, str]:
    """The few headers this route reads, in one pass (Starlette's Headers.get scans per call)."""
    found: dict[bytes, str] = {}
    for name, value in scope["headers"]:
        if name in _WANTED and name not in found:
            found[name] = value.decode("latin-1")
    return found


def _lenient(model: type[M], raw: bytes) -> tuple[M | None, list[Any]]:
    try:
        data = json.loads(raw)
    except (ValueError, RecursionError):
        raise RequestValidationError(
            [{"type": "json_invalid", "loc": ("body",), "msg": "JSON decode error"}]
        ) from None
    try:
        return model.model_validate(data), []
    except ValidationError as exc:
        return None, exc.errors(include_url=False)


def _located(errors: list[Any]) -> list[Any]:
    """Errors as FastAPI reports body errors: under `body`, or "not an object" for the root."""
    if any(e["type"] in {"model_type", "model_attributes_type"} and not e["loc"] for e in errors):
        return _NOT_AN_OBJECT
    return [{**e, "loc": ("body", *e["loc"])} for e in errors]


async def _parse(request: Request, model: type[M]) -> tuple[M, Account, str | None]:
    """The body, the caller and the idempotency key, with FastAPI's statuses and order."""
    raw = await request.body()
    headers = _headers(request.scope)
    content_type = headers.get(b"content-type", "")
    is_json = not content_type or content_type.split(";")[0].strip().lower().endswith("json")
    body: M | None = None
    problem: list[Any] | None = None
    if is_json and raw:
        try:
            body = model.model_validate_json(raw)
        except ValidationError as exc:
            errors = exc.errors(include_url=False)
            if any(e["type"] == "json_invalid" for e in errors):
                # pydantic's parser is stricter than the json module FastAPI uses (lone
                # surrogates, NaN); only what json.loads refuses is a 400 on every route.
                body, errors = _lenient(model, raw)
            if body is None:
                problem = _located(errors)
    else:
        problem = _NOT_AN_OBJECT
    account = await current_account(request)
    if problem is not None or body is None:
        raise RequestValidationError(problem or _NOT_AN_OBJECT)
    key = headers.get(b"idempotency-key")
    if key is not None and len(key) > IDEMPOTENCY_KEY_MAX_CHARS:
        raise Invalid(f"header.idempotency-key: at most {IDEMPOTENCY_KEY_MAX_CHARS} characters")
    return body, account, key


async def _send_message(request: Request) -> Result:
    body, account, key = await _parse(request, SendMessageIn)
    return await send_from_body(services_of(request), account, body, key)


async def _send_group_message(request: Request) -> Result:
    body, account, key = await _parse(request, SendGroupMessageIn)
    group_id = request.scope["path"].split("/")[3]
    return await send_group_from_body(services_of(request), account, group_id, body, key)
