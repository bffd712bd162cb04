"""The web app over plain HTTP (both backends): the session cookie's flags, CSRF on every
cookie-authenticated change (token and Origin), the CSP and no inline script or style, gzip,
the language, and `/` for browsers and API clients."""

from __future__ import annotations

import re
from collections.abc import Callable

import httpx
import pytest

from tests.conftest import unique_name
from tests.server import ServerProcess

PASSWORD = "password123"
PUBLIC_PAGES = ("/", "/rooms/lobby", "/directory", "/login", "/signup")
PRIVATE_PAGES = ("/settings", "/moments", "/agents")


async def _signed_in(client: httpx.AsyncClient) -> str:
    """Sign up through the form as a browser would; returns the CSRF token."""
    await client.get("/signup", headers={"Accept": "text/html"})
    csrf = client.cookies["ap_csrf"]
    r = await client.post(
        "/signup",
        data={"csrf": csrf, "display_name": unique_name("web"), "password": PASSWORD},
    )
    assert r.status_code == 303, r.text
    return csrf


async def test_session_cookie_and_csrf(client: httpx.AsyncClient) -> None:
    await client.get("/signup")
    csrf = client.cookies["ap_csrf"]
    r = await client.post(
        "/signup", data={"csrf": csrf, "display_name": unique_name("w"), "password": PASSWORD}
    )
    cookie = r.headers["set-cookie"].lower()
    assert "ap_session=pt_" in cookie
    assert "httponly" in cookie and "samesite=lax" in cookie and "secure" not in cookie
    me = await client.get("/v1/agents/me")
    assert me.status_code == 200 and me.json()["user_type"] == "human"

    change = {"bio": "changed"}
    r = await client.patch("/v1/agents/me", json=change)  # no token
    assert r.status_code == 403 and r.json()["code"] == "csrf_failed"
    r = await client.patch("/v1/agents/me", json=change, headers={"X-CSRF-Token": "forged"})
    assert r.status_code == 403 and r.json()["code"] == "csrf_failed"
    evil = {"Origin": "http://evil.example", "X-CSRF-Token": csrf}
    r = await client.patch("/v1/agents/me", json=change, headers=evil)
    assert r.status_code == 403 and r.json()["code"] == "csrf_failed"
    r = await client.patch("/v1/agents/me", json=change, headers={"Origin": "http://evil.example"})
    assert r.status_code == 403
    # The fast-path send and the form posts are guarded too.
    r = await client.post("/v1/messages", json={"to": "10000", "content": "hi"})
    assert r.status_code == 403 and r.json()["code"] == "csrf_failed"
    r = await client.post("/logout", data={"csrf": "forged"})
    assert r.status_code == 403
    assert (await client.get("/v1/agents/me")).status_code == 200  # still signed in

    ours = {"Origin": str(client.base_url).rstrip("/"), "X-CSRF-Token": csrf}
    r = await client.patch("/v1/agents/me", json=change, headers=ours)
    assert r.status_code == 200 and r.json()["bio"] == "changed"


async def test_bearer_keys_need_no_csrf(client: httpx.AsyncClient) -> None:
    r = await client.post("/v1/agents/register", json={"display_name": unique_name("b")})
    key = r.json()["api_key"]
    async with httpx.AsyncClient(base_url=client.base_url) as bare:
        r = await bare.patch(
            "/v1/agents/me",
            json={"bio": "x"},
            headers={"Authorization": f"Bearer {key}", "Origin": "http://elsewhere.example"},
        )
    assert r.status_code == 200


async def test_log_out_ends_the_session(client: httpx.AsyncClient) -> None:
    csrf = await _signed_in(client)
    token = client.cookies["ap_session"]
    r = await client.post("/logout", data={"csrf": csrf})
    assert r.status_code == 303 and "ap_session=" in r.headers["set-cookie"]
    r = await client.get("/v1/agents/me", headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 401


async def test_login_form(client: httpx.AsyncClient) -> None:
    name = unique_name("l")
    await client.post("/v1/users/register", json={"display_name": name, "password": PASSWORD})
    await client.get("/login")
    csrf = client.cookies["ap_csrf"]
    r = await client.post(
        "/login", data={"csrf": csrf, "display_name": name, "password": "wrong password"}
    )
    assert r.status_code == 401 and "wrong name or password" in r.text
    # `next` is a path of ours only: no open redirect.
    for elsewhere in ("//evil.example", "/\\evil.example", "https://evil.example/"):
        r = await client.post(
            "/login",
            data={"csrf": csrf, "display_name": name, "password": PASSWORD, "next": elsewhere},
        )
        assert r.status_code == 303 and r.headers["location"] == "/", elsewhere
    r = await client.post(
        "/login",
        data={"csrf": csrf, "display_name": name, "password": PASSWORD, "next": "/moments"},
    )
    assert r.status_code == 303 and r.headers["location"] == "/moments"


async def test_pages_csp_no_inline_script_or_style(client: httpx.AsyncClient) -> None:
    await _signed_in(client)
    for path in PUBLIC_PAGES + PRIVATE_PAGES:
        r = await client.get(path, headers={"Accept": "text/html"})
        assert r.status_code == 200, path
        csp = r.headers["content-security-policy"]
        assert "script-src 'self'" in csp and "unsafe-inline" not in csp, path
        assert r.headers["x-content-type-options"] == "nosniff"
        for tag in re.findall(r"<script\b[^>]*>", r.text):
            assert "src=" in tag or 'type="application/json"' in tag, (path, tag)
        assert not re.search(r"\sstyle=", r.text), path
        assert not re.search(r"\son[a-z]+=", r.text), path
    for path in PRIVATE_PAGES:
        async with httpx.AsyncClient(base_url=client.base_url) as anonymous:
            r = await anonymous.get(path)
        assert r.status_code == 303 and r.headers["location"].startswith("/login")


async def test_gzip_and_root(client: httpx.AsyncClient) -> None:
    page = await client.get("/rooms/lobby", headers={"Accept-Encoding": "gzip"})
    assert page.headers["content-encoding"] == "gzip"
    css = await client.get("/static/css/app.css", headers={"Accept-Encoding": "gzip"})
    assert css.headers["content-encoding"] == "gzip" and "immutable" in css.headers["cache-control"]
    # The API's JSON is left alone (its hot paths are spared the CPU).
    api = await client.get("/v1/version", headers={"Accept-Encoding": "gzip"})
    assert "content-encoding" not in api.headers
    assert (await client.get("/")).json()["name"] == "agentplaza"
    html = await client.get("/", headers={"Accept": "text/html,application/xhtml+xml"})
    assert html.headers["content-type"].startswith("text/html")


async def test_language(client: httpx.AsyncClient) -> None:
    zh = await client.get("/rooms/lobby", headers={"Accept-Language": "zh-CN,zh;q=0.9,en;q=0.5"})
    assert '<html lang="zh-CN"' in zh.text and "公共聊天室" in zh.text
    en = await client.get("/rooms/lobby", headers={"Accept-Language": "fr, en;q=0.3"})
    assert '<html lang="en"' in en.text and "Public room" in en.text
    r = await client.get("/lang/zh?next=/directory")
    assert r.status_code == 303 and r.headers["location"] == "/directory"
    picked = await client.get("/rooms/lobby", headers={"Accept-Language": "en"})
    assert "公共聊天室" in picked.text  # the switch wins over the header


@pytest.mark.parametrize(("trusted", "secure"), [("1", True), ("0", False)])
async def test_secure_cookies_behind_a_tls_proxy(
    server_factory: Callable[..., ServerProcess], trusted: str, secure: bool
) -> None:
    proc = server_factory(
        {"AGENTPLAZA_TRUST_FORWARDED_FOR": trusted, "AGENTPLAZA_RATE_LIMITS_ENABLED": "0"}
    )
    async with httpx.AsyncClient(base_url=proc.url) as c:
        r = await c.get("/login", headers={"X-Forwarded-Proto": "https"})
        assert ("secure" in r.headers["set-cookie"].lower()) is secure
