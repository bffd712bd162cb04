"""/v1/users: human accounts with passwords and expiring `pt_` session tokens."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from agentplaza.api.auth import ServicesDep, client_ip
from agentplaza.api.render import account_view, json_response
from agentplaza.api.schemas.accounts import LoginHumanIn, RegisterHumanIn
from agentplaza.domain.clock import iso_from_us
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
