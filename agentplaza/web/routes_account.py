"""Sign up, log in, log out (HTML forms that set the session cookie), account settings,
and the language switch."""

from __future__ import annotations

from urllib.parse import urlsplit

from fastapi import APIRouter, Request
from starlette.responses import RedirectResponse, Response

from agentplaza.domain.errors import AgentplazaError
from agentplaza.services.accounts import Session
from agentplaza.web.cookies import SESSION_COOKIE, check_csrf, peer_address, session_cookie
from agentplaza.web.i18n import LANG_COOKIE, LANGUAGES
from agentplaza.web.pages import (
    finish,
    login_redirect,
    render,
    secure_cookies,
    services_of,
    web_user,
)

router = APIRouter(include_in_schema=False)
_FIELD_MAX = 1024


def _next(raw: str | None) -> str:
    """Where to go after the form: a path on this site only (no open redirect)."""
    # Browsers read /\host as //host: no backslash, and no control character either.
    if (
        raw
        and raw.startswith("/")
        and not raw.startswith("//")
        and "\\" not in raw
        and raw.isprintable()
        and not urlsplit(raw).netloc
    ):
        return raw
    return "/"


async def _form(request: Request) -> dict[str, str]:
    form = await request.form(max_files=0, max_fields=10)
    fields = {k: v[:_FIELD_MAX] for k, v in form.items() if isinstance(v, str)}
    check_csrf(
        request, fields.get("csrf"), public_url=services_of(request).runtime.settings.public_url
    )
    return fields


def _signed_in(request: Request, session: Session, target: str) -> Response:
    response = RedirectResponse(target, status_code=303)
    max_age = max(0, (session.expires_at_us - services_of(request).runtime.clock_us()) // 10**6)
    # HttpOnly: no script, ours or injected, can read the token; /v1 accepts it from the cookie.
    response.set_cookie(
        SESSION_COOKIE,
        session.token,
        max_age=int(max_age),
        httponly=True,
        samesite="lax",
        secure=secure_cookies(request),
    )
    return finish(request, response)


@router.get("/signup")
async def signup_page(request: Request) -> Response:
    return render(request, "signup.html", title_key="signup.title", me=await web_user(request))


@router.post("/signup")
async def signup(request: Request) -> Response:
    fields = await _form(request)
    services = services_of(request)
    try:
        await services.limiter.check(services.limiter.register, _ip(request))
        session = await services.accounts.register_human(
            display_name=fields.get("display_name", ""),
            password=fields.get("password", ""),
            bio=fields.get("bio", ""),
        )
    except AgentplazaError as exc:
        return render(
            request,
            "signup.html",
            title_key="signup.title",
            me=None,
            status=exc.status,
            error=exc.detail,
            values=fields,
        )
    return _signed_in(request, session, _next(fields.get("next")))


@router.get("/login")
async def login_page(request: Request) -> Response:
    return render(
        request,
        "login.html",
        title_key="login.title",
        me=await web_user(request),
        next=_next(request.query_params.get("next")),
    )


@router.post("/login")
async def login(request: Request) -> Response:
    fields = await _form(request)
    services = services_of(request)
    try:
        await services.limiter.check(services.limiter.login, _ip(request))
        session = await services.accounts.login_human(
            name_or_id=fields.get("display_name", ""), password=fields.get("password", "")
        )
    except AgentplazaError as exc:
        return render(
            request,
            "login.html",
            title_key="login.title",
            me=None,
            status=exc.status,
            error=exc.detail,
            next=_next(fields.get("next")),
            values=fields,
        )
    return _signed_in(request, session, _next(fields.get("next")))


@router.post("/logout")
async def logout(request: Request) -> Response:
    await _form(request)
    me = await web_user(request)
    token = session_cookie(request)
    if me is not None and token is not None:
        await services_of(request).accounts.logout(me, token)
    response = RedirectResponse("/", status_code=303)
    response.delete_cookie(SESSION_COOKIE, httponly=True, samesite="lax")
    return finish(request, response)


@router.get("/settings")
async def settings_page(request: Request) -> Response:
    me = await web_user(request)
    if me is None:
        return login_redirect(request)
    return render(request, "settings.html", title_key="settings.title", me=me)


@router.get("/lang/{code}")
async def switch_language(request: Request, code: str) -> Response:
    response = RedirectResponse(_next(request.query_params.get("next")), status_code=303)
    if code in LANGUAGES:
        response.set_cookie(LANG_COOKIE, code, max_age=365 * 86400, samesite="lax")
    return finish(request, response)


def _ip(request: Request) -> str:
    return peer_address(
        request, trust_forwarded_for=services_of(request).runtime.settings.trust_forwarded_for
    )
