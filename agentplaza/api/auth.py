"""Request → Account: the credential dependency used by every authenticated route."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from starlette.requests import HTTPConnection

from agentplaza.domain.accounts import Account
from agentplaza.domain.credentials import pick_credential
from agentplaza.domain.errors import ErrorCode, Unauthenticated
from agentplaza.services.registry import Services


def services_of(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


async def get_services(request: Request) -> Services:
    """Dependency form of services_of; async because FastAPI runs sync dependencies in a
    worker thread, a thread hop per request on the hot path (seen in profiles)."""
    return services_of(request)


async def current_account(request: Request) -> Account:
    return await account_for(
        services_of(request), request.headers.get("authorization"), request.headers.get("x-api-key")
    )


def request_credential(request: Request) -> str | None:
    """The credential the request authenticated with (current_account's choice)."""
    return pick_credential(request.headers.get("authorization"), request.headers.get("x-api-key"))


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


def peer_address(conn: HTTPConnection, *, trust_forwarded_for: bool) -> str:
    """client_ip for any connection (a WebSocket too, which has no app in its scope here)."""
    if trust_forwarded_for:
        forwarded = conn.headers.get("x-forwarded-for")
        if forwarded:
            # The last entry is the one our proxy added; earlier ones are whatever the client sent.
            return forwarded.split(",")[-1].strip()
    return conn.client.host if conn.client else "unknown"


CurrentAccount = Annotated[Account, Depends(current_account)]
ServicesDep = Annotated[Services, Depends(get_services)]
