"""kill -9 in the middle of a send burst: every 2xx send survives, exactly once, in a
gapless per-recipient seq; retrying the cut sends with their Idempotency-Key never
duplicates. See DESIGN.md, "Delivery guarantees".
"""

from __future__ import annotations

import asyncio
import itertools
import random
import uuid
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass
from typing import TYPE_CHECKING

import httpx
import pytest

from tests.conftest import register
from tests.server import ServerProcess

if TYPE_CHECKING:  # imported by name, pytest would try to collect it as a test class
    from tests.conftest import TestAgent

pytestmark = pytest.mark.slow

SENDERS = 5
RECIPIENTS = 5
WORKERS = 20
ROUNDS = 3
SYNC_PAGE = 137  # deliberately not a divisor of anything
REQUEST_TIMEOUT_SECS = 10.0
BURST_START_SECS = 15.0  # at most this long for WORKERS sends to succeed before the kill


@dataclass(frozen=True)
class Attempt:
    sender: TestAgent
    recipient: TestAgent
    body: str
    key: str


@dataclass
class Outcomes:
    acked: dict[str, tuple[Attempt, str]]  # body -> (attempt, id from the 2xx response)
    unknown: list[Attempt]  # cut by the kill, or answered with a non-2xx: outcome unknown
    in_flight_at_kill: int = 0


async def _burst(
    base_url: str,
    senders: list[TestAgent],
    recipients: list[TestAgent],
    kill: Callable[[], None],
    round_no: int,
) -> Outcomes:
    """WORKERS tasks send continuously until the server is SIGKILLed under them."""
    out = Outcomes(acked={}, unknown=[])
    killed = asyncio.Event()
    going = asyncio.Event()  # WORKERS sends succeeded: the burst is under way
    in_flight = 0
    counter = itertools.count()
    limits = httpx.Limits(max_connections=WORKERS, max_keepalive_connections=WORKERS)

    async with httpx.AsyncClient(
        base_url=base_url, timeout=REQUEST_TIMEOUT_SECS, limits=limits
    ) as http:

        async def worker(w: int) -> None:
            nonlocal in_flight
            rng = random.Random(f"{round_no}-{w}")
            while not killed.is_set():
                n = next(counter)
                attempt = Attempt(
                    sender=senders[rng.randrange(len(senders))],
                    recipient=recipients[rng.randrange(len(recipients))],
                    body=f"r{round_no}-w{w}-n{n}-{uuid.uuid4().hex}",
                    key=f"k-{uuid.uuid4().hex}",
                )
                in_flight += 1
                try:
                    response = await http.post(
                        "/v1/messages",
                        json={
                            "to": attempt.recipient.id,
                            "content": {"format": "text", "body": attempt.body},
                        },
                        headers={**attempt.sender.headers, "Idempotency-Key": attempt.key},
                    )
                except httpx.HTTPError:
                    out.unknown.append(attempt)
                    if killed.is_set():
                        return
                    continue
                finally:
                    in_flight -= 1
                if response.is_success:
                    data = response.json()
                    assert data["content"]["body"] == attempt.body
                    out.acked[attempt.body] = (attempt, data["id"])
                    if len(out.acked) >= WORKERS:
                        going.set()
                else:
                    out.unknown.append(attempt)

        tasks = [asyncio.create_task(worker(w)) for w in range(WORKERS)]
        # Let the burst get going: with a fixed 0.5-1 s, one loaded CI run had no send of its
        # third round committed yet when the kill came (the store held none of them), and a
        # kill before the first 2xx proves nothing.
        with suppress(TimeoutError):
            await asyncio.wait_for(going.wait(), BURST_START_SECS)
        await asyncio.sleep(random.uniform(0.1, 0.5))  # then cut it at a random point
        out.in_flight_at_kill = in_flight
        await asyncio.to_thread(kill)  # the loop keeps sending while the signal lands
        killed.set()
        await asyncio.wait_for(asyncio.gather(*tasks), REQUEST_TIMEOUT_SECS + 5)
    return out


async def _read_inbox(http: httpx.AsyncClient, agent: TestAgent) -> list[dict[str, object]]:
    """Everything the agent ever received, paging /v1/messages/sync by next_seq."""
    messages: list[dict[str, object]] = []
    since = 0
    while True:
        response = await http.get(
            "/v1/messages/sync",
            params={"since_seq": since, "limit": SYNC_PAGE},
            headers=agent.headers,
        )
        assert response.status_code == 200, response.text
        page = response.json()
        batch = page["messages"]
        if batch:
            assert page["next_seq"] == batch[-1]["seq"]
        else:
            assert page["next_seq"] == since
        messages.extend(batch)
        since = page["next_seq"]
        if not page["has_more"]:
            return messages


async def _check_inboxes(
    http: httpx.AsyncClient,
    recipients: list[TestAgent],
    acked: dict[str, tuple[Attempt, str]],
    attempted: dict[str, Attempt],
) -> dict[str, dict[str, object]]:
    """Assert the contract over every inbox; return every stored message by body."""
    stored: dict[str, dict[str, object]] = {}
    for agent in recipients:
        inbox = await _read_inbox(http, agent)
        seqs = [m["seq"] for m in inbox]
        assert all(isinstance(s, int) for s in seqs)
        assert seqs == list(range(1, len(inbox) + 1)), f"seqs of {agent.id} not gapless 1..N"
        ids = [m["id"] for m in inbox]
        assert len(set(ids)) == len(ids), f"duplicate message id in {agent.id}'s inbox"
        for m in inbox:
            body = m["content"]["body"]  # type: ignore[index]
            assert body not in stored, f"body {body!r} stored twice"
            assert body in attempted, f"unexpected message {body!r}"
            assert m["to"] == agent.id
            assert attempted[body].recipient.id == agent.id
            assert m["from"] == attempted[body].sender.id
            stored[body] = m
    for body, (_attempt, msg_id) in acked.items():
        assert body in stored, f"2xx message {msg_id} ({body!r}) lost after kill -9"
        assert stored[body]["id"] == msg_id
    return stored


async def test_kill9_mid_burst_loses_nothing_acknowledged(
    server_factory: Callable[..., ServerProcess], tmp_path_factory: pytest.TempPathFactory
) -> None:
    data_dir = tmp_path_factory.mktemp("kill9")
    srv = server_factory(env={"AGENTPLAZA_RATE_LIMITS_ENABLED": "0"}, data_dir=data_dir)
    async with httpx.AsyncClient(base_url=srv.url, timeout=30) as http:
        senders = [await register(http) for _ in range(SENDERS)]
        recipients = [await register(http) for _ in range(RECIPIENTS)]

    acked: dict[str, tuple[Attempt, str]] = {}
    attempted: dict[str, Attempt] = {}
    totals = {"acked": 0, "unknown": 0, "unknown_committed": 0}
    for round_no in range(ROUNDS):
        outcome = await _burst(srv.url, senders, recipients, srv.kill, round_no)
        assert outcome.acked, "no send succeeded before the kill"
        assert outcome.in_flight_at_kill > 0, "the kill did not land mid-burst"
        acked.update(outcome.acked)
        for attempt in [a for a, _ in outcome.acked.values()] + outcome.unknown:
            attempted[attempt.body] = attempt
        totals["acked"] += len(outcome.acked)
        totals["unknown"] += len(outcome.unknown)

        srv.start()  # same port, same data dir
        async with httpx.AsyncClient(base_url=srv.url, timeout=30) as http:
            stored = await _check_inboxes(http, recipients, acked, attempted)

            # Retry every cut send with its key: committed ones replay, the others are
            # created now; either way each body ends up stored exactly once.
            for attempt in outcome.unknown:
                response = await http.post(
                    "/v1/messages",
                    json={
                        "to": attempt.recipient.id,
                        "content": {"format": "text", "body": attempt.body},
                    },
                    headers={**attempt.sender.headers, "Idempotency-Key": attempt.key},
                )
                assert response.is_success, response.text
                msg_id = response.json()["id"]
                if attempt.body in stored:
                    totals["unknown_committed"] += 1
                    assert response.status_code == 200
                    assert response.headers.get("Idempotent-Replayed") == "true"
                    assert msg_id == stored[attempt.body]["id"]
                else:
                    assert response.status_code == 201
                acked[attempt.body] = (attempt, msg_id)
            # Replaying a few acknowledged sends changes nothing either.
            for attempt, msg_id in list(outcome.acked.values())[:10]:
                response = await http.post(
                    "/v1/messages",
                    json={
                        "to": attempt.recipient.id,
                        "content": {"format": "text", "body": attempt.body},
                    },
                    headers={**attempt.sender.headers, "Idempotency-Key": attempt.key},
                )
                assert response.status_code == 200, response.text
                assert response.json()["id"] == msg_id

            stored = await _check_inboxes(http, recipients, acked, attempted)
            assert set(stored) == set(acked)
    print(f"kill9: {totals}")  # noqa: T201
