"""Seed 004's response shapes for every /studio route.

Success `{"success": true, "message", "data"}`, pages `data: {"items", "total", "page",
"page_size"}`, errors `{"success": false, "error", "code": <HTTP status as an integer>}`.
`StudioRoute` renders every failure of a /studio route (auth, validation, service errors) in
the error shape, the way api/dialects/ai.py does for /ai, so /v1's envelope stays untouched.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Coroutine, Sequence
from typing import Any

from fastapi import Request
from fastapi.routing import APIRoute
from starlette.responses import Response

from agentplaza.api.errors import render_exception
from agentplaza.api.render import json_response

OK_MESSAGE = "操作成功"
PAGE_SIZE_DEFAULT = 20
PAGE_SIZE_MAX = 100


def ok(data: Any = None, message: str = OK_MESSAGE, status: int = 200) -> Response:
    return json_response({"success": True, "message": message, "data": data}, status)


def page(items: Sequence[Any], *, total: int, page: int, page_size: int) -> Response:
    return ok({"items": list(items), "total": total, "page": page, "page_size": page_size})


def error(status: int, message: str, headers: dict[str, str] | None = None) -> Response:
    return json_response({"success": False, "error": message, "code": status}, status, headers)


async def studio_error_response(request: Request, exc: Exception) -> Response:
    """`exc` as the native handlers render it (one place decides statuses and logging),
    reshaped: the native `detail` becomes `error`, the status becomes `code`."""
    native = await render_exception(request, exc)
    try:
        body: dict[str, Any] = json.loads(bytes(native.body))
    except ValueError:  # never expected: render_exception always writes a JSON object
        body = {"detail": "internal server error"}
    headers = {
        k: v
        for k, v in native.headers.items()
        if k.lower() not in {"content-length", "content-type"}
    }
    return error(native.status_code, str(body.get("detail", "")), headers)


async def unrouted_error(request: Request, exc: Exception) -> Response:
    """The app's HTTPException handler. A /studio path no route serves (an unknown area, an
    id holding an encoded `/`: 404; a known path with another method: 405) never reaches a
    StudioRoute, so without this it would answer in /v1's shape; elsewhere it is the native
    handler."""
    if request.url.path.startswith("/studio/"):
        return await studio_error_response(request, exc)
    return await render_exception(request, exc)


class StudioRoute(APIRoute):
    """Every /studio failure in seed 004's error shape, including those raised while FastAPI
    resolves dependencies (a bad token) and validates the body."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def studio_handler(request: Request) -> Response:
            try:
                return await handler(request)
            except Exception as exc:
                return await studio_error_response(request, exc)

        return studio_handler
