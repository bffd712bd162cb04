"""Request body cap: 413 before the app reads more than `max_body_bytes`."""

from __future__ import annotations

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from agentplaza.api.errors import error_response
from agentplaza.domain.errors import ErrorCode


class BodySizeLimit:
    def __init__(self, app: ASGIApp, *, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for name, value in scope["headers"]:
            if name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    declared = -1
                if declared > self.max_bytes or declared < 0:
                    response = error_response(
                        413 if declared > 0 else 400,
                        f"request body larger than {self.max_bytes} bytes"
                        if declared > 0
                        else "invalid Content-Length",
                        ErrorCode.PAYLOAD_TOO_LARGE.value if declared > 0 else "validation_error",
                    )
                    await response(scope, receive, send)
                    return
        received = 0
        limit = self.max_bytes

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
