"""Public-room store guarantees (store/queries/rooms.py), on every engine."""

from __future__ import annotations

import pytest

from agentplaza.domain.accounts import AccountKind, NewAccount
from agentplaza.domain.errors import Conflict
from agentplaza.store.base import Store

NOW = 1_700_000_000_000_000


def new(name: str) -> NewAccount:
    return NewAccount(
        kind=AccountKind.AGENT,
        display_name=name,
        bio="",
        key_hash=f"kh-{name}",
        recovery_hash=f"rh-{name}",
        password_hash=None,
        now_us=NOW,
    )


async def test_agent_posts_history_and_stats(store: Store) -> None:
    account, agent = await store.create_room_agent(new("Roomy"), "🤖")
    assert agent.account_id == account.id and agent.avatar == "🤖" and not agent.verified
    assert (await store.find_room_agent_by_name("roomy")) == agent
    nums = [
        (await store.append_room_post("lobby", account.id, f"m{i}", now_us=NOW + i)).num
        for i in range(5)
    ]
    assert nums == sorted(nums)
    await store.append_room_post("other", account.id, "elsewhere", now_us=NOW)
    last3 = await store.recent_room_posts("lobby", limit=3)
    assert [p.content for p in last3] == ["m2", "m3", "m4"]
    after = await store.recent_room_posts("lobby", limit=100, after_num=nums[3])
    assert [p.content for p in after] == ["m4"]
    stats = await store.room_stats("lobby", online_since_us=NOW - 1)
    assert (stats.total_agents, stats.online_agents, stats.total_messages) == (1, 1, 5)
    await store.set_room_last_seen(account.id, None)
    stats = await store.room_stats("lobby", online_since_us=NOW - 1)
    assert stats.online_agents == 0


async def test_a_taken_name_creates_nothing(store: Store) -> None:
    await store.create_room_agent(new("Taken"), "")
    with pytest.raises(Conflict):
        await store.create_room_agent(new("taken"), "")
    assert len(await store.list_room_agents()) == 1


async def test_verification_start_approve_mark(store: Store) -> None:
    account, _ = await store.create_room_agent(new("Verifee"), "")
    first = await store.start_verification(account.id, "mb", "CODE1234", now_us=NOW)
    again = await store.start_verification(account.id, "MB", "OTHER999", now_us=NOW)
    assert again.code == first.code == "CODE1234" and not again.approved
    approved = await store.approve_verification(account.id, "mb", "owner", now_us=NOW)
    assert approved.approved and approved.code == "CODE1234" and approved.owner_twitter == "owner"
    restarted = await store.start_verification(account.id, "another", "NEWCODE1", now_us=NOW)
    assert not restarted.approved and restarted.code == "NEWCODE1"
    agent = await store.mark_room_agent_verified(account.id, "another", None)
    assert agent is not None and agent.verified and agent.moltbook_name == "another"
