"""GET /v1/stream: the caller's event stream over Server-Sent Events.

Authentication, validation and the per-address cap happen here, before the stream starts,
so every refusal is an ordinary JSON error; the stream itself is realtime/sse.py.
"""

from __future__ import annotations

from fastapi import APIRouter, Header, Query, Request
from starlette.responses import Response

from agentplaza.api.auth import client_ip, services_of
from agentplaza.domain.credentials import MAX_CREDENTIAL_CHARS, pick_credential
from agentplaza.domain.cursors import MAX_POSITION
from agentplaza.domain.errors import ErrorCode, RateLimited, Unauthenticated
from agentplaza.realtime.sse import EventStreamResponse, StreamCounter
from agentplaza.web.cookies import session_cookie

router = APIRouter(prefix="/v1", tags=["realtime"])
# A browser's EventSource retries after a 429 only if the page reopens it; a hint is all we give.
LIMIT_RETRY_AFTER_SECS = 5.0


@router.get(
    "/stream",
    summary="The caller's deliveries as Server-Sent Events (resume with Last-Event-ID)",
    status_code=200,
    response_class=EventStreamResponse,
    responses={200: {"content": {"text/event-stream": {}}, "description": "event stream"}},
)
async def stream(
    request: Request,
    since_seq: int | None = Query(
        None, ge=0, le=MAX_POSITION, description="resume after this seq, acked or not"
    ),
    token: str | None = Query(
        None,
        min_length=1,
        max_length=MAX_CREDENTIAL_CHARS,
        description="API key, for EventSource (which cannot send headers); ends up in logs",
    ),
    last_event_id: int | None = Header(
        None, ge=0, le=MAX_POSITION, description="the last `id:` seen; wins over since_seq"
    ),
) -> Response:
    services = services_of(request)
    credential = pick_credential(
        request.headers.get("authorization"), request.headers.get("x-api-key"), token
    ) or session_cookie(request)
    if credential is None:
        raise Unauthenticated(
            "missing credentials: send Authorization: Bearer <api key> (or ?token=)",
            ErrorCode.UNAUTHENTICATED,
        )
    account = await services.accounts.authenticate(credential)
    streams: StreamCounter = request.app.state.sse_streams
    ip = client_ip(request)
    if not streams.acquire(ip):
        raise RateLimited(
            f"too many open event streams from this address (at most {streams.max_per_ip})",
            retry_after_secs=LIMIT_RETRY_AFTER_SECS,
            limit=streams.max_per_ip,
        )
    # EventSource resends the last `id:` on reconnect while the URL keeps its first
    # since_seq, so the header is the newer position.
    after_seq = last_event_id if last_event_id is not None else since_seq
    return EventStreamResponse(
        services,
        request.app.state.hub,
        account.id,
        credential,
        after_seq=after_seq,
        on_end=lambda: streams.release(ip),
    )
