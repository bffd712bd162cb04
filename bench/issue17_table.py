#!/usr/bin/env python3
"""Issue 17's table in one command: the shared harness (../shared/bench) against Matrix
Synapse, agentplaza on SQLite and agentplaza on PostgreSQL + Redis, back to back.

Every run gets a fresh server: a fresh data dir (SQLite), a fresh PostgreSQL database (dropped
after) with a fresh bus namespace, a fresh Synapse data dir. Runs alternate: in each round,
each row runs on every system before the next row, the systems in a rotated order, so that a
machine getting slower or faster mid-way shows in every column alike. The figures are the
medians over the rounds (the range beside them): on a shared VM one run of the same code moves
by ±20 %, and Synapse moves with it, so only ratios measured back to back compare.

    python bench/issue17_table.py                           # 3 systems x 4 rows, 2 rounds
    python bench/issue17_table.py --systems sqlite,postgres --rounds 4 --json-out t.json
    python bench/issue17_table.py --systems sqlite --rows dm10 --rounds 1 --duration 2 \
        --messages 100                                      # a smoke run

The harness runs under `--harness-python` (it needs aiohttp, websockets, psutil, uvloop; the
repo's .venv has them); Synapse comes from `../shared/bench/setup/synapse.sh install`.
Prints a table, then one JSON line with every run. Exit status 1 if a run lost or duplicated a
message or failed, 3 if the shared harness is not found.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness import LocalServer, postgres_database

REPO = Path(__file__).resolve().parents[1]
# Where the shared harness is looked for, after --shared-bench and $AGENTPLAZA_SHARED_BENCH:
# beside the checkout, and where this project's machines keep the shared material (CI runs
# from a clone elsewhere).
SHARED_BENCH_PLACES = (REPO.parent / "shared" / "bench", Path("/work/shared/bench"))
SYSTEMS = ("synapse", "sqlite", "postgres")
NO_HARNESS = 3  # the exit status when the shared harness is not found (the smoke test skips)


@dataclass(frozen=True)
class Row:
    name: str
    workload: str  # the harness's --workload
    level: int  # its --levels: pairs for dm, senders for group
    title: str


ROWS = {
    row.name: row
    for row in (
        Row("dm10", "dm", 10, "DM, 10 pairs"),
        Row("dm50", "dm", 50, "DM, 50 pairs"),
        Row("group1", "group", 1, "group of 50, 1 sender"),
        Row("group5", "group", 5, "group of 50, 5 senders"),
    )
}


def shared_bench(given: str | None) -> Path:
    """The shared harness: `given`, $AGENTPLAZA_SHARED_BENCH or one of SHARED_BENCH_PLACES."""
    for candidate in (given, os.environ.get("AGENTPLAZA_SHARED_BENCH"), *SHARED_BENCH_PLACES):
        if candidate and (Path(candidate) / "bench.py").is_file():
            return Path(candidate)
    print("no shared harness: pass --shared-bench or set AGENTPLAZA_SHARED_BENCH", file=sys.stderr)
    raise SystemExit(NO_HARNESS)


@contextlib.contextmanager
def synapse(bench_dir: Path) -> Iterator[tuple[str, list[int]]]:
    """A Synapse on a fresh data dir (setup/synapse.sh, 127.0.0.1:8008): its URL and pid."""
    data = tempfile.mkdtemp(prefix="synapse-bench-")
    env = {**os.environ, "SYNAPSE_DATA": data}
    script = str(bench_dir / "setup" / "synapse.sh")
    try:
        if subprocess.run([script, "start"], env=env, stdout=subprocess.DEVNULL).returncode:
            raise SystemExit(f"{script} start failed: is Synapse installed ({script} install)?")
        yield "http://127.0.0.1:8008", [int(Path(data, "synapse.pid").read_text())]
    finally:
        subprocess.run([script, "wipe"], env=env, check=False, stdout=subprocess.DEVNULL)


@contextlib.contextmanager
def agentplaza(args: argparse.Namespace, system: str) -> Iterator[tuple[str, list[int]]]:
    """`agentplaza serve` on a fresh data dir, and for "postgres" a fresh database and bus
    namespace: its URL and pid."""
    with contextlib.ExitStack() as stack:
        env: dict[str, str] = {}
        if system == "postgres":
            env["AGENTPLAZA_DATABASE_URL"] = stack.enter_context(postgres_database(args.postgres))
            env["AGENTPLAZA_BUS_URL"] = args.bus_url
            env["AGENTPLAZA_BUS_NAMESPACE"] = f"aptable{time.time_ns()}"
        server = LocalServer(args.server_python, "127.0.0.1", False, env)
        stack.callback(server.cleanup)
        server.start()
        assert server.proc is not None
        yield server.url, [server.proc.pid]


def measure(args: argparse.Namespace, bench_dir: Path, system: str, row: Row) -> dict[str, Any]:
    """One harness run of `row` against a fresh `system`: the harness's row, or an error."""
    messages = args.messages or (3000 if row.workload == "dm" else 20000)
    server = synapse(bench_dir) if system == "synapse" else agentplaza(args, system)
    with server as (url, pids), tempfile.TemporaryDirectory() as out:
        cmd = [args.harness_python, "bench.py", "--workload", row.workload]
        cmd += ["--adapter", "matrix" if system == "synapse" else "agentplaza"]
        cmd += ["--levels", str(row.level), "--messages", str(messages)]
        cmd += ["--duration", str(args.duration), "--uvloop", "--url", url]
        cmd += ["--server-pid", ",".join(map(str, pids)), "--out", out]
        cmd += ["--group-size", "50"] if row.workload == "group" else []
        done = subprocess.run(cmd, cwd=bench_dir, capture_output=True, text=True, check=False)
        results = list(Path(out).glob("*.json"))
        if done.returncode != 0 or len(results) != 1:
            return {"error": f"harness exit {done.returncode}: {done.stderr[-2000:]}"}
        rows = json.loads(results[0].read_text())["rows"]
    return dict(rows[0])


def server_us_per_delivery(run: dict[str, Any]) -> float | None:
    """The server's CPU per delivery in µs (its CPU % of one core over deliveries per second)."""
    rate, cpu = run.get("delivered_per_s"), run.get("server_cpu_pct")
    return round(cpu * 1e4 / rate, 1) if rate and cpu is not None else None


def median(runs: list[dict[str, Any]], key: str) -> float | None:
    values = [r[key] for r in runs if r.get(key) is not None]
    return round(statistics.median(values), 1) if values else None


def cell(runs: list[dict[str, Any]], key: str) -> str:
    """The median, and the range when there are several runs."""
    values = sorted(r[key] for r in runs if r.get(key) is not None)
    if not values:
        return "-"
    mid = f"{statistics.median(values):,.1f}"
    return mid if len(values) == 1 else f"{mid} ({values[0]:,.1f}-{values[-1]:,.1f})"


def report(runs: list[dict[str, Any]], systems: list[str], rows: list[Row]) -> str:
    head = ["row"]
    for system in systems:
        head += [f"{system} delivered/s", f"{system} p99 ms", f"{system} srv µs/delivery"]
    head += ["SQLite / Synapse" if {"sqlite", "synapse"} <= set(systems) else ""]
    head += ["PG % of SQLite" if {"sqlite", "postgres"} <= set(systems) else ""]
    head = [h for h in head if h]
    lines = [_markdown(head), _markdown(["---"] * len(head))]
    for row in rows:
        cells = [row.title]
        rates = {}
        for system in systems:
            mine = [r for r in runs if r["system"] == system and r["row"] == row.name]
            cells += [cell(mine, "delivered_per_s"), cell(mine, "lat_ms_p99")]
            cells.append(cell(mine, "server_us_per_delivery"))
            rates[system] = median(mine, "delivered_per_s")
        if rates.get("sqlite") and rates.get("synapse"):
            cells.append(f"{rates['sqlite'] / rates['synapse']:.0f}x")
        if rates.get("sqlite") and rates.get("postgres"):
            cells.append(f"{100 * rates['postgres'] / rates['sqlite']:.0f} %")
        lines.append(_markdown(cells))
    return "\n".join(lines)


def _markdown(cells: list[str]) -> str:
    return "| " + " | ".join(cells) + " |"


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    p.add_argument("--systems", default=",".join(SYSTEMS), help="of synapse, sqlite, postgres")
    p.add_argument("--rows", default=",".join(ROWS), help="of " + ", ".join(ROWS))
    p.add_argument("--rounds", type=int, default=2)
    p.add_argument("--duration", type=float, default=15.0, help="seconds of sending per run")
    p.add_argument("--messages", type=int, default=0, help="per sender (0: 3000 DM, 20000 group)")
    p.add_argument("--shared-bench", default=None, help="the shared harness's directory")
    p.add_argument("--harness-python", default=sys.executable)
    p.add_argument("--server-python", default=sys.executable)
    p.add_argument("--postgres", default="postgresql://postgres@127.0.0.1:5432/postgres")
    p.add_argument("--bus-url", default="redis://127.0.0.1:6379/0")
    p.add_argument("--json-out", default=None)
    args = p.parse_args(argv)
    systems = [s for s in args.systems.split(",") if s]
    rows = [ROWS[r] for r in args.rows.split(",") if r in ROWS]
    unknown = set(systems) - set(SYSTEMS) or set(args.rows.split(",")) - set(ROWS)
    if unknown or not systems or not rows or args.rounds < 1:
        p.error(f"unknown or empty --systems/--rows, or --rounds < 1 ({sorted(unknown)})")
    bench_dir = shared_bench(args.shared_bench)
    runs: list[dict[str, Any]] = []
    for round_no in range(args.rounds):
        for row in rows:
            for k in range(len(systems)):
                system = systems[(round_no + k) % len(systems)]
                print(f"[table] round {round_no + 1}, {row.title}, {system}", file=sys.stderr)
                run = measure(args, bench_dir, system, row)
                run.update(system=system, row=row.name, round=round_no + 1)
                run["server_us_per_delivery"] = server_us_per_delivery(run)
                runs.append(run)
    print(report(runs, systems, rows))
    print(json.dumps({"argv": sys.argv, "runs": runs}))
    if args.json_out:
        Path(args.json_out).write_text(json.dumps({"argv": sys.argv, "runs": runs}, indent=1))
    bad = [r for r in runs if "error" in r or r.get("lost_or_late") or r.get("dups")]
    for r in bad:
        problem = r.get("error") or f"lost {r.get('lost_or_late')}, duplicated {r.get('dups')}"
        print(f"[table] {r['system']} {r['row']} round {r['round']}: {problem}", file=sys.stderr)
    return 1 if bad else 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    sys.exit(main(sys.argv[1:]))
