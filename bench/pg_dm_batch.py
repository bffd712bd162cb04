"""PostgreSQL's CPU per direct message: one statement per DM against N DMs per statement.

The store writes a DM alone (the guarded statement of store/queries/postgres_fast.py) or,
under load, several to a statement (store/queries/postgres_dm_batch.py, gathered by
store/postgres_batching.py). This measures what that buys, per DM, for N DMs between N
distinct pairs whose facts are remembered: the backend's CPU (from /proc: the server must
be local) and this process's (encoding, the round trip). "single" goes through the store's
own path one DM at a time; "batch of N" calls the batch function the store creates, with
the argument the store builds.

Run from a checkout (its code is imported from the working directory):
    .venv/bin/python bench/pg_dm_batch.py [--pairs 10] [--rounds 300] [--sizes 1,2,5,10]
    .venv/bin/python bench/pg_dm_batch.py --postgres postgresql://user@host:5432/postgres
Prints a line per case, then one JSON line.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import os
import sys
import time
from typing import Any

sys.path.insert(0, os.getcwd())
sys.path.insert(0, os.path.join(os.getcwd(), "tests"))
from contract.storedata import T0, dm

from agentplaza.domain.accounts import AccountKind, NewAccount
from agentplaza.domain.ids import AccountId
from agentplaza.domain.permissions import check_direct_message
from agentplaza.store.postgres import PostgresStore, pg_sql
from agentplaza.store.queries.direct_facts import (
    DIRECT_FACTS_SQL,
    direct_facts_params,
    facts_from_row,
)
from agentplaza.store.queries.postgres_dm_batch import (
    BatchedDirect,
    batch_json,
    direct_batch_functions,
)

TICK_US = 1e6 / os.sysconf("SC_CLK_TCK")


def backend_ticks(pids: list[int]) -> int:
    total = 0
    for pid in pids:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])
    return total


async def new_accounts(store: PostgresStore, n: int) -> list[AccountId]:
    ids = []
    for i in range(n):
        account = await store.create_account(
            NewAccount(
                kind=AccountKind.AGENT,
                display_name=f"b{i}",
                bio="",
                key_hash=hashlib.sha256(str(i).encode()).hexdigest(),
                recovery_hash=None,
                password_hash=None,
                now_us=T0,
            )
        )
        ids.append(account.id)
    return ids


async def measure(url: str, args: argparse.Namespace) -> dict[str, Any]:
    import asyncpg

    store = PostgresStore(url, pool_size=1)  # one backend: its CPU is the store's
    await store.start()
    results: dict[str, Any] = {}
    try:
        ids = await new_accounts(store, 2 * args.pairs)
        pairs = [(ids[i], ids[i + args.pairs]) for i in range(args.pairs)]
        for sender, recipient in pairs:  # some history; each pair's facts remembered
            for _ in range(10):
                await store.append_direct_message(
                    dm(sender, recipient, "warm"), decide=check_direct_message, idempotency_key=None
                )
        conn = await asyncpg.connect(url)
        store_pids = [
            r[0]
            for r in await conn.fetch(
                "SELECT pid FROM pg_stat_activity WHERE datname = current_database()"
                " AND pid <> pg_backend_pid()"
            )
        ]
        sends = args.rounds * 2
        t0, c0 = backend_ticks(store_pids), time.process_time()
        for n in range(sends):
            sender, recipient = pairs[n % len(pairs)]
            await store.append_direct_message(
                dm(sender, recipient, "x" * 40), decide=check_direct_message, idempotency_key=None
            )
        results["single"] = report("single", store_pids, t0, c0, sends)

        pid = await conn.fetchval("SELECT pg_backend_pid()")
        facts_sql = await conn.prepare(pg_sql(DIRECT_FACTS_SQL))
        functions = direct_batch_functions(len(facts_sql.get_attributes()))
        call = await conn.prepare(pg_sql(functions.plain.call_sql))
        entries: dict[tuple[AccountId, AccountId], tuple[Any, ...]] = {}
        for sender, recipient in pairs:
            row = await facts_sql.fetchrow(*direct_facts_params(sender, recipient))
            entries[(sender, recipient)] = tuple(row)
        for size in [int(s) for s in args.sizes.split(",")]:
            chosen = pairs[:size]
            t0, c0 = backend_ticks([pid]), time.process_time()
            for _ in range(args.rounds):
                batch = []
                for sender, recipient in chosen:
                    facts = entries[(sender, recipient)]
                    context = check_direct_message(facts_from_row(sender, recipient, facts))
                    batch.append(BatchedDirect(dm(sender, recipient, "x" * 40), context, facts))
                rows = await call.fetch(batch_json(batch))
                assert len(rows) == size, f"{len(rows)} of {size} written"
            results[f"batch{size}"] = report(f"batch of {size}", [pid], t0, c0, args.rounds * size)
        gaps = await conn.fetchval(
            "SELECT count(*) FROM (SELECT seq - lag(seq) OVER (PARTITION BY account_id"
            " ORDER BY seq) AS d FROM inbox) x WHERE d <> 1"
        )
        assert gaps == 0, f"{gaps} seq gaps"
        await conn.close()
    finally:
        await store.close()
    return results


def report(name: str, pids: list[int], t0: int, c0: float, dms: int) -> dict[str, float]:
    backend = (backend_ticks(pids) - t0) * TICK_US / dms
    client = (time.process_time() - c0) * 1e6 / dms
    print(f"{name:>12}: PostgreSQL {backend:6.0f} µs/DM, this process {client:5.0f} µs/DM")
    return {"backend_us": round(backend), "client_us": round(client), "dms": dms}


async def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    p.add_argument("--postgres", default="postgresql://postgres@127.0.0.1:5432/postgres")
    p.add_argument("--pairs", type=int, default=10)
    p.add_argument("--rounds", type=int, default=300, help="batches per size")
    p.add_argument("--sizes", default="1,2,5,10", help="DMs per batch, each ≤ --pairs")
    args = p.parse_args()
    if max(int(s) for s in args.sizes.split(",")) > args.pairs:
        p.error("a batch holds distinct pairs: every size must be ≤ --pairs")
    import asyncpg

    admin = await asyncpg.connect(args.postgres)
    name = f"ap_dm_batch_{os.getpid()}"
    await admin.execute(f"CREATE DATABASE {name}")
    try:
        results = await measure(args.postgres.rsplit("/", 1)[0] + "/" + name, args)
    finally:
        await admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        await admin.close()
    print(json.dumps(results))


if __name__ == "__main__":
    asyncio.run(main())
