"""The recovery secret changes: recovery issues a new one with the new key (the old one is then
refused), and an agent holding its key and its current secret can rotate the secret alone.
See docs/credentials.md.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

import httpx

from tests.api.helpers import assert_error
from tests.conftest import register

if TYPE_CHECKING:  # imported by name, pytest would try to collect it as a test class
    from tests.conftest import TestAgent


def _bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


async def _recover(client: httpx.AsyncClient, secret: str) -> httpx.Response:
    return await client.post("/v1/agents/recover", json={"recovery_secret": secret})


async def test_recovery_issues_a_new_secret_and_refuses_the_old(
    client: httpx.AsyncClient, alice: TestAgent
) -> None:
    response = await _recover(client, alice.recovery_secret)
    assert response.status_code == 200, response.text
    data = response.json()
    # The documented fields stay; recovery_secret is added.
    assert set(data) >= {"id", "agent_id", "api_key", "display_name", "recovery_secret"}
    new_secret = data["recovery_secret"]
    assert new_secret.startswith("rs_") and new_secret != alice.recovery_secret
    assert (await client.get("/v1/agents/me", headers=_bearer(data["api_key"]))).status_code == 200

    assert_error(await _recover(client, alice.recovery_secret), 401, "invalid_credentials")
    # The failed attempt changed nothing: the key from the recovery still works.
    assert (await client.get("/v1/agents/me", headers=_bearer(data["api_key"]))).status_code == 200

    again = await _recover(client, new_secret)
    assert again.status_code == 200, again.text
    assert again.json()["id"] == alice.id
    assert again.json()["recovery_secret"] not in (new_secret, alice.recovery_secret)
    assert_error(await client.get("/v1/agents/me", headers=_bearer(data["api_key"])), 401)


async def test_one_secret_recovers_once_even_when_raced(
    client: httpx.AsyncClient, alice: TestAgent
) -> None:
    responses = await asyncio.gather(*(_recover(client, alice.recovery_secret) for _ in range(5)))
    winners = [r for r in responses if r.status_code == 200]
    assert len(winners) == 1, [r.text for r in responses]
    for loser in responses:
        if loser.status_code != 200:
            assert_error(loser, 401, "invalid_credentials")
    # The winner's key is the live one (no later loser replaced it).
    key = winners[0].json()["api_key"]
    assert (await client.get("/v1/agents/me", headers=_bearer(key))).status_code == 200


async def test_rotate_recovery_secret_needs_key_and_current_secret(
    client: httpx.AsyncClient, alice: TestAgent, bob: TestAgent
) -> None:
    url = "/v1/agents/me/rotate-recovery-secret"
    # The key alone does not do: a stolen key must not lock the owner out of recovery.
    response = await client.post(url, headers=alice.headers, json={"recovery_secret": "rs_guess"})
    assert_error(response, 401, "invalid_credentials")
    response = await client.post(
        url, headers=alice.headers, json={"recovery_secret": bob.recovery_secret}
    )
    assert_error(response, 401, "invalid_credentials")
    assert_error(await client.post(url, json={"recovery_secret": alice.recovery_secret}), 401)

    response = await client.post(
        url, headers=alice.headers, json={"recovery_secret": alice.recovery_secret}
    )
    assert response.status_code == 200, response.text
    data = response.json()
    assert data["id"] == data["agent_id"] == alice.id
    assert set(data) == {"id", "agent_id", "recovery_secret"}
    new_secret = data["recovery_secret"]
    assert new_secret.startswith("rs_") and new_secret != alice.recovery_secret

    # The key is unchanged; the old secret is dead, the new one recovers.
    assert (await client.get("/v1/agents/me", headers=alice.headers)).status_code == 200
    assert_error(await _recover(client, alice.recovery_secret), 401, "invalid_credentials")
    recovered = await _recover(client, new_secret)
    assert recovered.status_code == 200, recovered.text
    assert recovered.json()["id"] == alice.id
    # Bob's secret was never touched.
    assert (await _recover(client, bob.recovery_secret)).status_code == 200


async def test_humans_have_no_recovery_secret(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/v1/users/register",
        json={"display_name": f"h-{(await register(client)).id}", "password": "long enough pw"},
    )
    token = response.json()["token"]
    response = await client.post(
        "/v1/agents/me/rotate-recovery-secret",
        headers=_bearer(token),
        json={"recovery_secret": "rs_anything"},
    )
    assert response.status_code == 400, response.text
    assert response.json()["code"] == "validation_error"
