#!/usr/bin/env python3
"""The senders and receivers of one benchmark level, split over N worker processes.

One Python process cannot drive a fast server: at ~20,000 deliveries/s the load generator
takes 50–70 % of a core and becomes the limit. `run_level` (called by bench/dm_bench.py)
therefore starts N workers, `python bench/loadgen.py`, each with its share (round robin) of
the receivers and of the closed-loop senders, and merges what they report. With `--procs 1`
the one worker does it all: the same code path at every N.

The coordinating process and its workers speak JSON lines (worker stdin / stdout):

    parent -> worker   the spec: base URL, tag, transport, counts, its receivers and senders
    worker -> parent   {"ready": bool}        receivers connected (or long-polls parked)
    parent -> worker   {"go": true}           after --settle; CPU is measured from here
    worker -> parent   {"sent": {...}}        accepted sends per sender, errors, send times
    parent -> worker   {"expect": n, "drain": s}  deliveries its receivers should see in all
    worker -> parent   {"result": {...}}      deliveries (deduplicated), dups, latencies
    parent -> worker   end of input           the parent has read every CPU counter: exit

A worker that fails writes {"error": "..."} and exits 1; the level then fails with it.
Expected deliveries come from the senders' accepted counts and each sender's targets (a DM:
its receiver; a group message: every other member), so a receiver in one worker counts
messages sent by another. CPU of the load generator is the SUM over the coordinating
process and its workers (`client_cpu_pct`, per process in `client_cpu_pct_per_proc`).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from harness import (
    HTTP_ERRORS,
    MAX_SEND_ERRORS,
    Agent,
    Collector,
    Ctx,
    Monitor,
    Row,
    _die_with_parent,
    close_all,
    http_session,
    loop_factory,
    make_body,
    open_all_ready,
    pct,
    poll_reader,
    r2,
    raise_nofile,
    request,
    wait_online,
    ws_reader,
)
from websockets.asyncio.client import ClientConnection

HERE = os.path.dirname(os.path.abspath(__file__))
PIPE_LIMIT = 2**28  # a result line carries every latency of the worker (MBs at high rates)
WORKER_READY_TIMEOUT_S = 120.0  # start Python, open its WebSockets (slow on a loaded box)
WORKER_REPLY_SLACK_S = 60.0  # beyond --duration / --drain, for a worker to answer


@dataclass(frozen=True, slots=True)
class Sender:
    """One closed-loop sender: `idx` goes into the body (with the message number), `to` into
    the request for a DM, `targets` are the receivers that must each get every message."""

    idx: int
    agent: Agent
    path: str
    to: str | None
    targets: tuple[str, ...]


# ------------------------------------------------------------------------------------ worker
def _emit(obj: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(obj, separators=(",", ":")) + "\n")
    sys.stdout.flush()


async def _stdin() -> asyncio.StreamReader:
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=PIPE_LIMIT)
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    return reader


async def _command(reader: asyncio.StreamReader) -> dict[str, Any]:
    line = await reader.readline()
    if not line:
        return {}
    cmd: dict[str, Any] = json.loads(line)
    return cmd


async def sender_loop(
    ctx: Ctx,
    spec: dict[str, Any],
    s: dict[str, Any],
    deadline: float,
    stats: dict[str, Any],
) -> None:
    auth = {"Authorization": f"Bearer {s['key']}"}
    for n in range(spec["messages"]):
        if time.perf_counter() >= deadline or stats["errors"] > MAX_SEND_ERRORS:
            return
        t = time.perf_counter()
        content = {"format": "text", "body": make_body(spec["tag"], s["idx"], n, spec["pad"])}
        payload = {"to": s["to"], "content": content} if s["to"] else {"content": content}
        try:
            r = await request(ctx.http, "POST", s["path"], json_body=payload, headers=auth)
            ok = 200 <= r.status_code < 300
            err = None if ok else f"HTTP {r.status_code} {r.text[:200]}"
        except HTTP_ERRORS as exc:
            ok, err = False, repr(exc)[:300]
        if ok:
            stats["accepted"][s["id"]] += 1
            stats["send_ms"].append(round((time.perf_counter() - t) * 1000, 3))
        else:
            stats["errors"] += 1
            stats.setdefault("last_error", err)


async def worker() -> None:
    reader = await _stdin()
    spec = await _command(reader)
    receivers = [Agent(id=i, key=k) for i, k in spec["receivers"]]
    col = Collector(spec["tag"])
    conns: list[ClientConnection] = []
    tasks: list[asyncio.Task[None]] = []
    send_base = spec.get("send_base", spec["base"])
    async with http_session(spec["base"]) as http, http_session(send_base) as send_http:
        ctx = Ctx(base=spec["base"], http=http)
        send_ctx = Ctx(base=send_base, http=send_http)
        try:
            ready = True
            if spec["transport"] == "ws":
                conns = await open_all_ready(ctx, receivers)
                tasks = [
                    asyncio.create_task(ws_reader(c, r, col, spec["ws_ack"]))
                    for c, r in zip(conns, receivers, strict=True)
                ]
            else:
                tasks = [
                    asyncio.create_task(poll_reader(ctx, r, col, spec["max_polls"]))
                    for r in receivers
                ]
                ready = await wait_online(ctx, receivers, 15)
            _emit({"ready": ready})
            if not await _command(reader):
                return
            stats: dict[str, Any] = {"accepted": {}, "errors": 0, "send_ms": []}
            stats["accepted"] = {s["id"]: 0 for s in spec["senders"]}
            t0 = time.perf_counter()
            deadline = t0 + spec["duration"]
            await asyncio.gather(
                *(sender_loop(send_ctx, spec, s, deadline, stats) for s in spec["senders"])
            )
            stats["send_s"] = time.perf_counter() - t0
            _emit({"sent": stats})
            cmd = await _command(reader)
            if not cmd:
                return
            col.expected = int(cmd["expect"])
            col.check_done()
            if col.expected and not col.done.is_set():
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(col.done.wait(), cmd["drain"])
            result = {
                "delivered": col.delivered,
                "dups": col.dups,
                "stale": col.stale,
                "last_recv_ns": col.last_recv_ns,
                "lat_ms": [round(x, 3) for x in col.lat_ms],
            }
            _emit({"result": result})
            await _command(reader)  # end of input: the parent has read our CPU counters
        finally:
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await close_all(conns, 10)


def worker_main() -> int:
    raise_nofile()
    try:
        with asyncio.Runner(loop_factory=loop_factory("--no-uvloop" not in sys.argv)) as runner:
            runner.run(worker())
    except Exception as exc:  # reported to the coordinating process, which fails the level
        _emit({"error": repr(exc)[:500]})
        return 1
    return 0


# ------------------------------------------------------------------------------ coordinator
class _Worker:
    def __init__(self, proc: asyncio.subprocess.Process, index: int) -> None:
        self.proc = proc
        self.index = index

    def send(self, obj: dict[str, Any]) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(json.dumps(obj, separators=(",", ":")).encode() + b"\n")

    async def reply(self, key: str, timeout_s: float) -> Any:
        assert self.proc.stdout is not None
        line = await asyncio.wait_for(self.proc.stdout.readline(), timeout_s)
        if not line:
            raise RuntimeError(f"load worker {self.index} exited (rc {await self.proc.wait()})")
        msg = json.loads(line)
        if "error" in msg:
            raise RuntimeError(f"load worker {self.index}: {msg['error']}")
        if key not in msg:
            raise RuntimeError(f"load worker {self.index}: expected {key!r}, got {line[:200]!r}")
        return msg[key]

    async def stop(self) -> None:
        with contextlib.suppress(Exception):
            assert self.proc.stdin is not None
            self.proc.stdin.close()
        try:
            await asyncio.wait_for(self.proc.wait(), 15)
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                self.proc.kill()
            await self.proc.wait()


async def _start_worker(index: int, spec: dict[str, Any], uvloop: bool) -> _Worker:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        os.path.join(HERE, "loadgen.py"),
        *([] if uvloop else ["--no-uvloop"]),
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        limit=PIPE_LIMIT,
        preexec_fn=_die_with_parent,
    )
    w = _Worker(proc, index)
    w.send(spec)
    return w


async def run_level(
    ctx: Ctx,
    args: Any,
    *,
    tag: str,
    senders: Sequence[Sender],
    receivers: Sequence[Agent],
    transport: str,
) -> Row:
    """Send and receive one level with `args.procs` workers; the merged row (counts, send and
    delivery rates, latency percentiles, server and summed client CPU)."""
    n = max(1, min(args.procs, max(len(senders), len(receivers))))
    in_degree: dict[str, int] = {}
    for s in senders:
        for t in s.targets:
            in_degree[t] = in_degree.get(t, 0) + 1
    base_spec = {
        "base": ctx.base,
        "tag": tag,
        "transport": transport,
        "ws_ack": args.ws_ack,
        "messages": args.messages,
        "duration": args.duration,
        "pad": args.pad,
        "max_polls": args.messages * max(in_degree.values(), default=1) * 2 + 100,
    }
    shares = [(list(receivers[i::n]), list(senders[i::n])) for i in range(n)]
    # Over k cluster nodes, worker i receives on node i % k and sends through node
    # (i + i // k) % k: with k * k workers (or a multiple) every (send node, receive node)
    # combination carries the same share, as clients behind a load balancer would.
    nodes = ctx.nodes or [ctx.base]
    k = len(nodes)
    workers: list[_Worker] = []
    try:
        for i, (rs, ss) in enumerate(shares):
            spec = base_spec | {
                "base": nodes[i % k],
                "send_base": nodes[(i + i // k) % k],
                "receivers": [[r.id, r.key] for r in rs],
                "senders": [
                    {"idx": s.idx, "id": s.agent.id, "key": s.agent.key, "path": s.path}
                    | {"to": s.to}
                    for s in ss
                ],
            }
            workers.append(await _start_worker(i, spec, args.uvloop_used))
        ready = await asyncio.gather(*(w.reply("ready", WORKER_READY_TIMEOUT_S) for w in workers))
        if not all(ready):
            print("  warning: not every long-poll receiver parked in 15 s", file=sys.stderr)
        await asyncio.sleep(args.settle)

        mon = Monitor(ctx.server_pids, [w.proc.pid for w in workers])
        infra = Monitor(ctx.infra_pids)
        mon.begin()
        infra.begin()
        t0 = time.perf_counter()
        t0_ns = time.time_ns()
        for w in workers:
            w.send({"go": True})
        limit = args.duration + WORKER_REPLY_SLACK_S
        sent = await asyncio.gather(*(w.reply("sent", limit) for w in workers))
        send_window = time.perf_counter() - t0
        accepted: dict[str, int] = {}
        for st in sent:
            accepted.update(st["accepted"])
        per_receiver: dict[str, int] = {}
        for s in senders:
            for t in s.targets:
                per_receiver[t] = per_receiver.get(t, 0) + accepted.get(s.agent.id, 0)
        expected = [sum(per_receiver.get(r.id, 0) for r in rs) for rs, _ in shares]
        for w, e in zip(workers, expected, strict=True):
            w.send({"expect": e, "drain": args.drain})
        limit = args.drain + WORKER_REPLY_SLACK_S
        results = await asyncio.gather(*(w.reply("result", limit) for w in workers))
        m = mon.end()
        m["infra_cpu_pct"] = infra.end()["server_cpu_pct"]
    finally:
        await asyncio.gather(*(w.stop() for w in workers), return_exceptions=True)

    lat = sorted(x for r in results for x in r["lat_ms"])
    sm = sorted(x for st in sent for x in st["send_ms"])
    n_sent = sum(accepted.values())
    errors = sum(st["errors"] for st in sent)
    delivered = sum(r["delivered"] for r in results)
    last_recv_ns = max(r["last_recv_ns"] for r in results)
    window = (last_recv_ns - t0_ns) / 1e9 if last_recv_ns else 0.0
    return {
        "procs": n,
        "attempts": n_sent + errors,
        "sent": n_sent,
        "send_errors": errors,
        "last_error": next((st["last_error"] for st in sent if "last_error" in st), None),
        "expected": sum(expected),
        "delivered": delivered,
        "lost": max(0, sum(expected) - delivered),
        "dups": sum(r["dups"] for r in results),
        "stale": sum(r["stale"] for r in results),
        "receivers_ready": all(ready),
        "send_window_s": round(send_window, 3),
        "accepted_per_s": round(n_sent / send_window, 1) if send_window > 0 else None,
        "delivered_per_s": round(delivered / window, 1) if window > 0 else None,
        "send_ms_p50": r2(pct(sm, 50)),
        "send_ms_p99": r2(pct(sm, 99)),
        "lat_ms_p50": r2(pct(lat, 50)),
        "lat_ms_p95": r2(pct(lat, 95)),
        "lat_ms_p99": r2(pct(lat, 99)),
        "lat_ms_max": r2(lat[-1] if lat else None),
        **m,
    }


if __name__ == "__main__":
    sys.exit(worker_main())
