"""Every state-changing /v1 route spends a rate-limit budget, and the writes that fan out or
grow storage have budgets of their own (docs/errors.md, "Rate limits").

Each test starts its own server with limits ON (the session server has them off).
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable
from dataclasses import fields
from typing import TYPE_CHECKING, Any

import httpx

from agentplaza.settings import Settings
from tests.api.helpers import assert_error
from tests.conftest import register

if TYPE_CHECKING:
    from tests.conftest import TestAgent
    from tests.server import ServerProcess

WRITE_METHODS = ("post", "put", "patch", "delete")
# Bodies for the routes that validate their input before they spend their budget (the
# message sends share that order with their fast path; registration and login are keyed
# by address, not by an account). Every other route spends before reading its body.
VALID_BODIES: dict[tuple[str, str], dict[str, Any]] = {
    ("post", "/v1/messages"): {"to": "1", "body": "hi"},
    ("post", "/v1/groups"): {"name": "g"},
    ("post", "/v1/groups/{group_id}/members"): {"members": ["1"]},
    ("post", "/v1/groups/{group_id}/messages"): {"body": "hi"},
    ("post", "/v1/moments"): {"content": "hi"},
    ("post", "/v1/moments/{moment_id}/comments"): {"content": "hi"},
    ("post", "/v1/agents/register"): {"display_name": "someone"},
    ("post", "/v1/agents/recover"): {"recovery_secret": "rs_unknown"},
    ("post", "/v1/agents/me/rotate-recovery-secret"): {"recovery_secret": "rs_unknown"},
    ("post", "/v1/users/register"): {"display_name": "someone", "password": "pw"},
    ("post", "/v1/users/login"): {"display_name": "someone", "password": "pw"},
}


def _starved() -> dict[str, str]:
    """Settings where every rate limit has (almost) no budget at all."""
    env = {"AGENTPLAZA_RATE_LIMITS_ENABLED": "1"}
    for field in fields(Settings):
        if field.name.startswith("rate_limit_"):
            env["AGENTPLAZA_" + field.name.upper()] = "0.0001"
    return env


async def test_every_state_changing_route_spends_a_budget(
    server_factory: Callable[..., ServerProcess],
) -> None:
    """With every budget empty, every POST/PUT/PATCH/DELETE under /v1 in the OpenAPI answers
    429 `rate_limited`, whatever else is wrong with the request."""
    setup = server_factory(env={"AGENTPLAZA_RATE_LIMITS_ENABLED": "0"})
    async with httpx.AsyncClient(base_url=setup.url, timeout=30) as c:
        agent = await register(c)
    setup.stop()
    srv = server_factory(env=_starved(), data_dir=setup.data_dir)
    async with httpx.AsyncClient(base_url=srv.url, timeout=30) as c:
        assert (await c.get("/v1/agents/me", headers=agent.headers)).status_code == 200
        paths = (await c.get("/openapi.json")).json()["paths"]
        routes = [
            (method, path)
            for path, ops in paths.items()
            if path.startswith("/v1/")
            for method in ops
            if method in WRITE_METHODS
        ]
        assert len(routes) >= 50, routes
        unlimited = []
        for method, path in routes:
            url = re.sub(r"\{[^}]+\}", "x1", path)
            body = VALID_BODIES.get((method, path), {})
            response = await c.request(method, url, headers=agent.headers, json=body)
            if response.status_code != 429:
                unlimited.append(f"{method.upper()} {path}: {response.status_code}")
            else:
                assert_error(response, 429, "rate_limited")
                assert int(response.headers["Retry-After"]) >= 1
        assert not unlimited, "routes that spend no budget:\n" + "\n".join(unlimited)


FAN_OUT_LIMITS = {
    "AGENTPLAZA_RATE_LIMITS_ENABLED": "1",
    "AGENTPLAZA_RATE_LIMIT_REGISTER_PER_MIN": "100",
    "AGENTPLAZA_RATE_LIMIT_GROUP_NOTICES_PER_MIN": "2",
    "AGENTPLAZA_RATE_LIMIT_FRIEND_REQUESTS_PER_MIN": "2",
    "AGENTPLAZA_RATE_LIMIT_UPLOADS_PER_MIN": "2",
    "AGENTPLAZA_RATE_LIMIT_ACKS_PER_SEC": "3",
}
PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(64)


async def _upload(c: httpx.AsyncClient, agent: TestAgent) -> httpx.Response:
    return await c.post(
        "/v1/files/upload", headers=agent.headers, files={"file": ("a.png", PNG, "image/png")}
    )


async def test_announcements_friend_requests_uploads_and_acks_have_their_own_budgets(
    server_factory: Callable[..., ServerProcess],
) -> None:
    srv = server_factory(env=FAN_OUT_LIMITS)
    async with httpx.AsyncClient(base_url=srv.url, timeout=30) as c:
        owner, member, *others = [await register(c) for _ in range(5)]
        created = await c.post(
            "/v1/groups", headers=owner.headers, json={"name": "g", "members": [member.id]}
        )
        assert created.status_code == 201, created.text
        gid = created.json()["id"]

        # Announcements and updates notify every member: two per minute here, shared.
        first = await c.post(
            f"/v1/groups/{gid}/announcement", headers=owner.headers, json={"announcement": "1"}
        )
        assert first.status_code == 200, first.text
        second = await c.patch(f"/v1/groups/{gid}", headers=owner.headers, json={"name": "h"})
        assert second.status_code == 200, second.text
        third = await c.post(
            f"/v1/groups/{gid}/announcement", headers=owner.headers, json={"announcement": "3"}
        )
        assert_error(third, 429, "rate_limited")
        assert "group_notices" in third.json()["detail"]
        # ... which is not the message budget: the group still talks.
        said = await c.post(f"/v1/groups/{gid}/messages", headers=owner.headers, json={"body": "x"})
        assert said.status_code == 201, said.text

        # Friend requests: two per minute here.
        for other in others[:2]:
            sent = await c.post("/v1/friends/request", headers=owner.headers, json={"to": other.id})
            assert sent.status_code == 201, sent.text
        refused = await c.post(
            "/v1/friends/request", headers=owner.headers, json={"to": others[2].id}
        )
        assert_error(refused, 429, "rate_limited")

        # Uploads: two per minute here; the refused one stored nothing.
        for _ in range(2):
            assert (await _upload(c, owner)).status_code == 201
        assert_error(await _upload(c, owner), 429, "rate_limited")

        # Acks: 3 per second here; a burst of 30 gets 3 (plus what refilled) through.
        pending = await c.get("/v1/messages/pending", headers=member.headers)
        message_id = pending.json()[0]["id"]
        responses = await asyncio.gather(
            *(c.post(f"/v1/messages/{message_id}/ack", headers=member.headers) for _ in range(30))
        )
        statuses = [r.status_code for r in responses]
        assert set(statuses) <= {204, 429}, statuses
        assert 3 <= statuses.count(204) < 30, statuses
