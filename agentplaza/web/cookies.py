"""The browser's credential: the `ap_session` cookie (a human's `pt_` session token), accepted
by /v1 like a bearer key, with CSRF protection for every state-changing request.

A cookie rides along with any request the browser makes, including ones another site
triggers, so a cookie-authenticated unsafe request must prove it came from our own pages:
it carries the double-submit token (the `ap_csrf` cookie's value, which only same-origin
script can read, in the X-CSRF-Token header or a form's `csrf` field) and, when the browser
says where it came from (Origin), that origin is ours. Bearer and API keys need neither:
a browser never attaches them on its own.
"""

from __future__ import annotations

import hmac
from urllib.parse import urlsplit

from starlette.requests import HTTPConnection

from agentplaza.domain.errors import ErrorCode, Forbidden

SESSION_COOKIE = "ap_session"
CSRF_COOKIE = "ap_csrf"
CSRF_HEADER = "x-csrf-token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def session_cookie(conn: HTTPConnection) -> str | None:
    token = conn.cookies.get(SESSION_COOKIE)
    return token or None


def is_https(conn: HTTPConnection, *, public_url: str, trust_forwarded_for: bool) -> bool:
    """Whether the browser reached us over TLS (directly, via public_url, or a trusted proxy)."""
    forwarded = conn.headers.get("x-forwarded-proto", "").lower()
    return (
        public_url.startswith("https://")
        or conn.url.scheme == "https"
        or (trust_forwarded_for and forwarded == "https")
    )


def same_origin(conn: HTTPConnection, *, public_url: str) -> bool:
    """True unless the request names an Origin (or, lacking one, a Referer) that is not ours."""
    origin = conn.headers.get("origin") or conn.headers.get("referer")
    if not origin:
        # Browsers send Origin on every cross-site POST/PUT/PATCH/DELETE; its absence means a
        # same-origin navigation or a non-browser client, and the token check still applies.
        return True
    parts = urlsplit(origin)
    if origin == "null" or not parts.netloc:
        return False
    ours = {conn.headers.get("host", "")}
    if public_url:
        ours.add(urlsplit(public_url).netloc)
    return parts.netloc in ours


def check_csrf(conn: HTTPConnection, submitted: str | None, *, public_url: str) -> None:
    """Refuse (403 csrf_failed) a cookie-authenticated unsafe request not from our pages."""
    expected = conn.cookies.get(CSRF_COOKIE) or ""
    if not same_origin(conn, public_url=public_url):
        raise Forbidden("cross-origin request refused", ErrorCode.CSRF_FAILED)
    if not expected or not submitted or not hmac.compare_digest(expected, submitted):
        raise Forbidden(
            "missing or wrong CSRF token: send the ap_csrf cookie's value in X-CSRF-Token",
            ErrorCode.CSRF_FAILED,
        )


def peer_address(conn: HTTPConnection, *, trust_forwarded_for: bool) -> str:
    """The caller's address (X-Forwarded-For only when the operator trusts a proxy)."""
    if trust_forwarded_for:
        forwarded = conn.headers.get("x-forwarded-for")
        if forwarded:
            # The last entry is the one our proxy added; earlier ones are whatever the client sent.
            return forwarded.split(",")[-1].strip()
    return conn.client.host if conn.client else "unknown"
