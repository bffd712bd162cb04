#!/usr/bin/env python3
"""Cluster efficiency: deliveries per machine-CPU-second with two nodes vs one (issue 17).

Starts one or two `agentplaza serve` nodes on one fresh PostgreSQL database and one Redis bus
namespace, then runs bench/dm_bench.py's DM and group rows against them, alternating:

- "1 node": every worker sends and receives through node A, the only node (a second node
  running idle would still be a cluster: the home of half the groups, services/group_homes.py);
- "2 nodes": the workers are spread over both nodes as behind a load balancer: with --procs 4,
  worker i receives on node i % 2 and sends through node (i + i // 2) % 2, so a quarter of the
  senders and receivers sit on each (send node, receive node) combination and half of the DM
  deliveries cross nodes (bus + store), half stay on their node; group members are on both.

For each row and each mode: deliveries/s, then, over the measured window (the send window plus
the drain), CPU seconds of the two nodes, of PostgreSQL + Redis (their processes and
children: on a shared machine these serve other clients too), of the whole machine
(/proc/stat busy jiffies, the load generator included), and deliveries per machine-CPU
second; last, the ratio two nodes / one node of the latter (target: >= 0.95).

    python bench/cluster_efficiency.py                       # ports 8200/8201, 1 round
    python bench/cluster_efficiency.py --rounds 3 --duration 15 --json-out cluster.json
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
from pathlib import Path
from typing import Any

from harness import LocalServer, pids_listening_on, postgres_database

HERE = Path(__file__).resolve().parent
ROWS = [("dm", "pairs"), ("group", "senders")]


def run_mode(args: argparse.Namespace, nodes: list[LocalServer], two: bool) -> list[dict[str, Any]]:
    """One dm_bench run (every row) against node A alone or both nodes; its rows."""
    pids = [s.proc.pid for s in nodes if s.proc is not None]
    infra = [p for port in args.infra_ports for p in pids_listening_on(port)]
    with tempfile.NamedTemporaryFile(suffix=".json") as out:
        cmd = [sys.executable, str(HERE / "dm_bench.py"), "--url", nodes[0].url]
        cmd += ["--server-pid", ",".join(map(str, pids))]
        cmd += ["--infra-pid", ",".join(map(str, infra))] if infra else []
        cmd += ["--nodes", ",".join(s.url for s in nodes)] if two else []
        cmd += ["--pairs", args.pairs, "--senders", args.senders, "--idle", "0"]
        cmd += ["--procs", str(args.procs), "--duration", str(args.duration)]
        cmd += ["--messages", str(args.messages), "--json-out", out.name]
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
        result = json.loads(Path(out.name).read_text())
    rows = []
    for kind, level_key in ROWS:
        for r in result[kind]:
            wall = r["wall_s"]
            machine_s = (r["machine_cpu_pct"] or 0) / 100 * wall
            per_cpu_s = round(r["delivered"] / machine_s, 1) if machine_s else None
            # Ours: the nodes, PostgreSQL + Redis and the load generator. On a shared machine
            # the only usable proxy for the machine (whose other users' CPU counts too).
            own_s = sum((r[k] or 0) for k in ("server_cpu_pct", "client_cpu_pct"))
            own_s = (own_s + (r.get("infra_cpu_pct") or 0)) / 100 * wall
            per_own_s = round(r["delivered"] / own_s, 1) if own_s else None
            rows.append(
                {
                    "row": f"{kind} {level_key}={r[level_key]}",
                    "nodes": 2 if two else 1,
                    "delivered": r["delivered"],
                    "lost": r["lost"],
                    "dups": r["dups"],
                    "delivered_per_s": r["delivered_per_s"],
                    "lat_ms_p99": r["lat_ms_p99"],
                    "wall_s": wall,
                    "nodes_cpu_s": round((r["server_cpu_pct"] or 0) / 100 * wall, 2),
                    "infra_cpu_s": round((r.get("infra_cpu_pct") or 0) / 100 * wall, 2),
                    "client_cpu_s": round((r["client_cpu_pct"] or 0) / 100 * wall, 2),
                    "machine_cpu_s": round(machine_s, 2),
                    "per_machine_cpu_s": per_cpu_s,
                    "own_cpu_s": round(own_s, 2),
                    "per_own_cpu_s": per_own_s,
                }
            )
    return rows


@contextlib.contextmanager
def cluster(
    args: argparse.Namespace, ports: list[int], *, two: bool
) -> Iterator[list[LocalServer]]:
    """Nodes on `ports` sharing a fresh database and a fresh bus namespace (a fresh pair per
    run: the same starting state for both modes, and dm_bench's agent names are free)."""
    with contextlib.ExitStack() as stack:
        database = postgres_database(args.postgres, args.db_prefix or "agentplaza_bench")
        env = {
            "AGENTPLAZA_DATABASE_URL": stack.enter_context(database),
            "AGENTPLAZA_BUS_URL": args.bus_url,
            "AGENTPLAZA_BUS_NAMESPACE": f"{args.namespace_prefix}{time.time_ns()}",
            **dict(pair.split("=", 1) for pair in args.env),
        }
        nodes = [
            LocalServer(args.server_python, "127.0.0.1", False, env, port)
            for port in ports[: 2 if two else 1]
        ]
        for node in nodes:
            stack.callback(node.cleanup)
            node.start()
        yield nodes


def report(rows: list[dict[str, Any]]) -> str:
    cols = [
        ("row", "row"),
        ("nodes", "nodes"),
        ("delivered/s", "delivered_per_s"),
        ("p99 ms", "lat_ms_p99"),
        ("lost", "lost"),
        ("dups", "dups"),
        ("window s", "wall_s"),
        ("nodes CPU s", "nodes_cpu_s"),
        ("PG+Redis CPU s", "infra_cpu_s"),
        ("client CPU s", "client_cpu_s"),
        ("machine CPU s", "machine_cpu_s"),
        ("deliv/machine-CPU-s", "per_machine_cpu_s"),
        ("own CPU s", "own_cpu_s"),
        ("deliv/own-CPU-s", "per_own_cpu_s"),
    ]
    lines = [" | ".join(c for c, _ in cols)]
    lines += [" | ".join(str(r[k]) for _, k in cols) for r in rows]
    lines.append("")
    lines.append("row | per machine-CPU-s: 1 node, 2 nodes, ratio | per own-CPU-s: 1, 2, ratio")
    lines[-1] += " | delivered/s: 1 node, 2 nodes"
    for name in dict.fromkeys(r["row"] for r in rows):
        cells = [name]
        for key in ("per_machine_cpu_s", "per_own_cpu_s", "delivered_per_s"):
            one = _median([r[key] for r in rows if r["row"] == name and r["nodes"] == 1])
            two = _median([r[key] for r in rows if r["row"] == name and r["nodes"] == 2])
            cells += [str(one), str(two)]
            if key != "delivered_per_s":
                cells.append(str(round(two / one, 3)) if one and two else "-")
        lines.append(" | ".join(cells))
    return "\n".join(lines)


def _median(values: list[Any]) -> float | None:
    xs = [x for x in values if x]
    return round(statistics.median(xs), 1) if xs else None


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    p.add_argument("--postgres", default="postgresql://postgres@127.0.0.1:5432/postgres")
    p.add_argument("--bus-url", default="redis://127.0.0.1:6379/0")
    p.add_argument("--ports", default="8200,8201", help="the two nodes' ports")
    p.add_argument("--infra-ports", default="5432,6379", help="PostgreSQL/Redis: CPU measured")
    p.add_argument("--pairs", default="10,50")
    p.add_argument("--senders", default="1,5", help="group of 50, this many senders")
    p.add_argument("--procs", type=int, default=4, help="load workers (4: every node combination)")
    p.add_argument("--duration", type=float, default=10.0)
    p.add_argument("--messages", type=int, default=3000)
    p.add_argument("--rounds", type=int, default=1, help="1 node then 2 nodes, this many times")
    p.add_argument("--server-python", default=sys.executable)
    p.add_argument("--json-out", default=None)
    p.add_argument("--db-prefix", default="", help="name the database <prefix>_<hex>")
    p.add_argument("--namespace-prefix", default="apcluster", help="of the bus namespace")
    p.add_argument(
        "--env",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a setting for both nodes, e.g. AGENTPLAZA_GROUP_ROUTING=0 (repeatable)",
    )
    args = p.parse_args()
    args.infra_ports = [int(x) for x in args.infra_ports.split(",") if x]
    ports = [int(x) for x in args.ports.split(",")]
    rows: list[dict[str, Any]] = []
    for i in range(args.rounds):
        for two in (False, True):
            print(f"[cluster] round {i + 1}, {2 if two else 1} node(s)", file=sys.stderr)
            with cluster(args, ports, two=two) as nodes:
                rows += run_mode(args, nodes, two)
    print(report(rows))
    if args.json_out:
        Path(args.json_out).write_text(json.dumps({"argv": sys.argv, "rows": rows}, indent=1))
    return 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    sys.exit(main())
