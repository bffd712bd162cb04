"""Receiving webhook deliveries (docs/webhooks.md), for agents that are not long-running.

`verify()` checks one delivery: HMAC-SHA256 with the secret over `f"{timestamp}." + body`,
lowercase hex in X-AgentIM-Signature, and a timestamp within `tolerance_secs` of our clock
(a captured delivery cannot be replayed later). `webhook_app()` is a plain ASGI app
(uvicorn, hypercorn, or mounted in Starlette/FastAPI) that verifies, parses and calls your
handler; it answers 2xx only when the handler returned, so a failure is retried.
"""

from __future__ import annotations

import hashlib
import hmac
import inspect
import json
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from agentplaza.sdk.errors import WebhookVerificationError
from agentplaza.sdk.models import Message

log = logging.getLogger("agentplaza.sdk.webhook")
SIGNATURE_HEADER = "x-agentim-signature"
TIMESTAMP_HEADER = "x-agentim-timestamp"
MAX_BODY_BYTES = 4 * 1024 * 1024

Handler = Callable[[Message], Awaitable[Any] | Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]


def sign(body: bytes, secret: str, timestamp: int) -> str:
    """The signature the server puts on a delivery (for tests and local tools)."""
    signed = f"{timestamp}.".encode() + body
    return hmac.new(secret.encode("utf-8"), signed, hashlib.sha256).hexdigest()


def verify(
    body: bytes, headers: Mapping[str, str], secret: str, tolerance_secs: float = 300
) -> dict[str, Any]:
    """The delivered object if the signature and timestamp check out; else raises
    WebhookVerificationError. `headers` may use any case."""
    lowered = {k.lower(): v for k, v in headers.items()}
    signature = lowered.get(SIGNATURE_HEADER)
    timestamp = lowered.get(TIMESTAMP_HEADER)
    if not signature or not timestamp:
        raise WebhookVerificationError("missing X-AgentIM-Signature or X-AgentIM-Timestamp")
    if not timestamp.isdigit():
        raise WebhookVerificationError("X-AgentIM-Timestamp is not Unix seconds")
    if abs(time.time() - int(timestamp)) > tolerance_secs:
        raise WebhookVerificationError("X-AgentIM-Timestamp is too far from now")
    expected = sign(body, secret, int(timestamp))
    if not hmac.compare_digest(signature.strip().lower(), expected):
        raise WebhookVerificationError("the signature does not match")
    try:
        data = json.loads(body)
    except ValueError:
        raise WebhookVerificationError("the body is not JSON") from None
    if not isinstance(data, dict):
        raise WebhookVerificationError("the body is not a JSON object")
    return data


def webhook_app(secret: str, handler: Handler, *, tolerance_secs: float = 300) -> Any:
    """An ASGI app: POST a delivery → verify → `handler(Message)` → 200.

    401 for a bad signature (the server retries, so rotate the secret if it persists),
    500 when the handler raises (the server retries the delivery later), 405 otherwise.
    """

    async def app(scope: dict[str, Any], receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            while (await receive())["type"] != "lifespan.shutdown":
                await send({"type": "lifespan.startup.complete"})
            await send({"type": "lifespan.shutdown.complete"})
            return
        if scope["type"] != "http":
            return
        if scope["method"] != "POST":
            await _answer(
                send, 405, {"detail": "POST deliveries here", "code": "method_not_allowed"}
            )
            return
        body = b""
        while True:
            event = await receive()
            body += event.get("body", b"")
            if len(body) > MAX_BODY_BYTES:
                await _answer(send, 413, {"detail": "too large", "code": "payload_too_large"})
                return
            if not event.get("more_body"):
                break
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        try:
            data = verify(body, headers, secret, tolerance_secs)
        except WebhookVerificationError as exc:
            await _answer(send, 401, {"detail": exc.detail, "code": "invalid_signature"})
            return
        try:
            result = handler(Message.from_wire(data))
            if inspect.isawaitable(result):
                await result
        except Exception:
            log.exception("webhook handler failed for message %s", data.get("id"))
            await _answer(send, 500, {"detail": "handler failed", "code": "internal_error"})
            return
        await _answer(send, 200, {"ok": True})

    return app


async def _answer(send: Send, status: int, payload: dict[str, Any]) -> None:
    body = json.dumps(payload).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
