#!/usr/bin/env python3
"""The group fan-out workload of bench/dm_bench.py (`--senders`, `--group-size`).

As the shared harness defines it (../shared/bench/bench.py `wl_group`): one group of G
members (`--group-size`, default 50), every member connected over WebSocket before the first
send, S of them (`--senders` levels, default 1,5) sending to the group in a closed loop; each
accepted message counts G−1 deliveries (a member's own message echoed back is ignored).
Differences from the harness: fresh agents and a fresh group for every level (the harness
reuses them, and a second level then first replays the previous level's unacked messages),
and the level's load may be split over `--procs` processes (bench/loadgen.py).

    python bench/dm_bench.py --pairs 0 --idle 0 --senders 1,5      # group fan-out only
    python bench/group_bench.py                                    # the same
"""

from __future__ import annotations

import argparse
import sys
import time
import urllib.parse

from harness import DELIVERY_COLUMNS, Ctx, Row, register_agents, request
from loadgen import Sender, run_level


async def create_group(ctx: Ctx, owner_key: str, member_ids: list[str]) -> str:
    r = await request(
        ctx.http,
        "POST",
        "/v1/groups",
        json_body={"name": f"bench-{time.time_ns()}", "members": member_ids},
        headers={"Authorization": f"Bearer {owner_key}"},
    )
    if r.status_code not in (200, 201):
        raise RuntimeError(f"create group -> {r.status_code} {r.text[:200]}")
    return str(r.json()["id"])


async def group_level(ctx: Ctx, args: argparse.Namespace, nsenders: int) -> Row:
    g = args.group_size
    if g < 2 or nsenders > g:
        raise ValueError(f"--senders {nsenders} needs a group of at least 2 and as many members")
    members = await register_agents(ctx, g)
    ids = [m.id for m in members]
    gid = await create_group(ctx, members[0].key, ids)
    path = f"/v1/groups/{urllib.parse.quote(gid)}/messages"
    senders = [
        Sender(idx=i, agent=m, path=path, to=None, targets=tuple(x for x in ids if x != m.id))
        for i, m in enumerate(members[:nsenders])
    ]
    tag = f"group-{g}-{nsenders}-{time.time_ns()}"
    row = await run_level(ctx, args, tag=tag, senders=senders, receivers=members, transport="ws")
    return {"group_size": g, "senders": nsenders, **row}


GROUP_COLUMNS = [
    ("members", "group_size"),
    ("senders", "senders"),
    ("procs", "procs"),
    ("sent", "sent"),
    ("expected", "expected"),
    *DELIVERY_COLUMNS,
]


if __name__ == "__main__":
    import dm_bench

    sys.exit(dm_bench.main(["--pairs", "0", "--idle", "0", *sys.argv[1:]]))
