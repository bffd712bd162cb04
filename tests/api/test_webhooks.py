"""Webhooks end to end: registration, signed delivery to a real local receiver, retries,
restart, the SSRF policy, authorization, the legacy endpoints and group fan-out."""

from __future__ import annotations

import asyncio
import itertools
import json
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import pytest
from agentim.webhook import WebhookVerifier
from aiohttp import web

from tests.api.helpers import assert_error, send, wait_until
from tests.conftest import own_server, register, unique_name
from tests.server import TEST_HOST, ServerProcess, free_port

if TYPE_CHECKING:
    from tests.conftest import TestAgent

# Tiny backoff so retries happen within a test; a short poll for latency.
FAST = {
    "AGENTPLAZA_RATE_LIMITS_ENABLED": "0",
    "AGENTPLAZA_WEBHOOK_ALLOW_PRIVATE": "1",
    "AGENTPLAZA_WEBHOOK_BACKOFF_BASE_SECS": "0.05",
    "AGENTPLAZA_WEBHOOK_BACKOFF_MAX_SECS": "0.2",
    "AGENTPLAZA_WEBHOOK_POLL_INTERVAL_SECS": "0.05",
    "AGENTPLAZA_WEBHOOK_TIMEOUT_SECS": "2",
}
WAIT = 15.0


@dataclass
class Hit:
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> dict[str, Any]:
        data: dict[str, Any] = json.loads(self.body)
        return data


@dataclass
class Receiver:
    """A real HTTP server on 127.0.0.1 that records every POST and fails the first
    `failures` of them with 500."""

    port: int
    hits: list[Hit] = field(default_factory=list)
    failures: int = 0
    answered: int = 0
    trickles: int = 0  # answers that send 200 and then a byte every 0.5 s for 20 s
    failed_at: list[float] = field(default_factory=list)  # loop time of each 500 answered

    def url(self, path: str = "/hook") -> str:
        return f"http://{TEST_HOST}:{self.port}{path}"

    async def handle(self, request: web.Request) -> web.StreamResponse:
        self.answered += 1
        if self.failures > 0:
            self.failures -= 1
            self.failed_at.append(asyncio.get_running_loop().time())
            return web.Response(status=500, text="receiver down")
        if self.trickles > 0:
            self.trickles -= 1
            response = web.StreamResponse(status=200)
            await response.prepare(request)
            for _ in range(40):  # each read well inside the client's timeout
                await response.write(b".")
                await asyncio.sleep(0.5)
            return response
        self.hits.append(Hit(request.path, dict(request.headers), await request.read()))
        return web.Response(status=200, text="ok")

    def on(self, path: str) -> list[Hit]:
        return [h for h in self.hits if h.path == path]


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    recv = Receiver(port=free_port())
    app = web.Application()
    app.router.add_post("/{tail:.*}", recv.handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, TEST_HOST, recv.port)
    await site.start()
    try:
        yield recv
    finally:
        await runner.cleanup()


@pytest.fixture(scope="module")
def hook_server(backend: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """A server that may call 127.0.0.1, with tiny retry delays."""
    with own_server(backend, tmp_path_factory, "hooks", FAST) as proc:
        yield proc


@pytest.fixture
async def hc(hook_server: ServerProcess) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=hook_server.url, timeout=30) as c:
        yield c


async def hook(client: httpx.AsyncClient, agent: TestAgent, url: str) -> dict[str, Any]:
    response = await client.post("/v1/agents/me/webhook", headers=agent.headers, json={"url": url})
    assert response.status_code == 201, response.text
    data: dict[str, Any] = response.json()
    return data


async def state(client: httpx.AsyncClient, agent: TestAgent) -> dict[str, Any]:
    response = await client.get("/v1/agents/me/webhook", headers=agent.headers)
    assert response.status_code == 200, response.text
    data: dict[str, Any] = response.json()
    return data


async def settled(client: httpx.AsyncClient, agent: TestAgent) -> dict[str, Any]:
    """The webhook state once nothing is pending (the receiver sees a POST before the server
    records its outcome)."""

    async def none_pending() -> bool:
        return bool((await state(client, agent))["pending"] == 0)

    await wait_until(none_pending, WAIT, "no pending deliveries")
    return await state(client, agent)


async def hits_reach(recv: Receiver, path: str, n: int) -> None:
    async def enough() -> bool:
        return len(recv.on(path)) >= n

    await wait_until(enough, WAIT, f"{n} deliveries to {path}")


# --- registration ----------------------------------------------------------------------------


async def test_register_shows_the_secret_once(hc: httpx.AsyncClient, receiver: Receiver) -> None:
    bob = await register(hc)
    assert_error(await hc.get("/v1/agents/me/webhook", headers=bob.headers), 404)
    assert_error(await hc.delete("/v1/agents/me/webhook", headers=bob.headers), 404)
    created = await hook(hc, bob, receiver.url("/a"))
    assert created["url"] == receiver.url("/a")
    assert created["webhook_secret"].startswith("whsec_")
    assert len(created["webhook_secret"]) == 6 + 43
    assert created["created_at"]
    got = await state(hc, bob)
    assert "webhook_secret" not in got and created["webhook_secret"] not in json.dumps(got)
    assert got["url"] == receiver.url("/a")
    assert got["active"] is True
    assert (got["pending"], got["delivered"], got["failed"]) == (0, 0, 0)
    assert got["last_error"] is None and got["recent_failures"] == []
    again = await hook(hc, bob, receiver.url("/b"))
    assert again["webhook_secret"] != created["webhook_secret"]
    assert (await state(hc, bob))["url"] == receiver.url("/b")
    response = await hc.delete("/v1/agents/me/webhook", headers=bob.headers)
    assert response.status_code == 204
    body = assert_error(await hc.get("/v1/agents/me/webhook", headers=bob.headers), 404)
    assert body["code"] == "webhook_not_found"


async def test_bad_urls_are_refused(hc: httpx.AsyncClient) -> None:
    bob = await register(hc)
    bad = ["ftp://example.com/x", "https://u:p@example.com/", "not a url", ""]
    # Valid for Python's IDNA 2003 but not for the HTTP client's IDNA 2008: every delivery
    # would fail, so registration refuses it.
    bad.append("https://\u2603.example.com/hook")
    for url in bad:
        response = await hc.post("/v1/agents/me/webhook", headers=bob.headers, json={"url": url})
        assert_error(response, 400)
    assert_error(await hc.post("/v1/agents/me/webhook", headers=bob.headers, json={}), 400)


# --- delivery --------------------------------------------------------------------------------


async def test_delivery_is_signed_and_is_the_message(
    hc: httpx.AsyncClient, receiver: Receiver
) -> None:
    alice, bob = await register(hc), await register(hc)
    secret = (await hook(hc, bob, receiver.url("/bob")))["webhook_secret"]
    sent = await send(hc, alice, bob.id, "hello hook")
    await hits_reach(receiver, "/bob", 1)
    hit = receiver.on("/bob")[0]
    headers = {k.lower(): v for k, v in hit.headers.items()}
    assert WebhookVerifier(secret).verify(
        hit.body, headers["x-agentim-signature"], headers["x-agentim-timestamp"]
    )
    assert not WebhookVerifier("whsec_wrong").verify(
        hit.body, headers["x-agentim-signature"], headers["x-agentim-timestamp"]
    )
    assert headers["content-type"] == "application/json"
    assert headers["x-agentim-event"] == "message.created"
    assert headers["x-agentim-delivery"]
    assert headers["user-agent"].startswith("agentplaza-webhook/")
    msg = hit.json()
    assert msg["id"] == sent["id"]
    assert msg["from"] == alice.id and msg["to"] == bob.id
    assert msg["content"]["body"] == "hello hook"
    assert msg["thread_id"] == sent["thread_id"]
    assert isinstance(msg["seq"], int)
    assert msg["event"] == "message.created"
    got = await settled(hc, bob)
    assert (got["pending"], got["delivered"]) == (0, 1)
    # No self-echo: alice has no webhook, and bob's receiver saw only bob's delivery.
    assert len(receiver.hits) == 1


async def test_a_webhook_set_over_ai_gets_the_seed_000_callback_body(
    hc: httpx.AsyncClient, receiver: Receiver
) -> None:
    alice, bob = await register(hc), await register(hc)
    response = await hc.post(
        "/ai/webhook", headers=bob.headers, json={"webhook_url": receiver.url("/ai")}
    )
    assert response.status_code == 200, response.text
    secret = response.json()["secret"]
    assert (await state(hc, bob))["payload_format"] == "ai"
    response = await hc.post(
        "/ai/messages", headers=alice.headers, json={"toAiId": bob.id, "content": "你好"}
    )
    assert response.status_code == 200, response.text
    await hits_reach(receiver, "/ai", 1)
    hit = receiver.on("/ai")[0]
    headers = {k.lower(): v for k, v in hit.headers.items()}
    assert WebhookVerifier(secret).verify(
        hit.body, headers["x-agentim-signature"], headers["x-agentim-timestamp"]
    )
    # seeds/000: {"type": "message", "message": {"id", "from_ai_id", "content",
    # "timestamp"}, "timestamp"}, timestamps in unix seconds.
    pushed = hit.json()
    assert pushed["type"] == "message"
    assert pushed["timestamp"] == int(headers["x-agentim-timestamp"])
    message = pushed["message"]
    assert message["from_ai_id"] == alice.id and message["to_ai_id"] == bob.id
    assert message["content"] == "你好"
    assert isinstance(message["id"], str) and message["id"]
    assert isinstance(message["timestamp"], int)
    assert abs(message["timestamp"] - pushed["timestamp"]) < 60
    # Registering over /v1 again switches back to the agentim body.
    await hook(hc, bob, receiver.url("/v1"))
    assert (await state(hc, bob))["payload_format"] == "agentim"
    await send(hc, alice, bob.id, "native again")
    await hits_reach(receiver, "/v1", 1)
    assert receiver.on("/v1")[0].json()["content"]["body"] == "native again"


async def test_retries_until_the_receiver_recovers(
    hc: httpx.AsyncClient, receiver: Receiver
) -> None:
    alice, bob = await register(hc), await register(hc)
    await hook(hc, bob, receiver.url("/flaky"))
    receiver.failures = 4
    sent = [await send(hc, alice, bob.id, f"m{n}") for n in range(3)]
    await hits_reach(receiver, "/flaky", 3)
    seen: dict[str, dict[str, Any]] = {}
    for hit in receiver.on("/flaky"):
        seen.setdefault(hit.json()["id"], hit.json())  # at least once: dedup by id
    assert [m["id"] for m in sent] == list(seen)  # one webhook's deliveries stay in seq order
    assert [seen[m["id"]]["content"]["body"] for m in sent] == ["m0", "m1", "m2"]
    assert receiver.answered >= 7
    got = await settled(hc, bob)
    assert (got["pending"], got["delivered"], got["failed"]) == (0, 3, 0)
    assert got["last_error"] and "500" in got["last_error"]
    # X-AgentIM-Delivery is stable across retries and distinct per message.
    assert len({h.headers["X-AgentIM-Delivery"] for h in receiver.on("/flaky")}) == 3


async def test_a_receiver_that_trickles_its_answer_is_cut_off_and_retried(
    hc: httpx.AsyncClient, receiver: Receiver
) -> None:
    alice, bob = await register(hc), await register(hc)
    await hook(hc, bob, receiver.url("/slow"))
    receiver.trickles = 1
    sent = await send(hc, alice, bob.id, "patience")

    async def timed_out() -> bool:
        return str((await state(hc, bob))["last_error"]).startswith("timed out after 2 s")

    # The whole attempt has one deadline (2 s here), though no single read ever waits that
    # long; the retry then succeeds.
    await wait_until(timed_out, WAIT, "the trickling attempt to time out")
    await hits_reach(receiver, "/slow", 1)
    assert [h.json()["id"] for h in receiver.on("/slow")] == [sent["id"]]
    got = await settled(hc, bob)
    assert (got["delivered"], got["failed"]) == (1, 0)


async def test_group_message_makes_one_delivery_per_member_with_a_webhook(
    hc: httpx.AsyncClient, receiver: Receiver
) -> None:
    owner, bob, carol, dave = [await register(hc) for _ in range(4)]
    response = await hc.post(
        "/v1/groups",
        headers=owner.headers,
        json={"name": unique_name("g"), "members": [bob.id, carol.id, dave.id]},
    )
    assert response.status_code == 201, response.text
    group_id = response.json()["id"]
    await hook(hc, owner, receiver.url("/owner"))
    await hook(hc, bob, receiver.url("/gbob"))
    await hook(hc, carol, receiver.url("/gcarol"))
    response = await hc.post(
        f"/v1/groups/{group_id}/messages",
        headers=owner.headers,
        json={"content": {"format": "text", "body": "to all"}},
    )
    assert response.status_code == 201, response.text
    await hits_reach(receiver, "/gbob", 1)
    await hits_reach(receiver, "/gcarol", 1)
    await asyncio.sleep(0.5)  # nothing more arrives: dave has no webhook, no self-echo
    assert len(receiver.on("/gbob")) == len(receiver.on("/gcarol")) == 1
    assert receiver.on("/owner") == []
    assert receiver.on("/gbob")[0].json()["to"] == bob.id
    assert receiver.on("/gcarol")[0].json()["content"]["body"] == "to all"


# --- authorization and the legacy endpoints --------------------------------------------------


async def test_another_account_cannot_see_or_delete_my_webhook(
    hc: httpx.AsyncClient, receiver: Receiver
) -> None:
    alice, mallory = await register(hc), await register(hc)
    await hook(hc, alice, receiver.url("/alice"))
    assert_error(await hc.get("/v1/agents/me/webhook", headers=mallory.headers), 404)
    assert_error(await hc.get(f"/v1/webhooks/{alice.id}", headers=mallory.headers), 403)
    assert_error(await hc.delete(f"/v1/webhooks/{alice.id}", headers=mallory.headers), 403)
    response = await hc.post(
        "/v1/webhooks",
        headers=mallory.headers,
        json={"agent_id": alice.id, "url": receiver.url("/stolen")},
    )
    assert_error(response, 403)
    assert_error(await hc.get("/v1/agents/me/webhook"), 401)
    assert (await state(hc, alice))["url"] == receiver.url("/alice")


async def test_legacy_endpoints(hc: httpx.AsyncClient, receiver: Receiver) -> None:
    bob = await register(hc)
    assert_error(await hc.get(f"/v1/webhooks/{bob.id}", headers=bob.headers), 404)
    response = await hc.post(
        "/v1/webhooks",
        headers=bob.headers,
        json={"agent_id": bob.id, "url": receiver.url("/legacy"), "events": ["message.created"]},
    )
    assert response.status_code == 201, response.text
    created = response.json()
    assert created["webhook_id"].startswith("wh_")
    assert created["webhook_secret"].startswith("whsec_")
    got = (await hc.get(f"/v1/webhooks/{bob.id}", headers=bob.headers)).json()
    assert got["url"] == receiver.url("/legacy")
    assert got["events"] == ["message.created"]
    assert "webhook_secret" not in got
    response = await hc.delete(f"/v1/webhooks/{bob.id}", headers=bob.headers)
    assert response.status_code == 200, response.text
    assert_error(await hc.get(f"/v1/webhooks/{bob.id}", headers=bob.headers), 404)
    assert_error(await hc.delete(f"/v1/webhooks/{bob.id}", headers=bob.headers), 404)


# --- servers of their own: SSRF default, restart, retry horizon ------------------------------


async def test_internal_targets_are_refused_by_default(
    server_factory: Callable[..., ServerProcess],
) -> None:
    srv = server_factory({"AGENTPLAZA_RATE_LIMITS_ENABLED": "0"})
    async with httpx.AsyncClient(base_url=srv.url, timeout=30) as client:
        bob = await register(client)
        for url in [
            "http://127.0.0.1:9/hook",
            "http://localhost/hook",
            "http://169.254.169.254/latest/meta-data/",
            "http://10.1.2.3/hook",
            "http://[::ffff:127.0.0.1]/hook",
            "http://100.64.0.1/",
        ]:
            response = await client.post(
                "/v1/agents/me/webhook", headers=bob.headers, json={"url": url}
            )
            assert_error(response, 400, "webhook_url_refused")
        response = await client.post(
            "/v1/webhooks",
            headers=bob.headers,
            json={"agent_id": bob.id, "url": "http://10.0.0.1/"},
        )
        assert_error(response, 400, "webhook_url_refused")


async def test_pending_deliveries_survive_a_restart(
    server_factory: Callable[..., ServerProcess], receiver: Receiver, tmp_path: Path
) -> None:
    data_dir = tmp_path / "restart"
    srv = server_factory(FAST, data_dir)
    receiver.failures = 10**6  # down until the restart
    async with httpx.AsyncClient(base_url=srv.url, timeout=30) as client:
        alice, bob = await register(client), await register(client)
        secret = (await hook(client, bob, receiver.url("/restart")))["webhook_secret"]
        sent = [await send(client, alice, bob.id, f"r{n}") for n in range(3)]

        async def tried() -> bool:
            return receiver.answered >= 2

        await wait_until(tried, WAIT, "a failed attempt")
        assert (await state(client, bob))["pending"] == 3
    srv.stop()
    receiver.failures = 0
    srv2 = server_factory(FAST, data_dir)

    async def all_arrived() -> bool:
        # Distinct ids: an attempt cut short by the stop may still have reached the receiver
        # (this test's loop was blocked while the server stopped), so one may come twice.
        return len({h.json()["id"] for h in receiver.on("/restart")}) >= 3

    await wait_until(all_arrived, WAIT, "every message after the restart")
    ids = list(dict.fromkeys(h.json()["id"] for h in receiver.on("/restart")))
    assert ids == [m["id"] for m in sent]
    for hit in receiver.on("/restart"):
        assert WebhookVerifier(secret).verify(
            hit.body, hit.headers["X-AgentIM-Signature"], hit.headers["X-AgentIM-Timestamp"]
        )
    async with httpx.AsyncClient(base_url=srv2.url, timeout=30) as client:
        assert (await settled(client, bob))["pending"] == 0


async def test_a_delivery_past_the_horizon_is_given_up_and_reported(
    server_factory: Callable[..., ServerProcess], receiver: Receiver
) -> None:
    srv = server_factory({**FAST, "AGENTPLAZA_WEBHOOK_RETRY_HORIZON_SECS": "0.5"})
    receiver.failures = 10**6
    async with httpx.AsyncClient(base_url=srv.url, timeout=30) as client:
        alice, bob = await register(client), await register(client)
        await hook(client, bob, receiver.url("/dead"))
        sent = await send(client, alice, bob.id, "never")

        async def given_up() -> bool:
            return bool((await state(client, bob))["failed"] == 1)

        await wait_until(given_up, WAIT, "the delivery to be given up")
        got = await state(client, bob)
        assert got["pending"] == 0 and got["delivered"] == 0
        assert got["active"] is True  # not disabled: new messages are still tried
        assert "500" in got["last_error"] and got["last_failure_at"]
        [failure] = got["recent_failures"]
        assert failure["message_id"] == sent["id"]
        assert failure["last_status"] == 500 and failure["attempts"] >= 1


async def test_a_retry_due_at_once_is_made_at_once_until_the_horizon(
    server_factory: Callable[..., ServerProcess], receiver: Receiver
) -> None:
    """Full jitter makes some retries due at once: the worker's next claim may then take the
    row its finishing attempt just released. That claim is a new attempt, not "its lease
    ran out mid-attempt": skipping it left the row leased (webhook timeout + 10 s) with no
    attempt in flight, then given up as "interrupted" past the horizon."""
    srv = server_factory(
        {
            **FAST,
            "AGENTPLAZA_WEBHOOK_BACKOFF_BASE_SECS": "0.001",
            "AGENTPLAZA_WEBHOOK_BACKOFF_MAX_SECS": "0.002",
            "AGENTPLAZA_WEBHOOK_POLL_INTERVAL_SECS": "0.001",
            "AGENTPLAZA_WEBHOOK_RETRY_HORIZON_SECS": "3",
        }
    )
    receiver.failures = 10**6
    async with httpx.AsyncClient(base_url=srv.url, timeout=30) as client:
        alice, bob = await register(client), await register(client)
        await hook(client, bob, receiver.url("/eager"))
        await send(client, alice, bob.id, "again and again")

        async def given_up() -> bool:
            return bool((await state(client, bob))["failed"] == 1)

        await wait_until(given_up, WAIT, "the delivery to be given up")
        got = await state(client, bob)
    assert "500" in got["last_error"], got["last_error"]
    gaps = [b - a for a, b in itertools.pairwise(receiver.failed_at)]
    assert len(receiver.failed_at) >= 10 and max(gaps) < 2.0, (len(gaps), max(gaps))


async def test_a_send_wakes_the_worker_without_waiting_for_the_poll(
    server_factory: Callable[..., ServerProcess], receiver: Receiver
) -> None:
    srv = server_factory({**FAST, "AGENTPLAZA_WEBHOOK_POLL_INTERVAL_SECS": "60"})
    async with httpx.AsyncClient(base_url=srv.url, timeout=30) as client:
        alice, bob = await register(client), await register(client)
        await hook(client, bob, receiver.url("/wake"))
        await send(client, alice, bob.id, "now")

        async def arrived() -> bool:
            return len(receiver.on("/wake")) == 1

        await wait_until(arrived, 5.0, "a delivery well before the 60 s poll")
