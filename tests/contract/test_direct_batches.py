"""Concurrent direct messages, on both engines. PostgreSQL writes them several to a statement
(store/postgres_batching.py, queries/postgres_dm_batch.py): each must still be stored once,
with its recipient's next gapless seq, both thread rows, and a decision on the facts at its
own time; SQLite runs them one by one, and the same assertions hold."""

from __future__ import annotations

import asyncio
from collections import defaultdict

import pytest

from agentplaza.domain.errors import Forbidden, NotFound
from agentplaza.domain.ids import AccountId
from agentplaza.domain.permissions import check_direct_message
from agentplaza.metrics import REGISTRY
from agentplaza.store.base import Store
from agentplaza.store.postgres import PostgresStore
from agentplaza.store.records import Appended
from tests.contract.storedata import dm, new_agent

PAIRS = 8
ROUNDS = 6


def batched_dms() -> tuple[float, float]:
    """(DMs written in batches, batches) so far in this process."""
    total = REGISTRY.get_sample_value("agentplaza_store_dm_batch_size_sum") or 0.0
    count = REGISTRY.get_sample_value("agentplaza_store_dm_batch_size_count") or 0.0
    return total, count


async def send(
    store: Store, sender: AccountId, recipient: AccountId, body: str, key: str | None = None
) -> Appended:
    return await store.append_direct_message(
        dm(sender, recipient, body), decide=check_direct_message, idempotency_key=key
    )


async def test_concurrent_dms_are_each_stored_once_with_gapless_seqs(store: Store) -> None:
    senders = [await new_agent(store, f"bs{n}") for n in range(PAIRS)]
    recipients = [await new_agent(store, f"br{n}") for n in range(PAIRS)]
    hub = recipients[0]
    for s, r in zip(senders, recipients, strict=True):  # each pair's facts, remembered
        await send(store, s, r, "warm")
    await send(store, recipients[1], senders[1], "warm back")
    for s in senders[2:5]:
        await send(store, s, hub, "warm hub")
    before = batched_dms()

    sends = []
    for n in range(ROUNDS):
        sends += [send(store, s, r, f"{n}") for s, r in zip(senders, recipients, strict=True)]
        sends += [send(store, s, hub, f"to the hub {n}") for s in senders[2:5]]  # one recipient
        sends.append(send(store, recipients[1], senders[1], f"back {n}"))  # the same thread
    results = await asyncio.gather(*sends)

    by_recipient: dict[AccountId, list[int]] = defaultdict(list)
    for appended in results:
        [item] = appended.items
        assert item.message.id == appended.message.id
        by_recipient[item.context.recipient_id].append(item.seq)
    for account in {*senders, *recipients}:
        page = await store.read_inbox(account, after_seq=0, limit=1000, unacked_only=False)
        seqs = [i.seq for i in page.items]
        assert seqs == list(range(1, len(seqs) + 1)), (account, seqs)
        assert page.head_seq == len(seqs)
        assert len({i.message.id for i in page.items}) == len(seqs)  # none stored twice
        mine = sorted(by_recipient[account])  # the last seqs of its inbox are these sends'
        assert mine == seqs[len(seqs) - len(mine) :], (account, mine, seqs)
    threads = await store.list_threads(senders[1], limit=10)
    assert len(threads) == 1  # one DM thread, both directions
    if isinstance(store, PostgresStore):
        total, count = batched_dms()
        written, batches = total - before[0], count - before[1]
        assert written == len(sends), (written, len(sends))  # every pair's facts were known
        assert batches < written, "no two DMs ever shared a statement"


async def test_a_batched_dm_on_changed_facts_is_decided_again(store: Store) -> None:
    """A block, a deletion between a pair's remembered facts and the batch: that DM is
    decided on fresh facts (and refused), the others in its batch are written."""
    senders = [await new_agent(store, f"cs{n}") for n in range(PAIRS)]
    recipients = [await new_agent(store, f"cr{n}") for n in range(PAIRS)]
    for s, r in zip(senders, recipients, strict=True):
        await send(store, s, r, "warm")
    await store.block(recipients[0], senders[0], now_us=1)
    await store.delete_account(recipients[1], now_us=1)

    results = await asyncio.gather(
        *(send(store, s, r, "after") for s, r in zip(senders, recipients, strict=True)),
        return_exceptions=True,
    )
    assert isinstance(results[0], Forbidden)
    assert isinstance(results[1], NotFound)
    for recipient, result in zip(recipients[2:], results[2:], strict=True):
        assert isinstance(result, Appended), result
        page = await store.read_inbox(recipient, after_seq=0, limit=10, unacked_only=False)
        assert [i.message.body for i in page.items] == ["warm", "after"]
    blocked = await store.read_inbox(recipients[0], after_seq=0, limit=10, unacked_only=False)
    assert [i.message.body for i in blocked.items] == ["warm"]


async def test_idempotency_keys_in_concurrent_dms_store_each_message_once(store: Store) -> None:
    """Keys in batches: a key sent twice at once stores one message and replays it to the
    other send; a key used before replays; distinct keys are all stored."""
    senders = [await new_agent(store, f"ks{n}") for n in range(PAIRS)]
    recipients = [await new_agent(store, f"kr{n}") for n in range(PAIRS)]
    for s, r in zip(senders, recipients, strict=True):
        await send(store, s, r, "warm", key="warm")
    before = batched_dms()
    results = await asyncio.gather(
        *(send(store, s, r, "new", key="k1") for s, r in zip(senders, recipients, strict=True)),
        send(store, senders[0], recipients[0], "twin", key="k1"),  # the same key at once
        send(store, senders[1], recipients[1], "again", key="warm"),  # a key used before
    )
    firsts, twin, again = results[:PAIRS], results[PAIRS], results[PAIRS + 1]
    assert not any(a.replayed for a in firsts)
    assert twin.replayed and twin.message.id == firsts[0].message.id and twin.items == ()
    assert again.replayed and again.message.body == "warm"
    for recipient in recipients:
        page = await store.read_inbox(recipient, after_seq=0, limit=10, unacked_only=False)
        assert [i.message.body for i in page.items] == ["warm", "new"]
        assert [i.seq for i in page.items] == [1, 2]
    if isinstance(store, PostgresStore):
        total, count = batched_dms()
        assert count - before[1] < total - before[0]  # some shared a statement


@pytest.mark.parametrize("store", ["postgres"], indirect=True)
async def test_a_batch_that_fails_sends_each_dm_alone(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A statement sunk by one DM's data writes none of them; each is then sent alone, so
    only that one fails."""
    assert isinstance(store, PostgresStore)
    senders = [await new_agent(store, f"fs{n}") for n in range(PAIRS)]
    recipients = [await new_agent(store, f"fr{n}") for n in range(PAIRS)]
    for s, r in zip(senders, recipients, strict=True):
        await send(store, s, r, "warm")
    before = batched_dms()
    poison = "\x00"  # refused by PostgreSQL in text; validation refuses it before the store
    results = await asyncio.gather(
        *(
            send(store, s, r, poison if n == 3 else "fine")
            for n, (s, r) in enumerate(zip(senders, recipients, strict=True))
        ),
        return_exceptions=True,
    )
    assert [type(r).__name__ for r in results].count("Invalid") == 1
    assert all(isinstance(r, Appended) for n, r in enumerate(results) if n != 3), results
    total, count = batched_dms()
    assert total - before[0] == PAIRS and count - before[1] < PAIRS  # they did share one
