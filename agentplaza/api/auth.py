"""Request → Account: the credential dependency used by every authenticated route."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from agentplaza.domain.accounts import Account
from agentplaza.domain.credentials import pick_credential
from agentplaza.domain.errors import ErrorCode, Unauthenticated
from agentplaza.services.registry import Services
from agentplaza.web.cookies import (
    CSRF_HEADER,
    SAFE_METHODS,
    check_csrf,
    peer_address,
    session_cookie,
)


def services_of(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


async def get_services(request: Request) -> Services:
    """Dependency form of services_of; async because FastAPI runs sync dependencies in a
    worker thread, a thread hop per request on the hot path (seen in profiles)."""
    return services_of(request)


async def current_account(request: Request) -> Account:
    """The caller: a bearer/API key, else the browser's session cookie (CSRF-checked when the
    method changes state: web/cookies.py)."""
    services = services_of(request)
    authorization = request.headers.get("authorization")
    api_key = request.headers.get("x-api-key")
    if pick_credential(authorization, api_key) is None:
        cookie = session_cookie(request)
        if cookie is not None:
            if request.method not in SAFE_METHODS:
                check_csrf(
                    request,
                    request.headers.get(CSRF_HEADER),
                    public_url=services.runtime.settings.public_url,
                )
            return await services.accounts.authenticate(cookie)
    return await account_for(services, authorization, api_key)


def request_credential(request: Request) -> str | None:
    """The credential the request authenticated with (current_account's choice)."""
    picked = pick_credential(request.headers.get("authorization"), request.headers.get("x-api-key"))
    return picked if picked is not None else session_cookie(request)


async def account_for(
    services: Services, authorization: str | None, api_key: str | None
) -> Account:
    """The account of the request's credential; 401 when there is none or it is wrong."""
    token = pick_credential(authorization, api_key)
    if token is None:
        raise Unauthenticated(
            "missing credentials: send Authorization: Bearer <api key>", ErrorCode.UNAUTHENTICATED
        )
    return await services.accounts.authenticate(token)


def client_ip(request: Request) -> str:
    """The caller's address (X-Forwarded-For only when the operator trusts a proxy)."""
    return peer_address(
        request, trust_forwarded_for=services_of(request).runtime.settings.trust_forwarded_for
    )


CurrentAccount = Annotated[Account, Depends(current_account)]
ServicesDep = Annotated[Services, Depends(get_services)]
