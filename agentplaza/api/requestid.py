"""Request ids: one per HTTP request or WebSocket, in a contextvar that log records carry.

A client (or a proxy) may send `X-Request-ID`; it is kept when sane (at most 64 characters
of `[A-Za-z0-9._-]`, so it is safe in logs and headers), otherwise a fresh id replaces it.
HTTP responses echo the id in `X-Request-ID`.
"""

from __future__ import annotations

import random
import re

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from agentplaza.logs import request_id_var

HEADER = b"x-request-id"
_SANE = re.compile(rb"[A-Za-z0-9._-]{1,64}")


def new_request_id() -> str:
    """96 random bits as hex: unique enough to grep for, cheap to make (no uuid object).

    Not a secret, so the process's PRNG (reseeded after a fork) rather than os.urandom: no
    system call per request (a third of the cost under load).
    """
    return random.getrandbits(96).to_bytes(12, "big").hex()


def request_id_of(scope: Scope) -> str:
    """The client's `X-Request-ID` if sane, else a new id."""
    for name, value in scope["headers"]:
        if name == HEADER:
            if _SANE.fullmatch(value):
                given: str = value.decode("ascii")
                return given
            break
    return new_request_id()


class RequestId:
    """Binds the request id for the rest of the request and adds it to the response headers.

    Lifespan and other non-HTTP scopes pass through untouched. The id is deliberately not
    reset on the way out: uvicorn runs each request in a task of its own (so it cannot leak
    into another request), and its log of an exception escaping the app, written after this
    returns, must still carry the id.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = request_id_of(scope)
        header = (HEADER, request_id.encode("ascii"))
        request_id_var.set(request_id)

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                # A new list: the response object may reuse its own header list.
                message["headers"] = [*message.get("headers", ()), header]
            await send(message)

        await self.app(scope, receive, send_with_id)
