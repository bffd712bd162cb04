"""Per-statement CPU of a 50-member group send (or a DM), straight on the store (no HTTP).

Run from a checkout (its code is imported from the working directory):
    .venv/bin/python bench/groupstore.py            # SQLite, one sender
    C=5 .venv/bin/python bench/groupstore.py        # five concurrent senders
    PG=postgresql://postgres@127.0.0.1:5432/ap_group_bench .venv/bin/python bench/groupstore.py
    DM=10 PG=… .venv/bin/python bench/groupstore.py # DMs instead: 10 pairs, each sending both ways
Prints the event loop thread's CPU per message (the store runs its writes there), and on
PostgreSQL the backends' CPU per message too (from /proc, the server being local).
"""

import asyncio
import collections
import hashlib
import os
import sys
import tempfile
import time

sys.path.insert(0, os.getcwd())
sys.path.insert(0, os.path.join(os.getcwd(), "tests"))
from contract.storedata import T0, decide_group, dm, group_message

from agentplaza.domain.accounts import AccountKind, NewAccount
from agentplaza.domain.groups import NewGroup
from agentplaza.domain.permissions import check_direct_message

times: collections.Counter[str] = collections.Counter()
counts: collections.Counter[str] = collections.Counter()
last: list = []  # the last group write statement and its parameters (EXPLAIN=1)


def instrument(cls: type) -> None:
    orig = cls.execute

    def timed(self, sql, *a):  # type: ignore[no-untyped-def]
        t = time.thread_time()
        r = orig(self, sql, *a)
        times[sql[:60]] += time.thread_time() - t
        if sql.startswith("WITH g AS") and "INSERT" in sql:
            last[:] = [sql, a[0] if a else ()]
        counts[sql[:60]] += 1
        return r

    cls.execute = timed


def backend_ticks(pids: list[int], fields_at: tuple[int, ...] = (11, 12)) -> int:
    """utime + stime (or `fields_at` of /proc/PID/stat after the name) of `pids`, in ticks."""
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            total += sum(int(fields[i]) for i in fields_at)
        except OSError:
            pass
    return total


async def open_store():  # type: ignore[no-untyped-def]
    url = os.environ.get("PG")
    if url:
        import asyncpg

        admin = await asyncpg.connect(url.rsplit("/", 1)[0] + "/postgres")
        name = url.rsplit("/", 1)[1]
        await admin.execute(f"DROP DATABASE IF EXISTS {name}")
        await admin.execute(f"CREATE DATABASE {name}")
        await admin.close()
        from agentplaza.store.postgres import PostgresStore, _Txn

        instrument(_Txn)
        store = PostgresStore(url)
    else:
        from agentplaza.store.sqlite import SqliteStore, SqliteTxn

        instrument(SqliteTxn)
        store = SqliteStore(os.path.join(tempfile.mkdtemp(), "g.db"))
    await store.start()
    return store, url


async def main() -> None:
    store, url = await open_store()
    ids = []
    for i in range(300):
        account = await store.create_account(
            NewAccount(
                kind=AccountKind.AGENT,
                display_name=f"a{i}",
                bio="an agent that does things " * 4,
                key_hash=hashlib.sha256(str(i).encode()).hexdigest(),
                recovery_hash=None,
                password_hash=None,
                now_us=T0,
            )
        )
        ids.append(account.id)
    members = ids[::6][:50]
    pairs = int(os.environ.get("DM", 0))

    async def warm(k: int) -> None:  # concurrently, so that the pool holds all its connections
        for i in range(k, 400, pairs):
            await store.append_direct_message(
                dm(ids[i % (2 * pairs)], ids[(i + pairs) % (2 * pairs)], "warm"),
                decide=check_direct_message,
                idempotency_key=None,
            )

    if pairs:  # some history in every inbox and thread
        await asyncio.gather(*(warm(k) for k in range(pairs)))
    await store.create_group(
        NewGroup(
            id="grp_x",
            name="g",
            description="",
            avatar_url="",
            is_public=False,
            owner_id=members[0],
            member_ids=tuple(members[1:]),
            now_us=T0,
        )
    )
    for i in range(0 if pairs else 200):  # some history in every inbox
        await store.append_group_message(
            group_message(members[i % 50], "grp_x", "warm"),
            decide=decide_group,
            idempotency_key=None,
        )
    pids: list[int] = []
    if url:
        import asyncpg

        conn = await asyncpg.connect(url)
        pids = [
            r[0]
            for r in await conn.fetch(
                "SELECT pid FROM pg_stat_activity WHERE datname = current_database()"
                " AND pid <> pg_backend_pid()"
            )
        ]
        await conn.close()
    times.clear()
    counts.clear()
    n = int(os.environ.get("N", 1500))
    conc = int(os.environ.get("C", pairs or 1))
    t0, c0, b0 = time.perf_counter(), time.thread_time(), backend_ticks(pids)
    s0 = backend_ticks(pids, (12,))

    async def dm_sender(k: int) -> None:  # k sends to k + pairs, and back
        a, b = ids[k % pairs], ids[k % pairs + pairs]
        for j in range(n // conc):
            await store.append_direct_message(
                dm(*((a, b) if j % 2 == 0 else (b, a)), "x" * 100),
                decide=check_direct_message,
                idempotency_key=os.environ.get("KEYS") and os.urandom(8).hex(),
            )

    async def sender(k: int) -> None:
        for _ in range(n // conc):
            await store.append_group_message(
                group_message(members[k], "grp_x", "x" * 100),
                decide=decide_group,
                idempotency_key=None,
            )

    await asyncio.gather(*((dm_sender if pairs else sender)(k) for k in range(conc)))
    wall, cpu = time.perf_counter() - t0, time.thread_time() - c0
    pg, sys_us = (backend_ticks(pids) - b0) * 1e4 / n, (backend_ticks(pids, (12,)) - s0) * 1e4 / n
    pg = f", postgres {pg:.0f} us (system {sys_us:.0f})" if url else ""
    print(f"per message: wall {wall / n * 1e6:.0f} us, loop thread cpu {cpu / n * 1e6:.0f} us{pg}")
    for k, v in times.most_common(int(os.environ.get("TOP", 12))):
        print(f"{v / n * 1e6:8.1f} us/msg {counts[k] / n:5.2f}x  {k}")
    if url and os.environ.get("PLANS"):  # custom or generic plans of the pooled statements
        for conn in store._idle:
            for r in await conn.raw.fetch(
                "SELECT generic_plans, custom_plans, left(statement, 60) FROM"
                " pg_prepared_statements WHERE generic_plans + custom_plans > 100"
            ):
                print(tuple(r))
    if url and os.environ.get("GUARD") and last:
        await guard_cost(url, *last)
    if url and os.environ.get("EXPLAIN") and last:
        await explain(url, *last)
    await store.close()


async def guard_cost(url: str, sql: str, params: list) -> None:  # type: ignore[type-arg]
    """PostgreSQL's CPU per call of the facts guard alone, per plan_cache_mode."""
    import asyncpg

    fn = sql.split("SELECT ", 1)[1].split("(", 1)[0]
    for mode in ("auto", "force_generic_plan", "force_custom_plan", "auto"):
        conn = await asyncpg.connect(url, server_settings={"plan_cache_mode": mode})
        pid = await conn.fetchval("SELECT pg_backend_pid()")
        stmt = await conn.prepare(f"SELECT {fn}($1::text, $2::text, $3::boolean, $4::jsonb)")
        assert await stmt.fetchval(*params[:4]) is True
        t0 = backend_ticks([pid])
        for _ in range(1000):
            await stmt.fetchval(*params[:4])
        print(f"guard {mode}: {(backend_ticks([pid]) - t0) * 10:.0f} us per call")
        await conn.close()


async def explain(url: str, sql: str, params: list) -> None:  # type: ignore[type-arg]
    """EXPLAIN ANALYZE the last group write again, under a new message id, rolled back."""
    import asyncpg

    from agentplaza.store.postgres import pg_sql

    old_id = next(p for p in params if isinstance(p, str) and p.startswith("m_"))
    new_id = old_id[:-4] + "zzzz"
    params = [new_id if p == old_id else p for p in params]
    conn = await asyncpg.connect(url)
    tr = conn.transaction()
    await tr.start()
    plan = await conn.fetch("EXPLAIN (ANALYZE, BUFFERS, WAL) " + pg_sql(sql), *params)
    print("\n".join(r[0] for r in plan))
    await tr.rollback()
    await conn.close()


asyncio.run(main())
