"""Hosted agents' store on both engines: the per-agent lease, pending agents, the finished
item (ack + stranger count in one transaction), usage sums, once-a-day notices."""

from __future__ import annotations

from agentplaza.domain.accounts import AccountKind, NewAccount
from agentplaza.domain.hosted import DmPolicy, HostedAgent, Trust
from agentplaza.domain.ids import AccountId
from agentplaza.store.base import Store
from tests.contract.storedata import T0, dm, new_agent, to

LEASE = 1_000


async def hosted(store: Store, name: str) -> HostedAgent:
    owner = await new_agent(store, f"{name}-owner")
    return await store.create_hosted_agent(
        NewAccount(
            kind=AccountKind.AGENT,
            display_name=name,
            bio="",
            key_hash=None,
            recovery_hash=None,
            password_hash=None,
            now_us=T0,
        ),
        HostedAgent(
            account_id=AccountId(""),
            owner_id=owner,
            provider_id="prov_x",
            model="m",
            dm_policy=DmPolicy.FRIENDS,
            tools=("calculator",),
            trust_overrides={"10001": Trust.BLOCKED},
        ),
    )


async def test_config_round_trips(store: Store) -> None:
    agent = await hosted(store, "cfg")
    found = await store.get_hosted_agent(agent.account_id)
    assert found == agent
    assert await store.list_hosted_agents(agent.owner_id, limit=10) == [agent]
    assert agent.account_id in await store.hosted_agent_ids()


async def test_one_lease_at_a_time_until_it_expires(store: Store) -> None:
    agent = (await hosted(store, "lease")).account_id
    claim = store.claim_hosted_agent
    assert await claim(agent, node="a", now_us=T0, lease_until_us=T0 + LEASE)
    assert not await claim(agent, node="b", now_us=T0 + 1, lease_until_us=T0 + LEASE)
    assert await claim(agent, node="a", now_us=T0 + 2, lease_until_us=T0 + 2 * LEASE)  # renew
    assert not await claim(agent, node="b", now_us=T0 + LEASE + 1, lease_until_us=T0 + 3 * LEASE)
    assert await claim(agent, node="b", now_us=T0 + 2 * LEASE + 1, lease_until_us=T0 + 3 * LEASE)
    await store.release_hosted_agent(agent, node="a")  # not a's any more: no effect
    assert not await claim(agent, node="a", now_us=T0 + 2 * LEASE + 2, lease_until_us=T0 + 9)
    await store.release_hosted_agent(agent, node="b")
    assert await claim(agent, node="a", now_us=T0 + 2 * LEASE + 3, lease_until_us=T0 + 4 * LEASE)
    # A single-process database's start drops every lease (a crashed predecessor's).
    assert await store.release_all_hosted_agents() == 1
    assert await claim(agent, node="c", now_us=T0 + 2 * LEASE + 4, lease_until_us=T0 + 5 * LEASE)


async def test_a_pending_retry_holds_the_claim_and_a_finished_item_clears_it(store: Store) -> None:
    agent = await hosted(store, "retry")
    a = await new_agent(store, "retry-sender")
    msg = dm(a, agent.account_id, "hi")
    await store.append_message(msg, to(agent.account_id), idempotency_key=None)
    assert await store.hosted_pending(now_us=T0) == [agent.account_id]
    attempts = await store.record_hosted_failure(
        agent.account_id, error="boom", retry_at_us=T0 + 50
    )
    assert attempts == 1 and await store.hosted_attempts(agent.account_id) == 1
    assert await store.hosted_pending(now_us=T0) == []
    claim = store.claim_hosted_agent
    assert not await claim(agent.account_id, node="a", now_us=T0, lease_until_us=T0 + LEASE)
    assert await claim(agent.account_id, node="a", now_us=T0 + 50, lease_until_us=T0 + LEASE)
    await store.finish_hosted_item(agent.account_id, msg.id, stranger=a, day=7, now_us=T0 + 60)
    assert await store.hosted_attempts(agent.account_id) == 0
    assert await store.hosted_stranger_replies(agent.account_id, a, day=7) == 1
    assert await store.hosted_stranger_replies(agent.account_id, a, day=8) == 0
    page = await store.read_inbox(agent.account_id, after_seq=0, limit=5, unacked_only=True)
    assert page.items == []
    await store.release_hosted_agent(agent.account_id, node="a")
    assert await store.hosted_pending(now_us=T0 + 100) == []


async def test_usage_adds_up_per_day_and_notices_are_once(store: Store) -> None:
    agent = (await hosted(store, "usage")).account_id
    for day in (5, 5, 6):
        await store.add_hosted_usage(
            agent, day=day, input_tokens=10, output_tokens=2, cost_micro_usd=7, replies=1
        )
    days = await store.hosted_usage(agent, from_day=0, to_day=10)
    assert [(d.day, d.tokens, d.cost_micro_usd, d.replies) for d in days] == [
        (5, 24, 14, 2),
        (6, 12, 7, 1),
    ]
    assert await store.mark_hosted_budget_notified(agent, day=5)
    assert not await store.mark_hosted_budget_notified(agent, day=5)
    assert await store.mark_hosted_budget_notified(agent, day=6)
    assert await store.mark_hosted_failure_notified(agent, now_us=T0, interval_us=100)
    assert not await store.mark_hosted_failure_notified(agent, now_us=T0 + 99, interval_us=100)
    assert await store.mark_hosted_failure_notified(agent, now_us=T0 + 100, interval_us=100)
    assert await store.delete_hosted_agent(agent)
    assert await store.get_hosted_agent(agent) is None
    assert await store.hosted_usage(agent, from_day=0, to_day=10) == []
