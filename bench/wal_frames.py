"""Pages a SQLite commit writes to the WAL, by b-tree: for a 50-member group send, or a DM.

A count, not a time: the same code and history give the same figures on a busy machine or a
quiet one, so a storage layout change can be judged where CPU timings move by ±20 % run to
run. Each commit appends one WAL frame (a 4 KiB page, written by two `pwrite`s) per page it
dirtied; the frames of N sends, each committed alone, are read back from the WAL file and each
page is named by `dbstat`.

Run from a checkout (its code is imported from the working directory):
    .venv/bin/python bench/wal_frames.py                    # group of 50, 3,000 messages of history
    .venv/bin/python bench/wal_frames.py --dm               # DMs between 25 pairs instead
    .venv/bin/python bench/wal_frames.py --history 50 --sends 5
Prints one line per b-tree (frames per commit), then one JSON line.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import contextlib
import json
import os
import sqlite3
import struct
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, os.getcwd())
sys.path.insert(0, os.path.join(os.getcwd(), "tests"))
from contract.storedata import T0, decide_group, dm, group_message

import agentplaza.store.sqlite as sqlite_store
from agentplaza.domain.accounts import AccountKind, NewAccount
from agentplaza.domain.groups import NewGroup
from agentplaza.domain.ids import AccountId
from agentplaza.domain.permissions import check_direct_message

WAL_HEADER, FRAME_HEADER = 32, 24
MEMBERS = 50


def wal_frames(wal: Path) -> list[tuple[int, bool]]:
    """(page number, ends a commit) of every frame in the WAL file."""
    data = wal.read_bytes()
    page_size = struct.unpack_from(">I", data, 8)[0]
    frames = []
    for at in range(WAL_HEADER, len(data) - FRAME_HEADER + 1, FRAME_HEADER + page_size):
        page, db_size = struct.unpack_from(">II", data, at)
        frames.append((page, db_size != 0))  # a commit frame records the database's size
    return frames


async def send_all(
    store: sqlite_store.SqliteStore, ids: list[AccountId], args: argparse.Namespace
) -> None:
    """`args.history` sends, then a checkpoint that empties the WAL, then `args.sends` more."""

    async def send(i: int) -> None:
        if args.dm:  # pair k: ids[k] and ids[k + pairs], taking turns
            pairs = len(ids) // 2
            a, b = ids[i % pairs], ids[i % pairs + pairs]
            sender, recipient = (a, b) if (i // pairs) % 2 == 0 else (b, a)
            await store.append_direct_message(
                dm(sender, recipient, "x" * 100),
                decide=check_direct_message,
                idempotency_key=None,
            )
        else:
            await store.append_group_message(
                group_message(ids[i % MEMBERS], "grp_bench", "x" * 100),
                decide=decide_group,
                idempotency_key=None,
            )

    for i in range(args.history):
        await send(i)
    with contextlib.closing(sqlite3.connect(store.path)) as conn:  # the store holds no lock now
        busy, _, _ = conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
    if busy:
        raise RuntimeError("the WAL could not be emptied")
    for i in range(args.history, args.history + args.sends):
        await send(i)  # one at a time: each send is a commit of its own


async def main(args: argparse.Namespace) -> dict[str, object]:
    with tempfile.TemporaryDirectory() as data_dir:
        return await measure(Path(data_dir) / "frames.db", args)


async def measure(path: Path, args: argparse.Namespace) -> dict[str, object]:
    sqlite_store.CHECKPOINT_INTERVAL_SECS = 1e6  # the checkpointer thread must not touch the WAL
    store = sqlite_store.SqliteStore(str(path))
    await store.start()
    try:
        ids = []
        for i in range(MEMBERS):
            account = await store.create_account(
                NewAccount(
                    kind=AccountKind.AGENT,
                    display_name=f"a{i}",
                    bio="an agent that does things " * 4,
                    key_hash=f"{i:064x}",
                    recovery_hash=None,
                    password_hash=None,
                    now_us=T0,
                )
            )
            ids.append(account.id)
        await store.create_group(
            NewGroup(
                id="grp_bench",
                name="g",
                description="",
                avatar_url="",
                is_public=False,
                owner_id=ids[0],
                member_ids=tuple(ids[1:]),
                now_us=T0,
            )
        )
        await send_all(store, ids, args)
        frames = wal_frames(Path(f"{path}-wal"))
    finally:
        await store.close()
    with contextlib.closing(sqlite3.connect(path)) as conn:  # close() checkpointed every page
        owners = dict(conn.execute("SELECT pageno, name FROM dbstat").fetchall())
    commits = sum(1 for _, ends in frames if ends)
    by_tree = collections.Counter(owners.get(page, "(freelist)") for page, _ in frames)
    return {
        "workload": "dm" if args.dm else f"group of {MEMBERS}",
        "history": args.history,
        "commits": commits,
        "frames_per_commit": round(len(frames) / commits, 2),
        "by_tree": {name: round(n / commits, 2) for name, n in by_tree.most_common()},
    }


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--dm", action="store_true", help="DMs between 25 pairs, not group sends")
    parser.add_argument("--history", type=int, default=3000, help="sends before the counted ones")
    parser.add_argument("--sends", type=int, default=20, help="sends counted, one commit each")
    args = parser.parse_args(argv)
    if args.history < 0 or args.sends < 1:
        parser.error("--history must be >= 0 and --sends >= 1")
    return args


if __name__ == "__main__":
    result = asyncio.run(main(parse(sys.argv[1:])))
    print(
        f"{result['workload']}, {result['history']} sends of history:"
        f" {result['frames_per_commit']} WAL frames per commit"
    )
    for name, n in result["by_tree"].items():  # type: ignore[union-attr]
        print(f"{n:8.2f}  {name}")
    print(json.dumps(result))
