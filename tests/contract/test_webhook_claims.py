"""The outbox claim on both engines: the attempt is counted and backed off at the claim (so a
crash mid-attempt is a failed attempt), and claims go round robin across accounts."""

from __future__ import annotations

from agentplaza.domain.groups import NewGroup
from agentplaza.domain.ids import AccountId
from agentplaza.domain.webhooks import Delivery, PayloadFormat
from agentplaza.store.base import Store
from tests.contract.storedata import T0, decide_group, dm, group_message, new_agent, to

LEASE = 1_000
BACKOFF = 500  # after attempt n the row is due BACKOFF * n after its lease


def backoff(attempt: int) -> int:
    return BACKOFF * attempt


async def hooked(store: Store, name: str) -> AccountId:
    account = await new_agent(store, name)
    await hook(store, account)
    return account


async def hook(store: Store, account: AccountId) -> None:
    await store.upsert_webhook(
        account,
        webhook_id=f"wh_{account}",
        url=f"https://example.com/{account}",
        secret="whsec_x",
        events=("message.created",),
        payload_format=PayloadFormat.AGENTIM,
        now_us=T0,
    )


async def claim(store: Store, now: int, limit: int = 10, horizon: int = 10**9) -> list[int]:
    return [d.attempts for d in await claimed(store, now, limit, horizon)]


async def claimed(store: Store, now: int, limit: int = 10, horizon: int = 10**9) -> list[Delivery]:
    return await store.claim_webhook_deliveries(
        now_us=now,
        lease_until_us=now + LEASE,
        limit=limit,
        retry_after_us=backoff,
        horizon_us=horizon,
    )


async def claim_and_deliver(store: Store) -> list[AccountId]:
    """The accounts of the deliveries due at T0, which are then recorded as delivered."""
    deliveries = await store.claim_webhook_deliveries(
        now_us=T0, lease_until_us=T0 + LEASE, limit=10, retry_after_us=backoff, horizon_us=10**9
    )
    for d in deliveries:
        await store.mark_webhook_delivered(d.id, d.account_id, now_us=T0)
    return sorted(d.account_id for d in deliveries)


async def test_a_lease_that_runs_out_is_a_counted_attempt_with_its_backoff(store: Store) -> None:
    a, b = await new_agent(store, "a"), await hooked(store, "b")
    await store.append_message(dm(a, b, "m", at=T0), to(b), idempotency_key=None)
    [first] = await claimed(store, T0)
    assert (first.attempts, first.lease_ran_out) == (1, False)
    # Nobody records the outcome (the node died): not due while leased, nor during the backoff.
    assert await claim(store, T0 + LEASE + 1) == []
    assert await claim(store, T0 + LEASE + backoff(1) - 1) == []
    second = T0 + LEASE + backoff(1)
    [again] = await claimed(store, second)
    assert (again.attempts, again.lease_ran_out) == (2, True)
    # Past the horizon, a row whose attempt was cut is given up instead of tried again.
    late = second + LEASE + backoff(2)
    assert await claim(store, late, horizon=late - T0 - 1) == []
    [failure] = await store.recent_webhook_failures(b)
    assert failure.attempts == 2 and failure.last_error is not None
    assert failure.last_error.startswith("interrupted")
    webhook = await store.get_webhook(b)
    assert webhook is not None and (webhook.failed, webhook.pending) == (1, 0)


async def test_a_row_whose_attempt_recorded_its_failure_is_claimed_as_a_new_attempt(
    store: Store,
) -> None:
    """The worker skips a claimed row only if its lease ran out while this node still runs its
    attempt; a row released by its attempt's recorded outcome is not such a row, even when
    the next claim comes before that attempt's task has ended (delivery/webhooks.py)."""
    a, b = await new_agent(store, "a"), await hooked(store, "b")
    await store.append_message(dm(a, b, "m", at=T0), to(b), idempotency_key=None)
    [first] = await claimed(store, T0)
    await store.reschedule_webhook_delivery(
        first.id, b, status=500, error="HTTP 500", next_attempt_us=T0 + 1, now_us=T0 + 1
    )
    [second] = await claimed(store, T0 + 1)
    assert (second.id, second.attempts, second.lease_ran_out) == (first.id, 2, False)


async def test_a_clean_release_makes_the_row_due_at_once_and_uncounted(store: Store) -> None:
    a, b = await new_agent(store, "a"), await hooked(store, "b")
    await store.append_message(dm(a, b, "m", at=T0), to(b), idempotency_key=None)
    [delivery] = await store.claim_webhook_deliveries(
        now_us=T0, lease_until_us=T0 + LEASE, limit=1, retry_after_us=backoff, horizon_us=10**9
    )
    await store.release_webhook_leases([delivery.id], now_us=T0 + 1)
    assert await claim(store, T0 + 1) == [1]


async def test_claims_go_to_the_account_served_least_recently(store: Store) -> None:
    a, busy, idle = (
        await new_agent(store, "a"),
        await hooked(store, "busy"),
        await hooked(store, "idle"),
    )
    for n in range(3):  # busy's rows are all older than idle's
        await store.append_message(dm(a, busy, f"b{n}", at=T0 + n), to(busy), idempotency_key=None)
    await store.append_message(dm(a, idle, "i0", at=T0 + 10), to(idle), idempotency_key=None)
    now = T0 + 100
    [first] = await store.claim_webhook_deliveries(
        now_us=now, lease_until_us=now + LEASE, limit=1, retry_after_us=backoff, horizon_us=10**9
    )
    assert first.account_id == busy  # neither served yet: the oldest row first
    await store.mark_webhook_delivered(first.id, busy, now_us=now + 1)
    [second] = await store.claim_webhook_deliveries(
        now_us=now + 2,
        lease_until_us=now + LEASE,
        limit=1,
        retry_after_us=backoff,
        horizon_us=10**9,
    )
    assert second.account_id == idle  # busy was just served: idle's turn, though its row is newer


async def test_a_group_send_reads_its_members_webhooks_at_each_send(store: Store) -> None:
    """A group send skips the outbox only while no member has an active webhook: one
    registered (or removed) between two sends changes the next send's deliveries."""
    a, b, c = [await new_agent(store, name) for name in ("a", "b", "c")]
    await store.create_group(
        NewGroup(
            id="grp_hooks",
            name="g",
            description="",
            avatar_url="",
            is_public=False,
            owner_id=a,
            member_ids=(b, c),
            now_us=T0,
        )
    )

    async def send_and_claim() -> list[AccountId]:
        await store.append_group_message(
            group_message(a, "grp_hooks", "m"), decide=decide_group, idempotency_key=None
        )
        return await claim_and_deliver(store)

    assert await send_and_claim() == []
    await hook(store, c)
    assert await send_and_claim() == [c]
    await hook(store, b)
    await store.delete_webhook(c)
    assert await send_and_claim() == [b]


async def test_a_direct_message_reads_its_recipients_webhook_at_each_send(store: Store) -> None:
    """PostgreSQL writes a DM's outbox row only in the statement for a recipient whose facts
    showed an active webhook (postgres_fast.py): a webhook registered (or removed) since the
    pair's last send must change the next send's deliveries."""
    a, b = await new_agent(store, "a"), await new_agent(store, "b")

    async def send_and_claim(body: str) -> list[AccountId]:
        await store.append_direct_message(
            dm(a, b, body), decide=lambda facts: to(b)[0], idempotency_key=None
        )
        return await claim_and_deliver(store)

    assert await send_and_claim("m1") == []
    assert await send_and_claim("m2") == []  # the pair's facts are remembered now
    await hook(store, b)
    assert await send_and_claim("m3") == [b]
    assert await send_and_claim("m4") == [b]
    await store.delete_webhook(b)
    assert await send_and_claim("m5") == []
    page = await store.read_inbox(b, after_seq=0, limit=10, unacked_only=False)
    assert [i.message.body for i in page.items] == ["m1", "m2", "m3", "m4", "m5"]
