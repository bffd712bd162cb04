"""/studio/api/auth (seed 004): register with username + email + password, login, logout, me;
the token is a plaza session token and any plaza credential works on /studio."""

from __future__ import annotations

import uuid
from typing import Any

import httpx

from tests.conftest import register as register_agent
from tests.conftest import unique_name
from tests.studio.conftest import PASSWORD, register_human


def assert_studio_error(response: httpx.Response, status: int) -> dict[str, Any]:
    """Seed 004's error shape: `{"success": false, "error": str, "code": <status as int>}`."""
    assert response.status_code == status, response.text[:500]
    body: dict[str, Any] = response.json()
    assert body["success"] is False, body
    assert isinstance(body["error"], str) and body["error"], body
    assert body["code"] == status and isinstance(body["code"], int), body
    return body


def new_user() -> dict[str, str]:
    name = unique_name("u")[-40:]
    return {"username": name, "email": f"{name}@Example.com", "password": PASSWORD}


async def test_register_login_me_logout_as_the_seed_shows(studio: httpx.AsyncClient) -> None:
    body = new_user()
    r = await studio.post("/studio/api/auth/register", json=body)
    assert r.status_code == 201, r.text
    envelope = r.json()
    assert envelope["success"] is True and isinstance(envelope["message"], str)
    data = envelope["data"]
    assert data["token_type"] == "bearer" and data["token"].startswith("pt_")
    user = data["user"]
    assert user["username"] == body["username"]
    assert user["email"] == body["email"].lower()
    assert user["id"].startswith("P") and user["created_at"].endswith("Z")

    r = await studio.post(
        "/studio/api/auth/login", json={"username": body["username"], "password": PASSWORD}
    )
    assert r.status_code == 200, r.text
    login = r.json()["data"]
    assert login["user"] == user and login["token"] != data["token"]

    headers = {"Authorization": f"Bearer {login['token']}"}
    me = await studio.get("/studio/api/auth/me", headers=headers)
    assert me.status_code == 200 and me.json() == {
        "success": True,
        "message": me.json()["message"],
        "data": user,
    }
    # The same account on the plaza's own API.
    plaza = await studio.get("/v1/agents/me", headers=headers)
    assert plaza.status_code == 200 and plaza.json()["id"] == user["id"]

    out = await studio.post("/studio/api/auth/logout", headers=headers)
    assert out.status_code == 200 and out.json()["success"] is True
    assert_studio_error(await studio.get("/studio/api/auth/me", headers=headers), 401)
    # The registration's own session is another one: still valid.
    first = {"Authorization": f"Bearer {data['token']}"}
    assert (await studio.get("/studio/api/auth/me", headers=first)).status_code == 200


async def test_plaza_credentials_work_on_studio(studio: httpx.AsyncClient) -> None:
    human = await register_human(studio)  # registered on /v1: no email
    me = (await studio.get("/studio/api/auth/me", headers=human.headers)).json()["data"]
    assert me["id"] == human.id and me["username"] == human.name and me["email"] is None
    agent = await register_agent(studio)
    me = (await studio.get("/studio/api/auth/me", headers=agent.headers)).json()["data"]
    assert me["id"] == agent.id and me["user_type"] == "agent"
    # An API key is not a session: logout says so (400), the key keeps working.
    assert_studio_error(await studio.post("/studio/api/auth/logout", headers=agent.headers), 400)
    assert (await studio.get("/studio/api/auth/me", headers=agent.headers)).status_code == 200


async def test_duplicates_are_409(studio: httpx.AsyncClient) -> None:
    body = new_user()
    assert (await studio.post("/studio/api/auth/register", json=body)).status_code == 201
    same_name = {**new_user(), "username": body["username"]}
    assert_studio_error(await studio.post("/studio/api/auth/register", json=same_name), 409)
    same_email = {**new_user(), "email": body["email"].upper()}
    err = assert_studio_error(await studio.post("/studio/api/auth/register", json=same_email), 409)
    assert "email" in err["error"]


async def test_wrong_password_and_missing_credentials_are_401(studio: httpx.AsyncClient) -> None:
    body = new_user()
    assert (await studio.post("/studio/api/auth/register", json=body)).status_code == 201
    wrong = {"username": body["username"], "password": PASSWORD + "x"}
    assert_studio_error(await studio.post("/studio/api/auth/login", json=wrong), 401)
    nobody = {"username": f"nobody-{uuid.uuid4().hex[:8]}", "password": PASSWORD}
    assert_studio_error(await studio.post("/studio/api/auth/login", json=nobody), 401)
    assert_studio_error(await studio.get("/studio/api/auth/me"), 401)
    bad = {"Authorization": "Bearer pt_notarealtoken"}
    assert_studio_error(await studio.get("/studio/api/auth/me", headers=bad), 401)
    assert_studio_error(await studio.post("/studio/api/auth/logout"), 401)


async def test_bad_registrations_are_400(studio: httpx.AsyncClient) -> None:
    good = new_user()
    cases: list[Any] = [
        {k: v for k, v in good.items() if k != "email"},
        {k: v for k, v in good.items() if k != "username"},
        {**good, "email": "not-an-email"},
        {**good, "email": "a b@example.com"},
        {**good, "email": "x" * 300 + "@example.com"},
        {**good, "password": "short"},
        {**good, "username": "x" * 65},
        {**good, "username": "bad\x00name"},
        {**good, "username": 12},
        [good],
    ]
    for case in cases:
        r = await studio.post("/studio/api/auth/register", json=case)
        assert_studio_error(r, 400)
    r = await studio.post(
        "/studio/api/auth/register",
        content=b"{not json",
        headers={"Content-Type": "application/json"},
    )
    assert_studio_error(r, 400)
    assert_studio_error(await studio.post("/studio/api/auth/login", json={"username": "x"}), 400)


async def test_oversized_body_is_413(studio: httpx.AsyncClient) -> None:
    huge = {**new_user(), "padding": "x" * 2_000_000}
    assert_studio_error(await studio.post("/studio/api/auth/register", json=huge), 413)


async def test_register_and_login_spend_the_plaza_budgets(server_factory: Any) -> None:
    """The same `register` and `login` budgets as /v1 (by address), 429 in seed 004's shape."""
    srv = server_factory(
        env={
            "AGENTPLAZA_RATE_LIMIT_REGISTER_PER_MIN": "2",
            "AGENTPLAZA_RATE_LIMIT_LOGIN_PER_MIN": "2",
        }
    )
    async with httpx.AsyncClient(base_url=srv.url, timeout=30) as c:
        first = new_user()
        assert (await c.post("/studio/api/auth/register", json=first)).status_code == 201
        v1 = {"display_name": unique_name("h")[-40:], "password": PASSWORD}
        assert (await c.post("/v1/users/register", json=v1)).status_code == 201
        limited = await c.post("/studio/api/auth/register", json=new_user())
        assert_studio_error(limited, 429)
        assert int(limited.headers["Retry-After"]) >= 1
        login = {"username": first["username"], "password": PASSWORD}
        for _ in range(2):
            assert (await c.post("/studio/api/auth/login", json=login)).status_code == 200
        assert_studio_error(await c.post("/studio/api/auth/login", json=login), 429)
