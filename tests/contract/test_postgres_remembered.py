"""PostgreSQL's remembered group send (store/queries/postgres_group.py) is taken when the
facts did not change: the facts function must find the remembered facts equal to the
stored ones for every kind of fact, or each send silently falls back to a transaction.
(That the fallback happens when facts change: tests/contract/test_store.py.)"""

from __future__ import annotations

import itertools
import os
from typing import Any

import pytest

from agentplaza.domain.groups import GroupSendFacts, NewGroup, new_group_id, plan_group_delivery
from agentplaza.domain.ids import AccountId, ThreadId, new_message_id
from agentplaza.domain.messages import DeliveryContext, Message, MessageFormat, MessageType
from agentplaza.domain.social import SettingsChanges
from agentplaza.store import open_store
from agentplaza.store.postgres import PostgresStore
from tests import backends
from tests.contract.storedata import T0, new_agent


def _message(sender: AccountId, gid: str, body: str) -> Message:
    return Message(
        id=new_message_id(T0 // 1000, os.urandom(10)),
        sender_id=sender,
        recipient_id=None,
        thread_id=ThreadId(gid),
        reply_to=None,
        type=MessageType.REQUEST,
        format=MessageFormat.TEXT,
        body=body,
        created_at_us=T0,
    )


def _decide(facts: GroupSendFacts) -> tuple[list[DeliveryContext], list[Any]]:
    deliveries, _ = plan_group_delivery(facts, now_us=T0, mentions=[])
    return deliveries, []


async def test_a_group_send_on_unchanged_facts_of_every_kind_takes_one_statement(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    database_url = backends.create_postgres_database()
    try:
        store = open_store(database_url, pool_size=2)
        assert isinstance(store, PostgresStore)
        await store.start()
        try:
            s, friend, blocker, muted, trusting = [
                await new_agent(store, n) for n in ("rs", "rf", "rb", "rm", "rt")
            ]
            gid = new_group_id(os.urandom(16))
            members = (friend, blocker, muted, trusting)
            await store.create_group(
                NewGroup(
                    id=gid,
                    name="remembered",
                    description="",
                    avatar_url="",
                    is_public=False,
                    owner_id=s,
                    member_ids=members,
                    now_us=T0,
                )
            )
            # One member of each kind of fact: a friend, a block, a mute, a trust override.
            await store.request_friend(friend, s, "hi", now_us=T0)
            await store.accept_friend(s, friend, now_us=T0)
            await store.block(blocker, s, now_us=T0)
            await store.set_group_mute(gid, s, muted, T0 + 3_600_000_000, now_us=T0)
            await store.update_privacy_settings(
                trusting, SettingsChanges(trust_overrides={s: "friend"}), now_us=T0
            )
            transactions = 0
            in_transaction = store._write

            async def counting(*args: Any, **kwargs: Any) -> Any:
                nonlocal transactions
                transactions += 1
                return await in_transaction(*args, **kwargs)

            monkeypatch.setattr(store, "_write", counting)
            seqs = []
            for n in range(3):
                appended = await store.append_group_message(
                    _message(s, gid, f"m{n}"), decide=_decide, idempotency_key=None
                )
                seqs.append({i.context.recipient_id: i.seq for i in appended.items})
            assert transactions == 1, "only the first send (nothing remembered yet)"
            assert seqs[0], "someone receives it"
            for before, after in itertools.pairwise(seqs):
                assert set(after) == set(before)
                assert all(after[a] == before[a] + 1 for a in after)
        finally:
            await store.close()
    finally:
        backends.drop_postgres_database(database_url)
