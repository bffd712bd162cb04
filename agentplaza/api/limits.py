"""Request body cap: 413 before the app reads more than its limit.

Every route gets `max_bytes`; the few that take files (uploads, avatars) get a larger cap of
their own through `path_limits`, so raising the file size never raises it for JSON routes.
"""

from __future__ import annotations

from collections.abc import Mapping

from starlette.exceptions import HTTPException
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from agentplaza.api.dialects.studio.envelope import error as studio_error
from agentplaza.api.errors import error_response
from agentplaza.domain.errors import ErrorCode


def refuse_declared(scope: Scope, limit: int) -> Response | None:
    """The answer to a request whose Content-Length is over `limit` (413) or not a number (400),
    else None."""
    for name, value in scope["headers"]:
        if name == b"content-length":
            try:
                declared = int(value)
            except ValueError:
                declared = -1
            if declared > limit or declared < 0:
                status = 413 if declared > 0 else 400
                detail = (
                    f"request body larger than {limit} bytes"
                    if declared > 0
                    else "invalid Content-Length"
                )
                if scope["path"].startswith("/studio/"):
                    return studio_error(status, detail)  # seed 004's error shape there
                return error_response(
                    status,
                    detail,
                    ErrorCode.PAYLOAD_TOO_LARGE.value if declared > 0 else "validation_error",
                )
    return None


class BodySizeLimit:
    """Caps each HTTP request body: by its declared Content-Length up front, and by counting
    what actually arrives (chunked bodies, lying headers).

    Args:
        max_bytes: the cap of every path not in `path_limits`.
        path_limits: exact request paths (`/v1/files/upload`) with their own cap.
    """

    def __init__(
        self, app: ASGIApp, *, max_bytes: int, path_limits: Mapping[str, int] | None = None
    ) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.path_limits = dict(path_limits or {})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.path_limits.get(scope["path"], self.max_bytes)
        refusal = refuse_declared(scope, limit)
        if refusal is not None:
            await refusal(scope, receive, send)
            return
        received = 0

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    # FastAPI re-raises HTTPException from body reading; errors.py renders it.
                    raise HTTPException(413, f"request body larger than {limit} bytes")
            return message

        await self.app(scope, counting_receive, send)
