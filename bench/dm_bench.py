#!/usr/bin/env python3
"""agentplaza benchmark: DM (WebSocket / long-poll), group fan-out and idle WebSockets.

  python bench/dm_bench.py                   # own server; DM 1,10,50 pairs, group 1,5, idle 5000
  python bench/dm_bench.py --procs 2         # the senders and receivers in 2 load processes
  python bench/dm_bench.py --fresh-server    # a fresh server (and database) for every level
  python bench/dm_bench.py --transport both  # DM over WebSocket and over long-poll
  python bench/dm_bench.py --postgres postgresql://postgres@127.0.0.1:5432/postgres \
      --bus-url redis://127.0.0.1:6379/0     # the server on a fresh PostgreSQL database + Redis
  python bench/dm_bench.py --quick           # smoke run of every workload, < 30 s
  python bench/dm_bench.py --url http://127.0.0.1:8000 --server-pid 1234   # an external server

By default it starts its own server (`python -m agentplaza serve`, fresh temp data dir, rate
limits off, 127.0.0.1, a free port) and stops it at the end. Definitions follow the shared
harness (../shared/bench/bench.py): closed-loop senders, receivers connected before the first
send, send timestamp inside the body, percentiles by nearest rank, CPU in % of ONE core (the
load generator's: the sum over its processes). Every loop is bounded by a count and by time.
Prints tables, then one JSON line on stdout. The shared parts are in bench/harness.py, the
load processes in bench/loadgen.py, the group workload in bench/group_bench.py.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import functools
import json
import signal
import sys
import time
import urllib.parse
from collections.abc import Iterator, Sequence
from typing import Any

from group_bench import GROUP_COLUMNS, group_level
from harness import (
    DELIVERY_COLUMNS,
    HTTP_ERRORS,
    LOOPBACK_HOSTS,
    REGISTER_CONCURRENCY,
    WS_OPEN_CONCURRENCY,
    Agent,
    Ctx,
    LocalServer,
    Monitor,
    Row,
    close_all,
    gather_limited,
    http_session,
    loop_factory,
    machine_info,
    parse_levels,
    pids_listening_on,
    postgres_database,
    raise_nofile,
    register_agents,
    request,
    server_connections,
    table,
    ws_open,
)
from loadgen import Sender, run_level
from websockets.asyncio.client import ClientConnection

Level = tuple[str, str, int]  # (workload, transport, level)


# ----------------------------------------------------------------------------------- workloads
async def dm_level(ctx: Ctx, args: argparse.Namespace, transport: str, pairs: int) -> Row:
    """P senders each sending to their own receiver (pair i in load process i % procs)."""
    agents = await register_agents(ctx, 2 * pairs)
    senders = [
        Sender(idx=i, agent=s, path="/v1/messages", to=r.id, targets=(r.id,))
        for i, (s, r) in enumerate(zip(agents[0::2], agents[1::2], strict=True))
    ]
    tag = f"dm-{transport}-{pairs}-{time.time_ns()}"
    row = await run_level(
        ctx, args, tag=tag, senders=senders, receivers=agents[1::2], transport=transport
    )
    return {"transport": transport, "pairs": pairs, **row}


async def idle_level(ctx: Ctx, a: argparse.Namespace, n: int) -> Row:
    t = time.perf_counter()
    agents = await register_agents(ctx, n)
    register_s = time.perf_counter() - t
    mon = Monitor(ctx.server_pids)
    await asyncio.sleep(min(1.0, a.idle_settle))
    rss0 = mon.rss_bytes()
    base_conns = await server_connections(ctx)

    failures: list[str] = []

    async def open_one(agent: Agent) -> ClientConnection | None:
        try:
            return await ws_open(ctx, agent)
        except Exception as exc:  # counted and reported, never fatal
            failures.append(repr(exc)[:200])
            return None

    conns: list[ClientConnection] = []
    try:
        t = time.perf_counter()
        opened = await gather_limited(
            [functools.partial(open_one, ag) for ag in agents], WS_OPEN_CONCURRENCY
        )
        conns = [c for c in opened if c is not None]
        open_s = time.perf_counter() - t
        await asyncio.sleep(a.idle_settle)  # let the server finish attaching / backlogs
        held = await server_connections(ctx)
        mon.begin()
        await asyncio.sleep(a.idle_hold)
        m = mon.end()
        rss1 = mon.rss_bytes()
    finally:
        await close_all(conns, 60)
    await asyncio.sleep(min(1.0, a.idle_settle))
    after = await server_connections(ctx)
    rss2 = mon.rss_bytes()
    return {
        "conns_requested": n,
        "conns_open": len(conns),
        "open_failures": len(failures),
        "first_failure": failures[0] if failures else None,
        "server_conns_held": None if held is None or base_conns is None else held - base_conns,
        "server_conns_after_close": (
            None if after is None or base_conns is None else after - base_conns
        ),
        "register_s": round(register_s, 2),
        "register_per_s": round(n / register_s, 1) if register_s > 0 else None,
        "open_s": round(open_s, 2),
        "server_rss_before_mb": round(rss0 / 2**20, 1),
        "server_rss_held_mb": round(rss1 / 2**20, 1),
        "server_rss_after_close_mb": round(rss2 / 2**20, 1),
        "rss_per_conn_kb": round((rss1 - rss0) / 1024 / max(len(conns), 1), 2),
        "idle_server_cpu_pct": m["server_cpu_pct"],
        "idle_client_cpu_pct": m["client_cpu_pct"],
        "idle_machine_cpu_pct": m["machine_cpu_pct"],
        "client_rss_mb": m["client_rss_mb"],
    }


# ------------------------------------------------------------------------------------- output


# ------------------------------------------------------------------------------------- output
DM_COLUMNS = [
    ("transport", "transport"),
    ("pairs", "pairs"),
    ("procs", "procs"),
    ("sent", "sent"),
    *DELIVERY_COLUMNS,
]
IDLE_COLUMNS = [
    ("conns", "conns_requested"),
    ("open", "conns_open"),
    ("srv held", "server_conns_held"),
    ("open s", "open_s"),
    ("RSS before MB", "server_rss_before_mb"),
    ("RSS held MB", "server_rss_held_mb"),
    ("KB/conn", "rss_per_conn_kb"),
    ("idle srv CPU%", "idle_server_cpu_pct"),
    ("idle cli CPU%", "idle_client_cpu_pct"),
    ("left after close", "server_conns_after_close"),
    ("RSS after close MB", "server_rss_after_close_mb"),
]


# --------------------------------------------------------------------------------------- main
def plan(args: argparse.Namespace) -> list[Level]:
    transports = ["ws", "poll"] if args.transport == "both" else [args.transport]
    levels: list[Level] = [("dm", t, p) for t in transports for p in args.pairs if p > 0]
    levels += [("group", "ws", s) for s in args.senders if s > 0]
    levels += [("idle", "ws", n) for n in args.idle if n > 0]
    return levels


async def run_levels(
    args: argparse.Namespace, base: str, server_pids: list[int], levels: Sequence[Level]
) -> tuple[dict[str, list[Row]], dict[str, Any] | None]:
    """The levels against one server; rows by workload, and the server's /health (None: no
    server answers)."""
    rows: dict[str, list[Row]] = {"dm": [], "group": [], "idle": []}
    async with http_session(base) as session:
        try:
            r = await request(session, "GET", "/health", timeout_s=5)
            health: dict[str, Any] = r.json()
        except (*HTTP_ERRORS, ValueError) as exc:
            print(f"no agentplaza server answers at {base}: {exc!r}", file=sys.stderr)
            return rows, None
        ctx = Ctx(base, session, server_pids, register_concurrency=args.register_concurrency)
        ctx.nodes, ctx.infra_pids = args.nodes, args.infra_pid
        for kind, transport, level in levels:
            if time.perf_counter() - args.t_start > args.max_total:
                print(f"stopping: --max-total {args.max_total}s reached", file=sys.stderr)
                break
            label = {"dm": f"dm/{transport} pairs", "group": "group senders"}.get(
                kind, "idle conns"
            )
            print(f"[dm_bench] {label}={level} ...", file=sys.stderr, flush=True)
            try:
                if kind == "dm":
                    limit = args.level_timeout or (args.duration + args.drain + 300)
                    row = await asyncio.wait_for(dm_level(ctx, args, transport, level), limit)
                elif kind == "group":
                    limit = args.level_timeout or (args.duration + args.drain + 300)
                    row = await asyncio.wait_for(group_level(ctx, args, level), limit)
                else:
                    limit = args.level_timeout or 600
                    row = await asyncio.wait_for(idle_level(ctx, args, level), limit)
            except Exception as exc:  # one level failing must not stop the rest
                row = {"error": repr(exc)[:300]}
                row.update(
                    {
                        "dm": {"transport": transport, "pairs": level},
                        "group": {"group_size": args.group_size, "senders": level},
                        "idle": {"conns_requested": level},
                    }[kind]
                )
            rows[kind].append(row)
            print("  " + json.dumps(row)[:2000], file=sys.stderr, flush=True)
    return rows, health


@contextlib.contextmanager
def server_for(args: argparse.Namespace) -> Iterator[tuple[str, list[int], LocalServer | None]]:
    """(URL, PIDs to measure, our server or None): `--url`, or a server started here on a fresh
    data dir (and a fresh PostgreSQL database with `--postgres`), stopped on exit."""
    if args.url is not None:
        base = args.url.rstrip("/")
        pids = [int(x) for x in (args.server_pid or "").split(",") if x.strip()]
        if not pids:
            pids = pids_listening_on(urllib.parse.urlsplit(base).port or 80)
            if not pids:
                print("warning: server PID not found; pass --server-pid", file=sys.stderr)
        yield base, pids, None
        return
    with contextlib.ExitStack() as stack:
        env: dict[str, str] = {}
        if args.postgres:
            env["AGENTPLAZA_DATABASE_URL"] = stack.enter_context(postgres_database(args.postgres))
        if args.bus_url:
            env["AGENTPLAZA_BUS_URL"] = args.bus_url
            env["AGENTPLAZA_BUS_NAMESPACE"] = f"apbench{time.time_ns()}"
        server = LocalServer(args.server_python, "127.0.0.1", args.keep_data, env)
        try:
            print("[dm_bench] starting server ...", file=sys.stderr, flush=True)
            server.start()
            assert server.proc is not None
            yield server.url, [server.proc.pid], server
        finally:
            server.cleanup()
            if args.keep_data:
                print(f"[dm_bench] data and log kept in {server.data_dir}", file=sys.stderr)


PARAM_KEYS = (
    *("transport", "pairs", "senders", "group_size", "procs", "fresh_server"),
    *("messages", "duration", "drain", "settle", "pad", "ws_ack", "quick"),
    *("idle", "idle_hold", "idle_settle"),
)


def _csv(text: str) -> list[str]:
    return [x.strip() for x in text.split(",") if x.strip()]


def _csv_int(text: str) -> list[int]:
    return [int(x) for x in _csv(text)]


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument(
        "--quick",
        action="store_true",
        help="smoke run: pairs 1,10 and senders 1,5 x 20 messages, group 50, idle 200",
    )
    p.add_argument("--transport", choices=["ws", "poll", "both"], default="ws")
    p.add_argument("--pairs", type=parse_levels, help="DM levels, 0 = skip (default 1,10,50)")
    p.add_argument("--senders", type=parse_levels, help="group levels, 0 = skip (default 1,5)")
    p.add_argument("--group-size", type=int, default=50, help="group members (default 50)")
    p.add_argument("--procs", type=int, default=1, help="load-generator processes (default 1)")
    p.add_argument("--messages", type=int, help="max messages per sender per level (default 200)")
    p.add_argument("--duration", type=float, help="max seconds of sending per level (default 20)")
    p.add_argument("--drain", type=float, help="max seconds to wait for deliveries (default 15)")
    p.add_argument("--settle", type=float, help="s between receivers ready and first send (1.0)")
    p.add_argument("--pad", type=int, default=100, help="padding bytes in each message body")
    p.add_argument("--ws-ack", action="store_true", help="WS receivers ack each message by seq")
    p.add_argument("--idle", type=parse_levels, help="idle WS connections, 0 = skip (5000)")
    p.add_argument("--idle-hold", type=float, help="seconds to hold idle connections (5)")
    p.add_argument("--idle-settle", type=float, help="s between opening and measuring (2)")
    p.add_argument(
        "--register-concurrency", type=int, default=REGISTER_CONCURRENCY, help="default 32"
    )
    p.add_argument("--level-timeout", type=float, default=None, help="per-level time limit")
    p.add_argument("--max-total", type=float, default=3600.0, help="skip levels after this many s")
    p.add_argument("--fresh-server", action="store_true", help="a fresh server for every level")
    p.add_argument("--postgres", default=None, help="admin URL: serve from a fresh database")
    p.add_argument(
        "--bus-url", default=None, help="the server's bus, e.g. redis://127.0.0.1:6379/0"
    )
    p.add_argument("--url", default=None, help="use a running server (loopback only)")
    p.add_argument("--server-pid", default=None, help="server PID(s) for CPU/RSS, comma separated")
    p.add_argument("--server-python", default=sys.executable, help="python that runs the server")
    p.add_argument(
        "--nodes", type=_csv, default=[], help="cluster node URLs the workers spread over"
    )
    p.add_argument("--infra-pid", type=_csv_int, default=[], help="PostgreSQL/Redis PIDs: CPU")
    p.add_argument("--keep-data", action="store_true", help="keep the temp data dir and log")
    p.add_argument("--json-out", default=None, help="also write the JSON result to this file")
    p.add_argument("--no-uvloop", action="store_true", help="plain asyncio event loop")
    a = p.parse_args(argv)
    quick = {"pairs": [1, 10], "senders": [1, 5], "messages": 20, "duration": 10.0}
    quick |= {"drain": 10.0, "settle": 0.3, "idle": [200], "idle_hold": 1.0, "idle_settle": 0.5}
    full = {"pairs": [1, 10, 50], "senders": [1, 5], "messages": 200, "duration": 20.0}
    full |= {"drain": 15.0, "settle": 1.0, "idle": [5000], "idle_hold": 5.0, "idle_settle": 2.0}
    for k, v in (quick if a.quick else full).items():
        if getattr(a, k) is None:
            setattr(a, k, v)
    if a.url is not None:
        host = urllib.parse.urlsplit(a.url).hostname
        if host not in LOOPBACK_HOSTS:
            p.error("only loopback targets are allowed (127.0.0.1, localhost, ::1)")
        if a.fresh_server or a.postgres or a.bus_url:
            p.error("--fresh-server, --postgres and --bus-url start our own server: not with --url")
    if a.messages < 1 or a.duration <= 0 or a.procs < 1:
        p.error("--messages, --duration and --procs must be positive")
    if any(s > a.group_size for s in a.senders) or a.group_size < 2:
        p.error("--group-size must be at least 2 and at least every --senders level")
    return a


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    args.t_start = time.perf_counter()
    nofile = raise_nofile()
    need = max(args.idle or [0]) + 2 * max(args.pairs or [0]) + args.group_size + 200
    if nofile < need:
        print(f"warning: RLIMIT_NOFILE {nofile} < ~{need} sockets needed", file=sys.stderr)
    factory = loop_factory(not args.no_uvloop)
    args.uvloop_used = factory is not None
    # SIGTERM -> SystemExit, so the finally blocks still stop the server we started.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))

    levels = plan(args)
    batches = [[lvl] for lvl in levels] if args.fresh_server else [levels]
    rows: dict[str, list[Row]] = {"dm": [], "group": [], "idle": []}
    health: dict[str, Any] | None = None
    base, rc, servers = "", 0, 0
    pids: list[int] = []
    try:
        with asyncio.Runner(loop_factory=factory) as runner:
            for batch in batches:
                with server_for(args) as (base, pids, server):
                    servers += 1
                    print(f"[dm_bench] server {base} pid(s) {pids}", file=sys.stderr, flush=True)
                    got, h = runner.run(run_levels(args, base, pids, batch))
                    if h is None:
                        return 2
                    health = health or h
                    for k, v in got.items():
                        rows[k] += v
                    proc = server.proc if server is not None else None
                    if server is not None and proc is not None and proc.poll() is not None:
                        print(
                            f"server exited during the run:\n{server.log_tail()}", file=sys.stderr
                        )
                        rc = 1
    except RuntimeError as exc:
        print(f"[dm_bench] {exc}", file=sys.stderr)
        return 2
    if any("error" in r for rs in rows.values() for r in rs):
        rc = 1
    out: Row = {
        "bench": "agentplaza/dm_bench",
        "when": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "argv": sys.argv,
        "machine": machine_info(args.uvloop_used),
        "server": {
            "url": base,
            "pids": pids,
            "version": (health or {}).get("version"),
            "started_by_bench": args.url is None,
            "servers_started": servers if args.url is None else 0,
            "store": "postgresql" if args.postgres else ("sqlite" if args.url is None else None),
            "bus": args.bus_url or ("memory" if args.url is None else None),
        },
        "params": {k: getattr(args, k) for k in PARAM_KEYS},
        **rows,
    }
    print()
    if rows["dm"]:
        print(table("DM (send→receive)", DM_COLUMNS, rows["dm"]))
        print()
    if rows["group"]:
        title = f"group fan-out ({args.group_size} members, each message → {args.group_size - 1})"
        print(table(title, GROUP_COLUMNS, rows["group"]))
        print()
    if rows["idle"]:
        print(table(f"idle WebSockets (held {args.idle_hold:g} s)", IDLE_COLUMNS, rows["idle"]))
        print()
    if args.json_out:
        with open(args.json_out, "w") as fh:
            json.dump(out, fh, indent=1)
    print(json.dumps(out, separators=(",", ":")), flush=True)
    return rc


if __name__ == "__main__":
    sys.exit(main())
