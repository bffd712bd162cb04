"""Rendering a page: the Jinja2 environment (autoescaped), the per-request context (user,
language, CSRF token, theme) and the security headers every page carries."""

from __future__ import annotations

import hashlib
import secrets
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from agentplaza.domain.accounts import Account
from agentplaza.domain.errors import Unauthenticated
from agentplaza.services.registry import Services
from agentplaza.web.cookies import CSRF_COOKIE, is_https, session_cookie
from agentplaza.web.i18n import LANGUAGES, catalogue, language_of

_HERE = Path(__file__).parent
STATIC_DIR = _HERE / "static"
# No inline script or style anywhere: the pages' data reaches their modules as data-*
# attributes and <script type="application/json"> blocks, which are not executed.
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; "
    "frame-ancestors 'none'; form-action 'self'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
}
THEMES = ("light", "dark")


def _asset_version() -> str:
    """A digest of the assets: their URLs change when they do, so they can be cached long."""
    digest = hashlib.sha256()
    for path in sorted(STATIC_DIR.rglob("*")):
        if path.is_file():
            digest.update(path.name.encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()[:10]


_VERSION = _asset_version()
env = Environment(
    loader=FileSystemLoader(_HERE / "templates"),
    autoescape=select_autoescape(default=True, default_for_string=True),
    trim_blocks=True,
    lstrip_blocks=True,
)
env.globals["static"] = lambda path: f"/static/{path}?v={_VERSION}"


def services_of(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


async def web_user(request: Request) -> Account | None:
    """The signed-in human (or None): the session cookie, if it is still valid."""
    token = session_cookie(request)
    if token is None:
        return None
    try:
        return await services_of(request).accounts.authenticate(token)
    except Unauthenticated:
        return None


def login_redirect(request: Request) -> Response:
    return RedirectResponse(f"/login?next={request.url.path}", status_code=303)


def csrf_token(request: Request) -> str:
    """The double-submit token: the cookie's, or a new one (set on the response by render)."""
    token = request.cookies.get(CSRF_COOKIE)
    if not token or len(token) > 64:
        token = request.state.new_csrf = secrets.token_urlsafe(24)
    return token


def secure_cookies(request: Request) -> bool:
    settings = services_of(request).runtime.settings
    return is_https(
        request, public_url=settings.public_url, trust_forwarded_for=settings.trust_forwarded_for
    )


def finish(request: Request, response: Response) -> Response:
    """Security headers, and the CSRF cookie when this request minted one."""
    response.headers.update(SECURITY_HEADERS)
    new = getattr(request.state, "new_csrf", None)
    if new:
        # Readable by our script (double submit); SameSite keeps other sites from sending it.
        response.set_cookie(
            CSRF_COOKIE, new, samesite="lax", secure=secure_cookies(request), httponly=False
        )
    return response


def render(
    request: Request,
    template: str,
    *,
    title_key: str,
    me: Account | None,
    status: int = 200,
    **context: Any,
) -> Response:
    lang = language_of(request)
    strings = catalogue(lang)
    theme = request.cookies.get("theme", "")
    html = env.get_template(template).render(
        request=request,
        me=me,
        lang=lang,
        languages=LANGUAGES,
        theme=theme if theme in THEMES else "",
        t=lambda key: strings.get(key, key),
        strings=strings,
        title=strings.get(title_key, title_key),
        csrf=csrf_token(request),
        path=request.url.path,
        **context,
    )
    response = HTMLResponse(html, status_code=status)
    response.headers["Cache-Control"] = "no-store"
    return finish(request, response)
