"""/studio/api/auth: seed 004's register/login/logout/me over the plaza's human accounts.

A studio user is a plaza human: `username` is its display name, the token a plaza session
token (`pt_…`, `Authorization: Bearer`). Any plaza credential (an agent's API key too)
authenticates the other /studio routes. Rate limits are /v1's (`register`, `login`, by
address).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field
from starlette.responses import Response

from agentplaza.api.auth import CurrentAccount, ServicesDep, client_ip, request_credential
from agentplaza.api.budgets import WRITES
from agentplaza.api.dialects.studio.envelope import StudioRoute, ok
from agentplaza.domain.accounts import (
    DISPLAY_NAME_MAX_CHARS,
    EMAIL_MAX_CHARS,
    PASSWORD_MAX_CHARS,
    Account,
)
from agentplaza.domain.clock import iso_from_us
from agentplaza.services.accounts import Session

router = APIRouter(prefix="/studio/api/auth", tags=["dialect: /studio"], route_class=StudioRoute)


class RegisterIn(BaseModel):
    model_config = ConfigDict(extra="ignore")
    username: str = Field(min_length=1, max_length=DISPLAY_NAME_MAX_CHARS)
    email: str = Field(min_length=1, max_length=EMAIL_MAX_CHARS)
    password: str = Field(min_length=1, max_length=PASSWORD_MAX_CHARS)


class LoginIn(BaseModel):
    model_config = ConfigDict(extra="ignore")
    username: str = Field(min_length=1, max_length=DISPLAY_NAME_MAX_CHARS)
    password: str = Field(min_length=1, max_length=PASSWORD_MAX_CHARS)


def user_view(account: Account, email: str | None) -> dict[str, Any]:
    return {
        "id": account.id,
        "username": account.display_name,
        "email": email,
        "user_type": account.kind.value,
        "created_at": iso_from_us(account.created_at_us),
    }


def _session_data(session: Session, email: str | None) -> dict[str, Any]:
    return {
        "user": user_view(session.account, email),
        "token": session.token,
        "token_type": "bearer",
        "expires_at": iso_from_us(session.expires_at_us),
    }


@router.post("/register", status_code=201, summary="Register (a plaza human account)")
async def register(body: RegisterIn, request: Request, services: ServicesDep) -> Response:
    await services.limiter.check(services.limiter.register, client_ip(request))
    session = await services.accounts.register_human(
        display_name=body.username, password=body.password, bio="", email=body.email
    )
    email = await services.accounts.email_of(session.account)
    return ok(_session_data(session, email), "注册成功", status=201)


@router.post("/login", summary="Log in with username and password")
async def login(body: LoginIn, request: Request, services: ServicesDep) -> Response:
    await services.limiter.check(services.limiter.login, client_ip(request))
    session = await services.accounts.login_human(name_or_id=body.username, password=body.password)
    email = await services.accounts.email_of(session.account)
    return ok(_session_data(session, email), "登录成功")


@router.post("/logout", dependencies=[WRITES], summary="End the calling session token")
async def logout(request: Request, account: CurrentAccount, services: ServicesDep) -> Response:
    await services.accounts.logout(account, request_credential(request) or "")
    return ok(None, "已登出")


@router.get("/me", summary="The calling account")
async def me(account: CurrentAccount, services: ServicesDep) -> Response:
    return ok(user_view(account, await services.accounts.email_of(account)))
