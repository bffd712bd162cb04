"""Every Store guarantee (store/base.py), run against each implementation."""

from __future__ import annotations

import asyncio
import os
import random
from dataclasses import replace

import pytest

from agentplaza.domain.accounts import ProfileChanges
from agentplaza.domain.errors import Conflict, ErrorCode, Forbidden, NotFound
from agentplaza.domain.groups import NewGroup, new_group_id
from agentplaza.domain.ids import AccountId, ThreadId, dm_thread_id
from agentplaza.domain.messages import DeliveryContext
from agentplaza.domain.permissions import DirectFacts, check_direct_message
from agentplaza.domain.social import SettingsChanges, WhoCanMessage
from agentplaza.domain.webhooks import PayloadFormat
from agentplaza.store import open_store
from agentplaza.store.base import Store
from agentplaza.store.errors import Unavailable
from tests import backends
from tests.contract.storedata import T0, decide_group, dm, group_message, new_agent, to


async def test_accounts_get_sequential_ids_and_unique_names(store: Store) -> None:
    a = await new_agent(store, "Alpha", key_hash="h1")
    b = await new_agent(store, "beta")
    assert int(b) == int(a) + 1
    with pytest.raises(Conflict):
        await new_agent(store, "ALPHA")
    found = await store.find_account_by_key("h1")
    assert found is not None and found.id == a
    with pytest.raises(Conflict):
        await store.update_profile(b, ProfileChanges(display_name="alpha"), now_us=T0)


async def test_deleting_an_account_revokes_its_key_and_frees_its_name(store: Store) -> None:
    a = await new_agent(store, "gone", key_hash="k")
    await store.delete_account(a, now_us=T0)
    assert await store.get_account(a) is None
    assert await store.find_account_by_key("k") is None
    again = await new_agent(store, "gone")
    assert again != a


async def test_a_failing_write_does_not_sink_the_writes_committed_with_it(store: Store) -> None:
    await new_agent(store, "taken")
    results = await asyncio.gather(
        *(new_agent(store, "taken" if i % 3 == 0 else f"n{i}") for i in range(30)),
        return_exceptions=True,
    )
    conflicts = [r for r in results if isinstance(r, Conflict)]
    created = [r for r in results if isinstance(r, str)]
    assert len(conflicts) == 10 and len(created) == 20
    for account_id in created:
        assert await store.get_account(AccountId(account_id)) is not None


async def test_concurrent_appends_give_each_recipient_gapless_seqs(store: Store) -> None:
    senders = [await new_agent(store, f"s{i}") for i in range(5)]
    recipients = [await new_agent(store, f"r{i}") for i in range(3)]
    sends = [(s, r, f"{s}>{r}#{n}") for n in range(40) for s in senders for r in recipients]
    random.shuffle(sends)
    await asyncio.gather(
        *(store.append_message(dm(s, r, body), to(r), idempotency_key=None) for s, r, body in sends)
    )
    for r in recipients:
        page = await store.read_inbox(r, after_seq=0, limit=10_000, unacked_only=False)
        assert [i.seq for i in page.items] == list(range(1, 201))
        assert page.head_seq == 200
        assert len({i.message.id for i in page.items}) == 200
        assert all(i.context.recipient_id == r for i in page.items)


async def test_concurrent_fan_outs_to_overlapping_members_are_gapless_and_complete(
    store: Store,
) -> None:
    """Group-sized fan-outs (one batched statement per step) to overlapping member sets,
    sent at once: no deadlock on PostgreSQL, every member gets every message once, in a
    gapless seq order."""
    members = [await new_agent(store, f"m{i}") for i in range(120)]
    first, second = members[:100], members[40:]  # 60 members in both
    fan_outs = [(members[0], first, n) for n in range(10)] + [
        (members[-1], second, n) for n in range(10)
    ]
    random.shuffle(fan_outs)

    def deliveries(sender: AccountId, group: list[AccountId]) -> list[DeliveryContext]:
        return [ctx for m in group if m != sender for ctx in to(m)]

    results = await asyncio.gather(
        *(
            store.append_message(
                replace(dm(sender, sender, f"{sender}#{n}"), recipient_id=None),
                deliveries(sender, group),
                idempotency_key=None,
            )
            for sender, group, n in fan_outs
        )
    )
    assert [len(r.items) for r in results] == [len(group) - 1 for _, group, _ in fan_outs]
    for member in members:
        page = await store.read_inbox(member, after_seq=0, limit=1000, unacked_only=False)
        expected = sum(1 for sender, group, _ in fan_outs if member in group and member != sender)
        assert [i.seq for i in page.items] == list(range(1, expected + 1))
        assert len({i.message.id for i in page.items}) == expected
    by_seq = {(i.context.recipient_id, i.seq) for r in results for i in r.items}
    assert len(by_seq) == sum(len(r.items) for r in results)


async def test_same_idempotency_key_returns_first_message_and_writes_nothing(store: Store) -> None:
    a, b = await new_agent(store, "a"), await new_agent(store, "b")
    first = await store.append_message(dm(a, b, "one"), to(b), idempotency_key="k1")
    again = await store.append_message(dm(a, b, "two"), to(b), idempotency_key="k1")
    assert again.replayed and not again.items
    assert again.message.id == first.message.id and again.message.body == "one"
    other_sender = await store.append_message(dm(b, a, "x"), to(a), idempotency_key="k1")
    assert not other_sender.replayed
    page = await store.read_inbox(b, after_seq=0, limit=10, unacked_only=False)
    assert [i.message.body for i in page.items] == ["one"]


async def test_ack_is_idempotent_and_only_for_the_recipient(store: Store) -> None:
    a, b = await new_agent(store, "a"), await new_agent(store, "b")
    sent = await store.append_message(dm(a, b, "hi"), to(b), idempotency_key=None)
    assert not await store.ack(a, sent.message.id, now_us=T0)
    assert await store.ack(b, sent.message.id, now_us=T0)
    assert await store.ack(b, sent.message.id, now_us=T0)
    unacked = await store.read_inbox(b, after_seq=0, limit=10, unacked_only=True)
    everything = await store.read_inbox(b, after_seq=0, limit=10, unacked_only=False)
    assert unacked.items == [] and everything.items[0].acked


async def test_ack_up_to_and_time_based_reads(store: Store) -> None:
    a, b = await new_agent(store, "a"), await new_agent(store, "b")
    for n in range(5):
        await store.append_message(dm(a, b, str(n), at=T0 + n), to(b), idempotency_key=None)
    assert await store.ack_up_to(b, 3, now_us=T0) == 3
    assert await store.ack_up_to(b, 3, now_us=T0) == 0
    unacked = await store.read_inbox(b, after_seq=0, limit=10, unacked_only=True)
    assert [i.seq for i in unacked.items] == [4, 5]
    since = await store.read_inbox_since_time(b, since_us=T0 + 2, limit=10)
    assert [i.message.body for i in since.items] == ["3", "4"]


async def test_threads_are_listed_latest_first_and_readable_only_by_participants(
    store: Store,
) -> None:
    a, b, c = [await new_agent(store, n) for n in "abc"]
    for n in range(5):
        await store.append_message(dm(a, b, f"ab{n}", at=T0 + n), to(b), idempotency_key=None)
    await store.append_message(dm(c, a, "ca", at=T0 + 10), to(a), idempotency_key=None)
    threads = await store.list_threads(a, limit=10)
    assert [t.peer_id for t in threads] == [c, b]
    assert threads[1].last_message is not None
    assert threads[1].last_message.body == "ab4"
    ab = dm_thread_id(a, b)
    assert await store.read_thread(c, ab, before_num=None, limit=10) is None
    assert await store.find_thread_peer(a, ab) == b
    assert await store.find_thread_peer(c, ab) is None
    page1 = await store.read_thread(b, ab, before_num=None, limit=3)
    assert page1 is not None and [m.body for _, m in page1] == ["ab4", "ab3", "ab2"]
    page2 = await store.read_thread(b, ab, before_num=page1[-1][0], limit=3)
    assert page2 is not None and [m.body for _, m in page2] == ["ab1", "ab0"]
    assert await store.read_thread(a, ThreadId("dm_nope"), before_num=None, limit=3) is None


async def test_unacked_reads_follow_acks_in_any_order(store: Store) -> None:
    a, b = await new_agent(store, "a"), await new_agent(store, "b")
    sent = [
        await store.append_message(dm(a, b, f"m{n}", at=T0 + n), to(b), idempotency_key=None)
        for n in range(1, 7)
    ]
    ids = [s.message.id for s in sent]

    async def unacked(after: int = 0) -> list[int]:
        page = await store.read_inbox(b, after_seq=after, limit=100, unacked_only=True)
        return [i.seq for i in page.items]

    for n in (2, 1, 4):  # out of order: the floor reaches 2, 4 stays acked above it
        assert await store.ack(b, ids[n - 1], now_us=T0 + 10)
    assert await unacked() == [3, 5, 6]
    assert await unacked(after=3) == [5, 6]
    assert await store.ack(b, ids[3 - 1], now_us=T0 + 11)
    assert await unacked() == [5, 6]
    assert await store.ack(b, ids[3 - 1], now_us=T0 + 12)  # again: idempotent
    assert await store.ack_up_to(b, 5, now_us=T0 + 13) == 1
    assert await unacked() == [6]
    assert await store.ack_up_to(b, 6, now_us=T0 + 14) == 1
    assert await unacked() == []
    later = await store.append_message(dm(a, b, "m7", at=T0 + 20), to(b), idempotency_key=None)
    assert await unacked() == [later.items[0].seq] == [7]
    everything = await store.read_inbox(b, after_seq=0, limit=100, unacked_only=False)
    assert [i.seq for i in everything.items] == [1, 2, 3, 4, 5, 6, 7]
    # Purged rows below the floor change nothing.
    await store.purge(acked_before_us=T0 + 100, now_us=T0 + 200, limit=100)
    assert await unacked() == [7]
    assert await store.ack(b, later.message.id, now_us=T0 + 201)
    assert await unacked() == []


async def test_acks_racing_sends_never_hide_an_unacked_item(store: Store) -> None:
    senders = [await new_agent(store, f"s{i}") for i in range(4)]
    b = await new_agent(store, "b")
    acked: set[int] = set()
    sending = True

    async def send_all(sender: AccountId) -> None:
        for n in range(30):
            await store.append_message(
                dm(sender, b, f"{sender}-{n}", at=T0 + n), to(b), idempotency_key=None
            )

    async def ack_what_arrives() -> None:
        while sending:
            page = await store.read_inbox(b, after_seq=0, limit=500, unacked_only=True)
            for item in page.items:
                if item.seq % 3:  # ack two of three, in arrival order
                    await store.ack(b, item.message.id, now_us=T0)
                    acked.add(item.seq)
            await asyncio.sleep(0)

    acker = asyncio.create_task(ack_what_arrives())
    await asyncio.gather(*(send_all(s) for s in senders))
    sending = False
    await acker
    page = await store.read_inbox(b, after_seq=0, limit=500, unacked_only=True)
    assert [i.seq for i in page.items] == [s for s in range(1, 121) if s not in acked]


async def test_concurrent_partial_settings_changes_all_stick(store: Store) -> None:
    others = [await new_agent(store, f"o{i}") for i in range(3)]
    for round_ in range(20):
        a = await new_agent(store, f"a{round_}")
        await asyncio.gather(
            store.update_privacy_settings(
                a, SettingsChanges(who_can_message=WhoCanMessage.NOBODY), now_us=T0
            ),
            store.update_privacy_settings(a, SettingsChanges(discoverable=False), now_us=T0),
            *(
                store.update_privacy_settings(
                    a, SettingsChanges(trust_overrides={o: "friend"}), now_us=T0
                )
                for o in others
            ),
        )
        settings = await store.get_privacy_settings(a)
        assert settings.who_can_message is WhoCanMessage.NOBODY
        assert settings.discoverable is False
        assert len(settings.trust_overrides) == 1  # each replacement is whole; one won


async def test_purge_removes_old_acked_items_and_never_unacked_ones(store: Store) -> None:
    a, b = await new_agent(store, "a"), await new_agent(store, "b")
    old_acked = await store.append_message(
        dm(a, b, "old-acked", at=T0), to(b), idempotency_key=None
    )
    await store.append_message(dm(a, b, "old-unacked", at=T0), to(b), idempotency_key=None)
    await store.append_message(dm(a, b, "new", at=T0 + 100), to(b), idempotency_key=None)
    await store.ack(b, old_acked.message.id, now_us=T0 + 1)
    removed = await store.purge(acked_before_us=T0 + 50, now_us=T0 + 200, limit=100)
    assert removed == 1
    page = await store.read_inbox(b, after_seq=0, limit=10, unacked_only=False)
    assert [i.message.body for i in page.items] == ["old-unacked", "new"]
    # seqs are never reused after a purge
    again = await store.append_message(dm(a, b, "later", at=T0 + 300), to(b), idempotency_key=None)
    assert again.items[0].seq == 4


async def test_purge_drops_webhook_deliveries_given_up_before_the_cutoff(store: Store) -> None:
    a, b = await new_agent(store, "a"), await new_agent(store, "b")
    await store.upsert_webhook(
        b,
        webhook_id="wh_1",
        url="https://example.com/hook",
        secret="whsec_x",
        events=("message.created",),
        payload_format=PayloadFormat.AGENTIM,
        now_us=T0,
    )
    await store.append_message(dm(a, b, "hooked", at=T0), to(b), idempotency_key=None)
    [delivery] = await store.claim_webhook_deliveries(
        now_us=T0 + 1, lease_until_us=T0 + 1_000, limit=10, retry_after_us=int, horizon_us=10**9
    )
    await store.reschedule_webhook_delivery(
        delivery.id, b, status=500, error="down", next_attempt_us=None, now_us=T0 + 10
    )
    assert [f.delivery_id for f in await store.recent_webhook_failures(b)] == [delivery.id]
    await store.purge(acked_before_us=T0 + 10, now_us=T0 + 20, limit=100)
    assert len(await store.recent_webhook_failures(b)) == 1  # given up at the cutoff: kept
    await store.purge(acked_before_us=T0 + 11, now_us=T0 + 20, limit=100)
    assert await store.recent_webhook_failures(b) == []
    webhook = await store.get_webhook(b)
    assert webhook is not None and webhook.failed == 1  # the counter keeps the history


async def test_one_idempotency_key_sent_concurrently_stores_one_message(store: Store) -> None:
    a, b = await new_agent(store, "a"), await new_agent(store, "b")
    results = await asyncio.gather(
        *(
            store.append_message(dm(a, b, f"try {n}"), to(b), idempotency_key="same")
            for n in range(12)
        )
    )
    originals = [r for r in results if not r.replayed]
    assert len(originals) == 1
    assert {r.message.id for r in results} == {originals[0].message.id}
    page = await store.read_inbox(b, after_seq=0, limit=100, unacked_only=False)
    assert [i.message.id for i in page.items] == [originals[0].message.id]


async def test_sends_both_ways_at_once_all_land(store: Store) -> None:
    a, b = await new_agent(store, "a"), await new_agent(store, "b")
    sends = [(a, b)] * 60 + [(b, a)] * 60
    random.shuffle(sends)
    await asyncio.gather(
        *(store.append_message(dm(s, r, "x"), to(r), idempotency_key=None) for s, r in sends)
    )
    for account in (a, b):
        page = await store.read_inbox(account, after_seq=0, limit=100, unacked_only=False)
        assert [i.seq for i in page.items] == list(range(1, 61))


async def test_postgres_store_reconnects_after_its_connections_are_killed() -> None:
    database_url = backends.create_postgres_database()
    impl = open_store(database_url, pool_size=2)
    try:
        await impl.start()
        a = await new_agent(impl, "before")
        for _ in range(4):  # every pool thread has a connection
            await asyncio.gather(*(impl.get_account(a) for _ in range(4)))
        backends.terminate_postgres_connections(database_url)
        failures = 0
        for _ in range(10):
            try:
                assert await impl.get_account(a) is not None
            except Unavailable:
                failures += 1
        assert failures <= 2  # at most once per pool thread, then it reconnects
        assert await impl.get_account(a) is not None
        b = await new_agent(impl, "after")
        assert int(b) == int(a) + 1
    finally:
        await impl.close()
        backends.drop_postgres_database(database_url)


def _decide_stranger(facts: DirectFacts) -> DeliveryContext:
    return check_direct_message(facts)


async def test_direct_message_checks_the_recipient_and_replays_keys(store: Store) -> None:
    a, b = await new_agent(store, "a"), await new_agent(store, "b")
    sent = await store.append_direct_message(
        dm(a, b, "one"), decide=_decide_stranger, idempotency_key="k"
    )
    assert [i.seq for i in sent.items] == [1] and not sent.replayed
    again = await store.append_direct_message(
        dm(a, b, "two"), decide=_decide_stranger, idempotency_key="k"
    )
    assert again.replayed and again.message.id == sent.message.id
    with pytest.raises(NotFound):
        await store.append_direct_message(
            dm(a, AccountId("99999"), "x"), decide=_decide_stranger, idempotency_key=None
        )

    def refuse(facts: DirectFacts) -> DeliveryContext:
        raise Forbidden("no", ErrorCode.FORBIDDEN)

    with pytest.raises(Forbidden):
        await store.append_direct_message(dm(a, b, "no"), decide=refuse, idempotency_key="k2")
    await store.delete_account(b, now_us=T0)
    with pytest.raises(NotFound):
        await store.append_direct_message(
            dm(a, b, "gone"), decide=_decide_stranger, idempotency_key=None
        )
    page = await store.read_inbox(b, after_seq=0, limit=10, unacked_only=False)
    assert [i.message.body for i in page.items] == ["one"]
    threads = await store.list_threads(a, limit=10)
    assert [t.last_message.body for t in threads if t.last_message] == ["one"]


async def test_postgres_direct_message_never_lands_on_facts_that_changed_after_the_check() -> None:
    """The recipient is deleted (by another connection) between the facts read and the write:
    the send must fail as if it had been deleted before, and write nothing."""
    import psycopg

    database_url = backends.create_postgres_database()
    impl = open_store(database_url, pool_size=2)
    try:
        await impl.start()
        a, b = await new_agent(impl, "a"), await new_agent(impl, "b")
        decided = 0

        def delete_while_deciding(facts: DirectFacts) -> DeliveryContext:
            nonlocal decided
            decided += 1
            with psycopg.connect(database_url, autocommit=True) as other:
                other.execute("UPDATE accounts SET deleted_at = 1 WHERE id = %s", (b,))
            return check_direct_message(facts)

        with pytest.raises(NotFound):
            await impl.append_direct_message(
                dm(a, b, "late"), decide=delete_while_deciding, idempotency_key="k"
            )
        assert decided == 1  # decided once; the retry found the recipient gone
        page = await impl.read_inbox(b, after_seq=0, limit=10, unacked_only=False)
        assert page.items == [] and page.head_seq == 0
        assert await impl.list_threads(a, limit=10) == []
    finally:
        await impl.close()
        backends.drop_postgres_database(database_url)


async def test_each_send_decides_on_the_facts_at_its_own_time(store: Store) -> None:
    """PostgreSQL remembers a sender's facts from its previous send (postgres_fast.py,
    postgres_group.py): a change since then must count as if nothing were remembered."""
    s, x, y, z = [await new_agent(store, n) for n in ("fs", "fx", "fy", "fz")]
    sent = await store.append_direct_message(
        dm(s, x, "first"), decide=_decide_stranger, idempotency_key=None
    )
    assert len(sent.items) == 1
    await store.block(x, s, now_us=T0)
    with pytest.raises(Forbidden):
        await store.append_direct_message(
            dm(s, x, "blocked"), decide=_decide_stranger, idempotency_key=None
        )
    await store.unblock(x, s)
    again = await store.append_direct_message(
        dm(s, x, "again"), decide=_decide_stranger, idempotency_key=None
    )
    assert [i.seq for i in again.items] == [2]

    gid = new_group_id(os.urandom(16))
    await store.create_group(
        NewGroup(
            id=gid,
            name="facts",
            description="",
            avatar_url="",
            is_public=False,
            owner_id=s,
            member_ids=(x, y),
            now_us=T0,
        )
    )

    async def fan_out(body: str) -> set[AccountId]:
        appended = await store.append_group_message(
            group_message(s, gid, body), decide=decide_group, idempotency_key=None
        )
        return {i.context.recipient_id for i in appended.items}

    assert await fan_out("g1") == {x, y}
    assert await fan_out("g2") == {x, y}  # the same facts: remembered on PostgreSQL
    await store.remove_group_member(gid, s, y, now_us=T0)
    assert await fan_out("g3") == {x}
    await store.add_group_members(gid, s, [z], now_us=T0)
    assert await fan_out("g4") == {x, z}
    await store.block(x, s, now_us=T0)
    assert await fan_out("g5") == {z}
    history = await store.read_group_messages(gid, z, before_num=None, limit=10)
    assert [m.body for _, m in history] == ["g5", "g4", "g3", "g2", "g1"]
    page = await store.read_inbox(y, after_seq=0, limit=10, unacked_only=False)
    assert [i.message.body for i in page.items] == ["g1", "g2"]
