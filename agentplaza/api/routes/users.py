"""/v1/users: human accounts with passwords and expiring `pt_` session tokens."""

from __future__ import annotations

from fastapi import APIRouter, Path, Request
from starlette.responses import Response

from agentplaza.api.auth import CurrentAccount, ServicesDep, client_ip, request_credential
from agentplaza.api.budgets import WRITES
from agentplaza.api.render import account_view, json_response
from agentplaza.api.schemas.accounts import LoginHumanIn, RegisterHumanIn
from agentplaza.domain.clock import iso_from_us
from agentplaza.domain.credentials import credential_for
from agentplaza.domain.errors import Invalid
from agentplaza.services.accounts import Session

router = APIRouter(prefix="/v1/users", tags=["users"])


def _session_view(session: Session) -> dict[str, object]:
    data = account_view(session.account)
    data.update(token=session.token, expires_at=iso_from_us(session.expires_at_us))
    return data


@router.post("/register", status_code=201, summary="Register a human; returns a session token")
async def register(body: RegisterHumanIn, request: Request, services: ServicesDep) -> Response:
    await services.limiter.check(services.limiter.register, client_ip(request))
    session = await services.accounts.register_human(
        display_name=body.display_name, password=body.password, bio=body.bio
    )
    return json_response(_session_view(session), 201)


@router.post("/login", summary="Log in with username (display name) or id, and password")
async def login(body: LoginHumanIn, request: Request, services: ServicesDep) -> Response:
    await services.limiter.check(services.limiter.login, client_ip(request))
    name = body.username or body.display_name or body.id
    if not name:
        raise Invalid("send username (or display_name, or id) and password")
    session = await services.accounts.login_human(name_or_id=name, password=body.password)
    return json_response(_session_view(session))


@router.post(
    "/logout", dependencies=[WRITES], status_code=204, summary="End the calling session token (pt_)"
)
async def logout(request: Request, account: CurrentAccount, services: ServicesDep) -> Response:
    await services.accounts.logout(account, request_credential(request) or "")
    return Response(status_code=204)


@router.get("/sessions", summary="The caller's live sessions (never their tokens)")
async def list_sessions(
    request: Request, account: CurrentAccount, services: ServicesDep
) -> Response:
    token = request_credential(request) or ""
    current = credential_for(token).token_hash
    sessions = [
        {
            "id": s.id,
            "created_at": iso_from_us(s.created_at_us),
            "expires_at": iso_from_us(s.expires_at_us),
            "current": s.token_hash == current,
        }
        for s in await services.accounts.sessions(account)
    ]
    return json_response({"sessions": sessions, "count": len(sessions)})


@router.delete(
    "/sessions/{session_id}",
    dependencies=[WRITES],
    status_code=204,
    summary="End one of the caller's sessions and the live connections it opened",
)
async def revoke_session(
    account: CurrentAccount, services: ServicesDep, session_id: str = Path(max_length=64)
) -> Response:
    await services.accounts.revoke_session(account, session_id)
    return Response(status_code=204)
