"""The two send endpoints, `POST /v1/messages` and `POST /v1/groups/{group_id}/messages`:
their one implementation, served without FastAPI's per-request machinery.

FastAPI's routing, middleware and dependency solving cost about a third of a send's CPU
(py-spy, bench/README.md), so SendRoutes answers every POST to these two paths before
FastAPI sees it. The FastAPI routes in api/routes/messages.py and groups.py are declarations
for OpenAPI only (`not_served_here`), built from the same models and constraints as this
module (the pydantic body models, `IDEMPOTENCY_KEY_MAX_CHARS`, `GROUP_ID_MAX_CHARS`);
tests/api/test_send_routes.py holds the two together. Steps and statuses follow FastAPI's:
parse the JSON (400), authenticate (401), validate path, header and body (400), send.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Mapping
from typing import Annotated, Any, NamedTuple, NoReturn, TypeVar

import orjson
from fastapi.exceptions import RequestValidationError
from pydantic import Field, TypeAdapter, ValidationError
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from agentplaza.api.auth import current_account
from agentplaza.api.errors import render_exception
from agentplaza.api.httpmetrics import OTHER, HttpMetrics
from agentplaza.api.limits import refuse_declared
from agentplaza.api.render import limit_headers
from agentplaza.api.requestid import HEADER as REQUEST_ID_HEADER
from agentplaza.api.requestid import request_id_of
from agentplaza.api.schemas.groups import GROUP_ID_MAX_CHARS, SendGroupMessageIn
from agentplaza.api.schemas.messages import SendMessageIn
from agentplaza.domain.accounts import Account
from agentplaza.domain.credentials import pick_credential
from agentplaza.domain.errors import Invalid
from agentplaza.domain.messages import IDEMPOTENCY_KEY_MAX_CHARS, message_view
from agentplaza.logs import request_id_var
from agentplaza.services.registry import Services
from agentplaza.services.sending import Outgoing, Sent

_WANTED = {b"content-type", b"idempotency-key", b"authorization", b"x-api-key"}
_NOT_AN_OBJECT = [{"type": "model_attributes_type", "loc": ("body",), "msg": "not an object"}]
_KEY = TypeAdapter(Annotated[str, Field(max_length=IDEMPOTENCY_KEY_MAX_CHARS)])
_GROUP_ID = TypeAdapter(Annotated[str, Field(max_length=GROUP_ID_MAX_CHARS)])


class _RouteTemplate(NamedTuple):
    path: str


# What the router would leave in scope["route"]; api/httpmetrics.py labels requests by it.
SEND_PATH = "/v1/messages"
GROUP_SEND_PATH = "/v1/groups/{group_id}/messages"
_SEND_ROUTE = _RouteTemplate(SEND_PATH)
_GROUP_SEND_ROUTE = _RouteTemplate(GROUP_SEND_PATH)
_GROUP_SEND = re.compile(r"^/v1/groups/([^/]+)/messages$")  # what Starlette's {group_id} takes
Result = tuple[int, dict[str, Any], dict[str, str]]
M = TypeVar("M", SendMessageIn, SendGroupMessageIn)


class SendRoutes:
    """Answers POST to the two send endpoints, with what the middleware stack gives every other
    request done inline: the request id (api/requestid.py), the metrics (api/httpmetrics.py)
    and the body cap (api/limits.py), same headers, statuses and labels.

    AgentplazaApp hands these requests here before its stack: three middleware coroutines,
    two per-request send wrappers, a Request object and `app.state` look-ups were ~15 % of a
    DM's in-process server CPU (py-spy, issue 17).
    """

    def __init__(
        self,
        api: ASGIApp,
        services: Services,
        *,
        max_bytes: int,
        path_limits: Mapping[str, int],
        metrics: HttpMetrics | None,
    ) -> None:
        self.api = api
        self.services = services
        self.max_bytes = max_bytes
        self.path_limits = path_limits
        self.metrics = metrics

    @staticmethod
    def target(scope: Scope) -> str | None:
        """For a POST to a send endpoint, `""` (POST /v1/messages) or the group id; else None."""
        path: str = scope["path"]
        if path == SEND_PATH:
            return ""
        if path.startswith("/v1/groups/") and (group := _GROUP_SEND.match(path)) is not None:
            return group.group(1)
        return None

    async def __call__(self, scope: Scope, receive: Receive, send: Send, group_id: str) -> None:
        """Answer the POST `target` chose (`group_id` as it returned)."""
        request_id = request_id_of(scope)
        request_id_var.set(request_id)  # not reset: see RequestId
        id_header = (REQUEST_ID_HEADER, request_id.encode("ascii"))
        started = time.perf_counter()
        route = OTHER  # a declared-oversize body is refused before routing, as BodySizeLimit does
        status = 500  # what the client gets if the app raises before answering
        try:
            limit = self.path_limits.get(scope["path"], self.max_bytes)
            refusal = refuse_declared(scope, limit)
            if refusal is not None:
                status = await _answer_with(refusal, id_header, scope, receive, send)
                return
            scope["app"] = self.api  # what FastAPI would set: services live on app.state
            scope["route"] = _GROUP_SEND_ROUTE if group_id else _SEND_ROUTE
            route = scope["route"].path
            try:
                if group_id:
                    status, view, extra = await self._group_message(scope, receive, group_id, limit)
                else:
                    body, account, key = await _parse(
                        self.services, scope, receive, limit, SendMessageIn, []
                    )
                    status, view, extra = await direct_message(self.services, account, body, key)
            except Exception as exc:
                response = await render_exception(Request(scope, receive), exc)
                status = await _answer_with(response, id_header, scope, receive, send)
                return
            body_bytes = orjson.dumps(view)
            headers = [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body_bytes)).encode()),
            ]
            if extra:
                headers += [(k.lower().encode(), v.encode()) for k, v in extra.items()]
            headers.append(id_header)
            await send({"type": "http.response.start", "status": status, "headers": headers})
            await send({"type": "http.response.body", "body": body_bytes})
        finally:
            if self.metrics is not None:
                self.metrics.observe("POST", route, status, time.perf_counter() - started)

    async def _group_message(
        self, scope: Scope, receive: Receive, group_id: str, limit: int
    ) -> Result:
        """POST /v1/groups/{group_id}/messages (members)."""
        path_errors = _errors(_GROUP_ID, group_id, ("path", "group_id"))
        body, account, key = await _parse(
            self.services, scope, receive, limit, SendGroupMessageIn, path_errors
        )
        content_format, content_body = _content(body)
        out = Outgoing(
            group_id=group_id,
            format=content_format,
            body=content_body,
            reply_to=body.reply_to,
            type=body.type,
            idempotency_key=key or body.idempotency_key,
            signature=body.signature,
        )
        headers, sent = await _send(self.services, account, out)
        view = message_view(sent.message)
        view.update(group_id=sent.message.thread_id, status="accepted", recipients=sent.recipients)
        return (200 if sent.replayed else 201), view, headers


async def _answer_with(
    response: Response, id_header: tuple[bytes, bytes], scope: Scope, receive: Receive, send: Send
) -> int:
    """Send `response` with the request id header (last, where RequestId puts it)."""
    response.raw_headers.append(id_header)
    await response(scope, receive, send)
    return response.status_code


def not_served_here() -> NoReturn:
    """The body of the OpenAPI-only declarations: SendRoutes answers these paths first."""
    raise RuntimeError("the send endpoints are served by api/sends.py::SendRoutes")


# --- the endpoints ------------------------------------------------------------------------------


async def send_from_payload(
    services: Services, account: Account, payload: dict[str, Any]
) -> dict[str, Any]:
    """A send from an already decoded body (an AIM TCP MESSAGE frame, realtime/aim.py): the
    same validation and send as POST /v1/messages; returns its response body, raises
    AgentplazaError."""
    try:
        body = SendMessageIn.model_validate(payload)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ())) or "payload"
        raise Invalid(f"{where}: {first.get('msg', 'invalid value')}") from None
    _, view, _ = await direct_message(services, account, body, None)
    return view


async def direct_message(
    services: Services, account: Account, body: SendMessageIn, key: str | None
) -> Result:
    """The body of POST /v1/messages once parsed: (status, response body, extra headers)."""
    content_format, content_body = _content(body)
    out = Outgoing(
        to=body.to,
        format=content_format,
        body=content_body,
        thread_id=body.thread_id,
        reply_to=body.reply_to,
        type=body.type,
        idempotency_key=key or body.idempotency_key,
        signature=body.signature,
    )
    headers, sent = await _send(services, account, out)
    view = message_view(sent.message)
    view["status"] = "accepted"
    return (200 if sent.replayed else 201), view, headers


async def _send(services: Services, account: Account, out: Outgoing) -> tuple[dict[str, str], Sent]:
    limiter = services.limiter
    decision = await limiter.check(limiter.send, account.id)
    sent = await services.sending.send(account, out)
    headers = limit_headers(decision, limiter.send) or {}
    if sent.replayed:
        headers["Idempotent-Replayed"] = "true"
    return headers, sent


def _content(body: SendMessageIn | SendGroupMessageIn) -> tuple[str, object]:
    if body.content:
        return body.content.format, body.content.body
    return body.format or "text", body.body


# --- parsing, as FastAPI would ------------------------------------------------------------------


def _headers(scope: Scope) -> dict[bytes, str]:
    """The few headers these routes read, in one pass (Starlette's Headers.get scans per call)."""
    found: dict[bytes, str] = {}
    for name, value in scope["headers"]:
        if name in _WANTED and name not in found:
            found[name] = value.decode("latin-1")
    return found


async def _body(receive: Receive, limit: int) -> bytes:
    """The request body (Starlette's Request.body without its stream generator), at most
    `limit` bytes whatever the headers said (BodySizeLimit's count, api/limits.py)."""
    message = await receive()
    if message["type"] == "http.disconnect":
        raise ClientDisconnect
    body: bytes = message.get("body", b"")
    if len(body) > limit:
        raise HTTPException(413, f"request body larger than {limit} bytes")
    if not message.get("more_body", False):
        return body
    chunks = [body]
    received = len(body)
    while message.get("more_body", False):
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ClientDisconnect
        chunk = message.get("body", b"")
        received += len(chunk)
        if received > limit:
            raise HTTPException(413, f"request body larger than {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def _errors(adapter: TypeAdapter[str], value: str, loc: tuple[str, ...]) -> list[Any]:
    try:
        adapter.validate_python(value)
    except ValidationError as exc:
        return [{**e, "loc": loc} for e in exc.errors(include_url=False)]
    return []


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


async def _parse(
    services: Services,
    scope: Scope,
    receive: Receive,
    limit: int,
    model: type[M],
    path_errors: list[Any],
) -> tuple[M, Account, str | None]:
    """The body, the caller and the idempotency key, with FastAPI's statuses and order:
    undecodable JSON, then authentication, then path, header and body errors together."""
    raw = await _body(receive, limit)
    headers = _headers(scope)
    content_type = headers.get(b"content-type", "")
    is_json = not content_type or content_type.split(";")[0].strip().lower().endswith("json")
    body: M | None = None
    problem: list[Any] = []
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
    token = pick_credential(headers.get(b"authorization"), headers.get(b"x-api-key"))
    if token is not None:
        # current_account's first choice (account_for's), from the headers already read: it
        # would build Starlette's Headers and scan them twice more. With _body this took
        # _parse from 18 % to 12 % of a DM's in-process CPU (py-spy, issue 17).
        account = await services.accounts.authenticate(token)
    else:
        account = await current_account(Request(scope, receive))  # the browser's session cookie
    key = headers.get(b"idempotency-key")
    key_errors = [] if key is None else _errors(_KEY, key, ("header", "idempotency-key"))
    errors = path_errors + key_errors + problem
    if errors or body is None:
        raise RequestValidationError(errors or _NOT_AN_OBJECT)
    return body, account, key
