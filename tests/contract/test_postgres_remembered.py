"""PostgreSQL's remembered group send (store/queries/postgres_group.py) is taken when the
facts did not change: the facts function must find the remembered facts equal to the
stored ones for every kind of fact, or each send silently falls back to a transaction.
(That the fallback happens when facts change: tests/contract/test_store.py.)"""

from __future__ import annotations

import itertools
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest

from agentplaza.domain.groups import NewGroup, new_group_id
from agentplaza.domain.social import SettingsChanges
from agentplaza.store import open_store
from agentplaza.store.postgres import PostgresStore, pg_sql
from agentplaza.store.queries.group_messages import SEND_FACTS_SQL
from agentplaza.store.queries.postgres_group import _literal
from tests import backends
from tests.contract.storedata import T0, decide_group, dm, group_message, new_agent, to
from tests.contract.test_webhook_claims import hook


@asynccontextmanager
async def fresh_postgres_store(*, pool_size: int) -> AsyncIterator[PostgresStore]:
    """A started PostgresStore on a database of its own, dropped afterwards."""
    database_url = backends.create_postgres_database()
    try:
        store = open_store(database_url, pool_size=pool_size)
        assert isinstance(store, PostgresStore)
        await store.start()
        try:
            yield store
        finally:
            await store.close()
    finally:
        backends.drop_postgres_database(database_url)


async def test_a_group_send_on_unchanged_facts_of_every_kind_takes_one_statement(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async with fresh_postgres_store(pool_size=2) as store:
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
                group_message(s, gid, f"m{n}"), decide=decide_group, idempotency_key=None
            )
            seqs.append({i.context.recipient_id: i.seq for i in appended.items})
        assert transactions == 1, "only the first send (nothing remembered yet)"
        assert seqs[0], "someone receives it"
        for before, after in itertools.pairwise(seqs):
            assert set(after) == set(before)
            assert all(after[a] == before[a] + 1 for a in after)


async def test_a_direct_message_writes_only_the_tables_it_needs() -> None:
    """A DM without an idempotency key, to a recipient without a webhook, runs a statement
    that names neither idempotency_keys nor webhook_outbox: a CTE that writes nothing still
    costs PostgreSQL its executor set-up (postgres_fast.py). With a key and a webhook, both
    rows are written (and the key replays)."""
    async with fresh_postgres_store(pool_size=1) as store:
        a, b = await new_agent(store, "da"), await new_agent(store, "db")

        async def send(body: str, key: str | None = None) -> Any:
            return await store.append_direct_message(
                dm(a, b, body), decide=lambda facts: to(b)[0], idempotency_key=key
            )

        async def statements() -> list[str]:
            [conn] = store._idle
            rows = await conn.raw.fetch(
                "SELECT statement FROM pg_prepared_statements"
                " WHERE statement LIKE 'WITH g AS%INSERT INTO messages%'"
            )
            return [r[0] for r in rows]

        await send("plain")
        await send("plain again")  # the remembered facts' statement
        [plain] = await statements()
        assert "idempotency_keys" not in plain and "webhook_outbox" not in plain
        await hook(store, b)
        first = await send("keyed", key="k1")
        assert not first.replayed
        again = await send("keyed", key="k1")
        assert again.replayed and again.message.id == first.message.id
        assert (await store.get_webhook(b)).pending == 1  # type: ignore[union-attr]
        assert any("idempotency_keys" in s and "webhook_outbox" in s for s in await statements())


async def test_a_group_sends_facts_probe_accounts_whatever_the_statistics() -> None:
    """On tables PostgreSQL never analyzed (autovacuum off, as on the test machine) the
    generic plan of a join with `accounts` scanned every account for every member of the
    group (group_messages.SEND_FACTS_SQL): its cost grew with the whole site."""
    async with fresh_postgres_store(pool_size=1) as store:
        ids = [await new_agent(store, f"p{n}") for n in range(300)]
        await store.create_group(
            NewGroup(
                id="grp_plan",
                name="plan",
                description="",
                avatar_url="",
                is_public=False,
                owner_id=ids[0],
                member_ids=tuple(ids[1:50]),
                now_us=T0,
            )
        )
        [conn] = store._idle
        async with conn.raw.transaction():
            await conn.raw.execute("SET LOCAL plan_cache_mode = force_generic_plan")
            statement = await conn.raw.prepare("EXPLAIN " + pg_sql(SEND_FACTS_SQL))
            plan = "\n".join(r[0] for r in await statement.fetch(*[ids[0]] * 3, "grp_plan"))
        assert "Seq Scan on accounts" not in plan, plan


@pytest.mark.parametrize(
    "value", ["10002", "owner", "it's", "back\\slash", "é ü", "", 0, 2**62, -1, True, False, None]
)
def test_remembered_facts_are_quoted_as_postgresql_quotes_them(value: Any) -> None:
    """The facts function compares `format('%L', …)` texts with `_facts_params`'s: a value
    quoted differently would make every send of its group fall back to a transaction."""
    import psycopg

    cast = "boolean" if isinstance(value, bool) else "bigint" if isinstance(value, int) else "text"
    with psycopg.connect(backends.require("postgres"), autocommit=True) as conn:
        row = conn.execute(f"SELECT format('%%L', %s::{cast})", (value,)).fetchone()
    assert row is not None and _literal(value) == row[0]
