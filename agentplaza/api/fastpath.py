"""The hottest route, `POST /v1/messages`, served without FastAPI's per-request machinery.

FastAPI's routing, middleware and dependency solving cost about a third of a send's CPU
(py-spy, bench/README.md). This handler does the same steps in the same order — parse the
JSON (400), authenticate (401), validate the body (422), send — with the same models and
error rendering; the FastAPI route stays declared for OpenAPI and is the reference the tests
hold both to (tests/api run against this path).
"""

from __future__ import annotations

import json

from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from agentplaza.api.auth import current_account, services_of
from agentplaza.api.errors import render_exception
from agentplaza.api.routes.messages import send_and_render
from agentplaza.api.schemas.messages import SendMessageIn
from agentplaza.domain.errors import Invalid
from agentplaza.domain.messages import IDEMPOTENCY_KEY_MAX_CHARS

NOT_AN_OBJECT = [{"type": "model_attributes_type", "loc": ("body",), "msg": "not an object"}]


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
            scope["app"] = self.app  # what FastAPI would set: routes read app.state
            request = Request(scope, receive)
            try:
                response = await _send_message(request)
            except Exception as exc:
                response = await render_exception(request, exc)
            await response(scope, receive, send)
            return
        await self.app(scope, receive, send)


async def _send_message(request: Request) -> Response:
    raw = await request.body()
    content_type = request.headers.get("content-type", "")
    is_json = not content_type or content_type.split(";")[0].strip().lower().endswith("json")
    payload: object = None
    if is_json and raw:
        try:
            payload = json.loads(raw)
        except (ValueError, RecursionError):
            raise RequestValidationError(
                [{"type": "json_invalid", "loc": ("body",), "msg": "JSON decode error"}]
            ) from None
    account = await current_account(request)
    if not isinstance(payload, dict):
        raise RequestValidationError(NOT_AN_OBJECT)
    key = request.headers.get("idempotency-key")
    if key is not None and len(key) > IDEMPOTENCY_KEY_MAX_CHARS:
        raise Invalid(f"header.idempotency-key: at most {IDEMPOTENCY_KEY_MAX_CHARS} characters")
    try:
        body = SendMessageIn.model_validate(payload)
    except ValidationError as exc:
        errors = [{**e, "loc": ("body", *e["loc"])} for e in exc.errors(include_url=False)]
        raise RequestValidationError(errors) from None
    return await send_and_render(services_of(request), account, body, key)
