#!/usr/bin/env python3
"""agentplaza DM + idle-connection benchmark (self-contained, loopback only).

  python bench/dm_bench.py                   # own server; DM over WS at 1,10,50 pairs; idle 5000
  python bench/dm_bench.py --transport both  # DM over WebSocket and over long-poll
  python bench/dm_bench.py --quick           # smoke run, < 30 s
  python bench/dm_bench.py --url http://127.0.0.1:8000 --server-pid 1234   # an external server

By default it starts its own server (`python -m agentplaza serve`, fresh temp data dir, rate
limits off, 127.0.0.1, a free port) and stops it at the end. Definitions follow the shared
harness (../shared/bench/bench.py): closed-loop senders, receivers connected before the first
send, send timestamp inside the body, percentiles by nearest rank, CPU in % of ONE core.
Every loop is bounded by a count and by time. Prints a table, then one JSON line on stdout.
One file on purpose (over the 600-line guideline): it is copied next to servers under test and
runs with only aiohttp (all HTTP: one ClientSession, no pool limit) and websockets installed.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import functools
import http.client
import json
import os
import platform
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import aiohttp
from websockets.asyncio.client import ClientConnection, connect

T = TypeVar("T")
Row = dict[str, Any]

LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")
CLK_TCK = os.sysconf("SC_CLK_TCK")
PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")
NCPU = os.cpu_count() or 1
SERVER_START_TIMEOUT_S = 30.0
REGISTER_CONCURRENCY = 32
WS_OPEN_CONCURRENCY = 64
WS_CLOSE_CONCURRENCY = 256
MAX_SEND_ERRORS = 50  # per level: stop sending after this many failed sends
MAX_POLL_ERRORS = 50  # per receiver
POLL_TIMEOUT_S = 30
HTTP_ERRORS = (aiohttp.ClientError, TimeoutError)  # what one HTTP request may raise


# ------------------------------------------------------------------------------ /proc metrics
def _read(path: str) -> str:
    with open(path) as fh:
        return fh.read()


def proc_tree(pids: Iterable[int]) -> list[int]:
    """The given PIDs plus all their descendants (via /proc/<pid>/task/<tid>/children)."""
    out: list[int] = []
    todo = list(pids)
    while todo and len(out) < 10_000:
        pid = todo.pop()
        if pid in out:
            continue
        out.append(pid)
        try:
            for tid in os.listdir(f"/proc/{pid}/task"):
                with contextlib.suppress(OSError):
                    todo.extend(int(c) for c in _read(f"/proc/{pid}/task/{tid}/children").split())
        except OSError:
            pass
    return out


def proc_cpu_s(pid: int) -> float:
    """utime + stime of one process, in seconds (0 if it is gone)."""
    try:
        stat = _read(f"/proc/{pid}/stat")
    except OSError:
        return 0.0
    rest = stat.rsplit(")", 1)[1].split()  # rest[0] is field 3 (state); utime=14, stime=15
    return (int(rest[11]) + int(rest[12])) / CLK_TCK


def proc_runq_wait_s(pid: int) -> float:
    """Seconds all threads of `pid` spent runnable but waiting for a CPU (schedstat)."""
    total = 0
    with contextlib.suppress(OSError):
        for tid in os.listdir(f"/proc/{pid}/task"):
            with contextlib.suppress(OSError, IndexError, ValueError):
                total += int(_read(f"/proc/{pid}/task/{tid}/schedstat").split()[1])
    return total / 1e9


def proc_rss_bytes(pid: int) -> int:
    try:
        return int(_read(f"/proc/{pid}/statm").split()[1]) * PAGE_SIZE
    except (OSError, IndexError, ValueError):
        return 0


def machine_cpu() -> tuple[float, float]:
    """(busy, total) jiffies of the whole machine from /proc/stat."""
    try:
        vals = [float(x) for x in _read("/proc/stat").splitlines()[0].split()[1:9]]
    except (OSError, ValueError):
        return 0.0, 0.0
    total = sum(vals)  # user nice system idle iowait irq softirq steal
    return total - vals[3] - vals[4], total


def pids_listening_on(port: int) -> list[int]:
    """PIDs owning a LISTEN socket on `port` (what we may read of /proc)."""
    inodes: set[str] = set()
    for path in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = _read(path).splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            parts = line.split()
            if len(parts) > 9 and parts[3] == "0A" and int(parts[1].rsplit(":", 1)[1], 16) == port:
                inodes.add(f"socket:[{parts[9]}]")
    found: list[int] = []
    if not inodes:
        return found
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            if any(
                os.readlink(f"/proc/{entry}/fd/{fd}") in inodes
                for fd in os.listdir(f"/proc/{entry}/fd")
            ):
                found.append(int(entry))
        except OSError:
            continue
    return found


class Monitor:
    """Server CPU (% of one core) and RSS of the server PIDs (+children), plus this process
    and the whole machine (out of NCPU*100), between begin() and end()."""

    def __init__(self, server_pids: Sequence[int]) -> None:
        self.server_pids = list(server_pids)
        self._t0 = 0.0
        self._s0 = 0.0
        self._c0 = 0.0
        self._m0 = (0.0, 0.0)
        self._sw0 = 0.0
        self._cw0 = 0.0

    def _server_cpu(self) -> float:
        return sum(proc_cpu_s(p) for p in proc_tree(self.server_pids))

    def _server_wait(self) -> float:
        return sum(proc_runq_wait_s(p) for p in proc_tree(self.server_pids))

    def rss_bytes(self) -> int:
        return sum(proc_rss_bytes(p) for p in proc_tree(self.server_pids))

    def begin(self) -> None:
        self._t0 = time.perf_counter()
        self._s0 = self._server_cpu()
        self._c0 = proc_cpu_s(os.getpid())
        self._m0 = machine_cpu()
        self._sw0 = self._server_wait()
        self._cw0 = proc_runq_wait_s(os.getpid())

    def end(self) -> dict[str, float | None]:
        wall = max(time.perf_counter() - self._t0, 1e-9)
        s1, c1, (busy1, tot1) = self._server_cpu(), proc_cpu_s(os.getpid()), machine_cpu()
        busy0, tot0 = self._m0
        sw1, cw1 = self._server_wait(), proc_runq_wait_s(os.getpid())
        has_server = bool(self.server_pids)
        return {
            "wall_s": round(wall, 3),
            "server_cpu_pct": round(100 * (s1 - self._s0) / wall, 1) if has_server else None,
            "client_cpu_pct": round(100 * (c1 - self._c0) / wall, 1),
            "machine_cpu_pct": (
                round(100 * NCPU * (busy1 - busy0) / (tot1 - tot0), 1) if tot1 > tot0 else None
            ),
            # runnable-but-not-running time (all threads), % of wall: CPU starvation by others
            "server_runq_wait_pct": round(100 * (sw1 - self._sw0) / wall, 1)
            if has_server
            else None,
            "client_runq_wait_pct": round(100 * (cw1 - self._cw0) / wall, 1),
            "server_rss_mb": round(self.rss_bytes() / 2**20, 1) if has_server else None,
            "client_rss_mb": round(proc_rss_bytes(os.getpid()) / 2**20, 1),
        }


def pct(sorted_vals: Sequence[float], p: float) -> float | None:
    """Nearest-rank percentile, the shared harness's definition."""
    if not sorted_vals:
        return None
    k = min(len(sorted_vals) - 1, max(0, round(p / 100.0 * (len(sorted_vals) - 1))))
    return sorted_vals[k]


def r2(x: float | None) -> float | None:
    return None if x is None else round(x, 2)


# ------------------------------------------------------------------------------------ server
def _die_with_parent() -> None:  # pragma: no cover - runs in the child before exec
    """Linux: SIGTERM the server if this bench process dies without cleaning up."""
    with contextlib.suppress(Exception):
        import ctypes

        ctypes.CDLL(None).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def free_port(host: str) -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def health_ok(host: str, port: int) -> bool:
    """GET /health answers 200 (blocking, stdlib, no proxies)."""
    conn = http.client.HTTPConnection(host, port, timeout=1)
    try:
        conn.request("GET", "/health")
        return conn.getresponse().status == 200
    except (OSError, http.client.HTTPException):
        return False
    finally:
        conn.close()


class LocalServer:
    """`python -m agentplaza serve` in a fresh temp data dir, rate limits off."""

    def __init__(self, python: str, host: str, keep_data: bool) -> None:
        self.python = python
        self.host = host
        self.keep_data = keep_data
        self.port = 0
        self.data_dir = ""
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def log_path(self) -> str:
        return os.path.join(self.data_dir, "server.log")

    def start(self) -> None:
        self.data_dir = tempfile.mkdtemp(prefix="agentplaza-bench-")
        env = {k: v for k, v in os.environ.items() if not k.startswith("AGENTPLAZA_")}
        for attempt in range(3):  # the free port may be taken between probe and bind
            self.port = free_port(self.host)
            env.update(
                AGENTPLAZA_HOST=self.host,
                AGENTPLAZA_PORT=str(self.port),
                AGENTPLAZA_DATA_DIR=self.data_dir,
                AGENTPLAZA_RATE_LIMITS_ENABLED="0",
                # Thousands of sockets from one address, and /health's connection count.
                AGENTPLAZA_WS_MAX_CONNECTIONS_PER_IP="1000000",
                AGENTPLAZA_HEALTH_DETAILS="1",
                AGENTPLAZA_LOG_LEVEL="warning",
            )
            with open(self.log_path, "ab") as log:
                self.proc = subprocess.Popen(
                    [self.python, "-m", "agentplaza", "serve"],
                    env=env,
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    preexec_fn=_die_with_parent,
                )
            if self._wait_ready():
                return
            if attempt == 2 or "address already in use" not in self.log_tail().lower():
                break
        raise RuntimeError(f"server did not start; log {self.log_path}:\n{self.log_tail()}")

    def _wait_ready(self) -> bool:
        deadline = time.monotonic() + SERVER_START_TIMEOUT_S
        while time.monotonic() < deadline:
            assert self.proc is not None
            if self.proc.poll() is not None:
                return False
            if health_ok(self.host, self.port):
                return True
            time.sleep(0.05)
        self.stop()
        return False

    def log_tail(self, n: int = 4000) -> str:
        try:
            return _read(self.log_path)[-n:]
        except OSError:
            return ""

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)

    def cleanup(self) -> None:
        self.stop()
        if self.data_dir and not self.keep_data:
            shutil.rmtree(self.data_dir, ignore_errors=True)


# --------------------------------------------------------------------------------- client side
@dataclass(frozen=True, slots=True)
class Agent:
    id: str
    key: str

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.key}"}


@dataclass
class Ctx:
    args: argparse.Namespace
    base: str
    http: aiohttp.ClientSession
    server_pids: list[int]
    registered: int = 0

    @property
    def ws_url(self) -> str:
        return self.base.replace("http://", "ws://", 1) + "/v1/ws"


@dataclass(frozen=True, slots=True)
class Resp:
    """A fully read HTTP response (reading it all lets aiohttp reuse the connection)."""

    status_code: int
    body: bytes

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", "replace")

    def json(self) -> Any:
        return json.loads(self.body)


async def request(
    http: aiohttp.ClientSession,
    method: str,
    path: str,
    *,
    json_body: Any = None,
    params: dict[str, str | int] | None = None,
    headers: dict[str, str] | None = None,
    timeout_s: float | None = None,
) -> Resp:
    """One request on the shared session; raises one of HTTP_ERRORS on transport failure."""
    kw: dict[str, Any] = {}
    if timeout_s is not None:
        kw["timeout"] = aiohttp.ClientTimeout(total=timeout_s, sock_connect=10)
    async with http.request(
        method, path, json=json_body, params=params, headers=headers, **kw
    ) as r:
        return Resp(r.status, await r.read())


async def gather_limited(factories: Sequence[Callable[[], Awaitable[T]]], limit: int) -> list[T]:
    sem = asyncio.Semaphore(limit)

    async def one(f: Callable[[], Awaitable[T]]) -> T:
        async with sem:
            return await f()

    return list(await asyncio.gather(*(one(f) for f in factories)))


async def register_agents(ctx: Ctx, n: int) -> list[Agent]:
    start = ctx.registered
    ctx.registered += n

    async def one(i: int) -> Agent:
        r = await request(
            ctx.http,
            "POST",
            "/v1/agents/register",
            json_body={"display_name": f"bench-{i}", "bio": "dm_bench agent"},
        )
        if r.status_code != 201:
            raise RuntimeError(f"register -> {r.status_code} {r.text[:200]}")
        d = r.json()
        return Agent(id=str(d["id"]), key=str(d["api_key"]))

    return await gather_limited(
        [functools.partial(one, i) for i in range(start, start + n)], ctx.args.register_concurrency
    )


async def ws_open(ctx: Ctx, agent: Agent) -> ClientConnection:
    return await connect(
        ctx.ws_url,
        additional_headers=agent.auth,
        compression=None,
        proxy=None,
        ping_interval=None,  # idle means idle: no client keep-alive traffic
        open_timeout=15,
        close_timeout=2,
        max_size=4 * 2**20,
    )


async def ws_open_ready(ctx: Ctx, agent: Agent) -> ClientConnection:
    """Connect and wait for the `notifications` frame: the server sends it after attaching the
    connection to the hub and sending the backlog, so from then on deliveries are pushed."""
    conn = await ws_open(ctx, agent)
    try:
        async with asyncio.timeout(10):
            for _ in range(1000):
                frame = json.loads(await conn.recv())
                if isinstance(frame, dict) and frame.get("type") == "notifications":
                    return conn
        raise RuntimeError("no notifications frame in 1000 frames")
    except BaseException:
        await conn.close()
        raise


async def open_all_ready(ctx: Ctx, agents: Sequence[Agent]) -> list[ClientConnection]:
    """One ready WebSocket per agent, or none at all (the first error is raised)."""

    async def one(agent: Agent) -> ClientConnection | BaseException:
        try:
            return await ws_open_ready(ctx, agent)
        except Exception as exc:  # collected, so the others can be closed
            return exc

    got = await gather_limited([functools.partial(one, a) for a in agents], WS_OPEN_CONCURRENCY)
    conns = [c for c in got if isinstance(c, ClientConnection)]
    errors = [e for e in got if isinstance(e, BaseException)]
    if errors:
        await close_all(conns, 10)
        raise RuntimeError(f"{len(errors)} receiver WebSocket(s) failed: {errors[0]!r}")
    return conns


def make_body(tag: str, sender: int, n: int, pad: int) -> str:
    # the send timestamp travels inside the body -> end-to-end latency on one clock
    return json.dumps({"k": tag, "s": sender, "n": n, "t": time.time_ns(), "p": "x" * pad})


class Collector:
    """Counts deliveries of one level (deduplicated) and their send→receive latencies."""

    def __init__(self, tag: str) -> None:
        self.tag = tag
        self.lat_ms: list[float] = []
        self.seen: set[tuple[str, object, object]] = set()
        self.delivered = 0
        self.dups = 0
        self.stale = 0
        self.last_recv_ns = 0
        self.expected = 0
        self.done = asyncio.Event()

    def on_message(self, receiver: Agent, message: Any, recv_ns: int) -> None:
        if not isinstance(message, dict) or str(message.get("from")) == receiver.id:
            return
        content = message.get("content")
        body = content.get("body") if isinstance(content, dict) else None
        try:
            d = json.loads(body) if isinstance(body, str) else None
        except ValueError:
            d = None
        if not isinstance(d, dict) or d.get("k") != self.tag or not isinstance(d.get("t"), int):
            self.stale += 1
            return
        key = (receiver.id, d.get("s"), d.get("n"))
        if key in self.seen:
            self.dups += 1
            return
        self.seen.add(key)
        self.delivered += 1
        self.lat_ms.append((recv_ns - d["t"]) / 1e6)
        self.last_recv_ns = recv_ns
        self.check_done()

    def check_done(self) -> None:
        if self.expected and self.delivered >= self.expected:
            self.done.set()


async def ws_reader(conn: ClientConnection, agent: Agent, col: Collector, ack: bool) -> None:
    """Until the connection closes (or the level cancels us)."""
    async for raw in conn:
        now = time.time_ns()
        try:
            frame = json.loads(raw)
        except ValueError:
            continue
        if not isinstance(frame, dict) or frame.get("type") != "msg":
            continue
        data = frame.get("data")
        message = data.get("message") if isinstance(data, dict) else None
        col.on_message(agent, message, now)
        if ack and isinstance(message, dict) and isinstance(message.get("seq"), int):
            await conn.send(json.dumps({"type": "ack", "up_to_seq": message["seq"]}))


async def poll_reader(ctx: Ctx, agent: Agent, col: Collector, max_polls: int) -> None:
    """Long-poll loop: pending?timeout=30, then ack up_to_seq of the last item."""
    errors = 0
    for _ in range(max_polls):
        if errors >= MAX_POLL_ERRORS:
            return
        try:
            r = await request(
                ctx.http,
                "GET",
                "/v1/messages/pending",
                params={"timeout": POLL_TIMEOUT_S},
                headers=agent.auth,
                timeout_s=POLL_TIMEOUT_S + 15,
            )
            now = time.time_ns()
            if r.status_code != 200:
                raise RuntimeError(f"pending -> {r.status_code} {r.text[:200]}")
            items = r.json()
            for m in items:
                col.on_message(agent, m, now)
            if items:
                a = await request(
                    ctx.http,
                    "POST",
                    "/v1/messages/ack",
                    json_body={"up_to_seq": items[-1]["seq"]},
                    headers=agent.auth,
                )
                if a.status_code >= 300:
                    raise RuntimeError(f"ack -> {a.status_code} {a.text[:200]}")
        except (*HTTP_ERRORS, RuntimeError, ValueError, KeyError) as exc:
            errors += 1
            print(f"  poll error ({agent.id}): {exc!r}"[:300], file=sys.stderr)
            await asyncio.sleep(0.2)


async def wait_online(ctx: Ctx, agents: Sequence[Agent], within_s: float) -> bool:
    """True once the server reports every agent online (a parked long-poll counts)."""
    deadline = time.monotonic() + within_s
    todo = list(agents)
    while todo and time.monotonic() < deadline:
        rs = await asyncio.gather(*(request(ctx.http, "GET", f"/v1/agents/{a.id}") for a in todo))
        todo = [a for a, r in zip(todo, rs, strict=True) if not r.json().get("online")]
        if todo:
            await asyncio.sleep(0.05)
    return not todo


async def close_all(conns: Sequence[ClientConnection], within_s: float) -> None:
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(within_s):
            await gather_limited([c.close for c in conns], WS_CLOSE_CONCURRENCY)
    for c in conns:  # whatever did not close cleanly in time
        if c.transport is not None and not c.transport.is_closing():
            c.transport.abort()


async def server_connections(ctx: Ctx) -> int | None:
    with contextlib.suppress(*HTTP_ERRORS, ValueError, KeyError):
        r = await request(ctx.http, "GET", "/health", timeout_s=5)
        return int(r.json()["connections"])
    return None


# ----------------------------------------------------------------------------------- workloads
async def sender_loop(
    ctx: Ctx,
    idx: int,
    sender: Agent,
    to: Agent,
    tag: str,
    deadline: float,
    stats: dict[str, Any],
) -> None:
    a = ctx.args
    for n in range(a.messages):
        if time.perf_counter() >= deadline or stats["errors"] > MAX_SEND_ERRORS:
            return
        t = time.perf_counter()
        body = make_body(tag, idx, n, a.pad)
        try:
            r = await request(
                ctx.http,
                "POST",
                "/v1/messages",
                json_body={"to": to.id, "content": {"format": "text", "body": body}},
                headers=sender.auth,
            )
            ok = 200 <= r.status_code < 300
            err = None if ok else f"HTTP {r.status_code} {r.text[:200]}"
        except HTTP_ERRORS as exc:
            ok, err = False, repr(exc)[:300]
        if ok:
            stats["accepted"] += 1
            stats["send_ms"].append((time.perf_counter() - t) * 1000)
        else:
            stats["errors"] += 1
            stats.setdefault("last_error", err)


async def dm_level(ctx: Ctx, transport: str, pairs: int) -> Row:
    a = ctx.args
    agents = await register_agents(ctx, 2 * pairs)
    senders, receivers = agents[0::2], agents[1::2]
    tag = f"dm-{transport}-{pairs}-{time.time_ns()}"
    col = Collector(tag)
    conns: list[ClientConnection] = []
    tasks: list[asyncio.Task[None]] = []
    ready = True
    try:
        if transport == "ws":
            conns = await open_all_ready(ctx, receivers)
            tasks = [
                asyncio.create_task(ws_reader(c, r, col, a.ws_ack))
                for c, r in zip(conns, receivers, strict=True)
            ]
        else:
            max_polls = a.messages * 2 + 100
            tasks = [asyncio.create_task(poll_reader(ctx, r, col, max_polls)) for r in receivers]
            ready = await wait_online(ctx, receivers, 15)
            if not ready:
                print("  warning: not every long-poll receiver parked in 15 s", file=sys.stderr)
        await asyncio.sleep(a.settle)

        mon = Monitor(ctx.server_pids)
        stats: dict[str, Any] = {"accepted": 0, "errors": 0, "send_ms": []}
        mon.begin()
        t0 = time.perf_counter()
        t0_ns = time.time_ns()
        deadline = t0 + a.duration
        await asyncio.gather(
            *(
                sender_loop(ctx, i, s, r, tag, deadline, stats)
                for i, (s, r) in enumerate(zip(senders, receivers, strict=True))
            )
        )
        send_window = time.perf_counter() - t0
        col.expected = stats["accepted"]
        col.check_done()
        if col.expected and not col.done.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(col.done.wait(), a.drain)
        m = mon.end()
    finally:
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await close_all(conns, 10)

    lat = sorted(col.lat_ms)
    sm = sorted(stats["send_ms"])
    window = (col.last_recv_ns - t0_ns) / 1e9 if col.last_recv_ns else 0.0
    sent = stats["accepted"]
    return {
        "transport": transport,
        "pairs": pairs,
        "attempts": sent + stats["errors"],
        "sent": sent,
        "send_errors": stats["errors"],
        "last_error": stats.get("last_error"),
        "delivered": col.delivered,
        "lost": max(0, sent - col.delivered),
        "dups": col.dups,
        "stale": col.stale,
        "receivers_ready": ready,
        "send_window_s": round(send_window, 3),
        "accepted_per_s": round(sent / send_window, 1) if send_window > 0 else None,
        "delivered_per_s": round(col.delivered / window, 1) if window > 0 else None,
        "send_ms_p50": r2(pct(sm, 50)),
        "send_ms_p99": r2(pct(sm, 99)),
        "lat_ms_p50": r2(pct(lat, 50)),
        "lat_ms_p95": r2(pct(lat, 95)),
        "lat_ms_p99": r2(pct(lat, 99)),
        "lat_ms_max": r2(lat[-1] if lat else None),
        **m,
    }


async def idle_level(ctx: Ctx, n: int) -> Row:
    a = ctx.args
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
DM_COLUMNS = [
    ("transport", "transport"),
    ("pairs", "pairs"),
    ("sent", "sent"),
    ("delivered", "delivered"),
    ("lost", "lost"),
    ("accepted/s", "accepted_per_s"),
    ("delivered/s", "delivered_per_s"),
    ("p50 ms", "lat_ms_p50"),
    ("p95 ms", "lat_ms_p95"),
    ("p99 ms", "lat_ms_p99"),
    ("srv CPU%", "server_cpu_pct"),
    ("srv RSS MB", "server_rss_mb"),
    ("cli CPU%", "client_cpu_pct"),
    ("box CPU%", "machine_cpu_pct"),
    ("errors", "send_errors"),
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
    ("left after close", "server_conns_after_close"),
    ("RSS after close MB", "server_rss_after_close_mb"),
]


def table(title: str, columns: Sequence[tuple[str, str]], rows: Sequence[Row]) -> str:
    def cell(row: Row, key: str) -> str:
        if "error" in row and key not in row:
            return "-"
        v = row.get(key)
        return "" if v is None else str(v)

    cells = [[cell(r, k) for _, k in columns] for r in rows]
    widths = [max([len(h)] + [len(c[i]) for c in cells]) for i, (h, _) in enumerate(columns)]
    lines = [
        f"== {title} ==",
        "  ".join(h.rjust(w) for (h, _), w in zip(columns, widths, strict=True)),
    ]
    for r, c in zip(rows, cells, strict=True):
        line = "  ".join(v.rjust(w) for v, w in zip(c, widths, strict=True))
        lines.append(line + (f"   ERROR: {r['error']}" if "error" in r else ""))
    return "\n".join(lines)


def machine_info(uvloop_used: bool) -> dict[str, Any]:
    model = ""
    with contextlib.suppress(OSError):
        for line in _read("/proc/cpuinfo").splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    return {
        "cpu_model": model,
        "ncpu": NCPU,
        "python": platform.python_version(),
        "kernel": platform.release(),
        "event_loop": "uvloop" if uvloop_used else "asyncio",
        "loadavg": os.getloadavg(),
    }


# --------------------------------------------------------------------------------------- main
async def run(args: argparse.Namespace, base: str, server_pids: list[int]) -> tuple[Row, int]:
    # no pool limit: concurrency is bounded by the workloads (senders, receivers, semaphores)
    async with aiohttp.ClientSession(
        base_url=base,
        connector=aiohttp.TCPConnector(limit=0),
        timeout=aiohttp.ClientTimeout(total=60, sock_connect=10),
        trust_env=False,
    ) as session:
        try:
            r = await request(session, "GET", "/health", timeout_s=5)
            health = r.json()
        except (*HTTP_ERRORS, ValueError) as exc:
            print(f"no agentplaza server answers at {base}: {exc!r}", file=sys.stderr)
            return {}, 2
        ctx = Ctx(args=args, base=base, http=session, server_pids=server_pids)
        t_all = time.perf_counter()
        dm_rows: list[Row] = []
        idle_rows: list[Row] = []
        failed = 0
        transports = ["ws", "poll"] if args.transport == "both" else [args.transport]
        plan: list[tuple[str, str, int]] = [("dm", t, p) for t in transports for p in args.pairs]
        plan += [("idle", "ws", n) for n in args.idle if n > 0]
        for kind, transport, level in plan:
            if time.perf_counter() - t_all > args.max_total:
                print(f"stopping: --max-total {args.max_total}s reached", file=sys.stderr)
                break
            label = f"dm/{transport} pairs={level}" if kind == "dm" else f"idle conns={level}"
            print(f"[dm_bench] {label} ...", file=sys.stderr, flush=True)
            try:
                if kind == "dm":
                    limit = args.level_timeout or (args.duration + args.drain + 120)
                    row = await asyncio.wait_for(dm_level(ctx, transport, level), limit)
                else:
                    limit = args.level_timeout or 600
                    row = await asyncio.wait_for(idle_level(ctx, level), limit)
            except Exception as exc:  # one level failing must not stop the rest
                failed += 1
                row = {"error": repr(exc)[:300]}
                row.update(
                    {"transport": transport, "pairs": level}
                    if kind == "dm"
                    else {"conns_requested": level}
                )
            (dm_rows if kind == "dm" else idle_rows).append(row)
            print("  " + json.dumps(row), file=sys.stderr, flush=True)

    out: Row = {
        "bench": "agentplaza/dm_bench",
        "when": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "argv": sys.argv,
        "machine": machine_info(args.uvloop_used),
        "server": {
            "url": base,
            "pids": server_pids,
            "version": health.get("version"),
            "started_by_bench": args.url is None,
        },
        "params": {k: getattr(args, k) for k in PARAM_KEYS},
        "dm": dm_rows,
        "idle": idle_rows,
    }
    return out, 1 if failed else 0


PARAM_KEYS = (
    *("transport", "pairs", "messages", "duration", "drain", "settle", "pad"),
    *("idle", "idle_hold", "idle_settle", "ws_ack", "quick"),
)


def parse_levels(text: str) -> list[int]:
    try:
        levels = [int(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected comma-separated integers, got {text!r}"
        ) from None
    if any(x < 0 for x in levels):
        raise argparse.ArgumentTypeError("levels must be >= 0")
    return levels


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument(
        "--quick", action="store_true", help="smoke run: pairs 1,10, 50 messages, idle 200"
    )
    p.add_argument("--transport", choices=["ws", "poll", "both"], default="ws")
    p.add_argument("--pairs", type=parse_levels, help="DM levels (default 1,10,50)")
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
    p.add_argument("--max-total", type=float, default=1800.0, help="skip levels after this many s")
    p.add_argument("--url", default=None, help="use a running server (loopback only)")
    p.add_argument("--server-pid", default=None, help="server PID(s) for CPU/RSS, comma separated")
    p.add_argument("--server-python", default=sys.executable, help="python that runs the server")
    p.add_argument("--keep-data", action="store_true", help="keep the temp data dir and log")
    p.add_argument("--json-out", default=None, help="also write the JSON result to this file")
    p.add_argument("--no-uvloop", action="store_true", help="plain asyncio event loop")
    a = p.parse_args(argv)
    quick = {"pairs": [1, 10], "messages": 50, "duration": 10.0, "drain": 10.0, "settle": 0.3}
    quick |= {"idle": [200], "idle_hold": 1.5, "idle_settle": 0.5}
    full = {"pairs": [1, 10, 50], "messages": 200, "duration": 20.0, "drain": 15.0, "settle": 1.0}
    full |= {"idle": [5000], "idle_hold": 5.0, "idle_settle": 2.0}
    for k, v in (quick if a.quick else full).items():
        if getattr(a, k) is None:
            setattr(a, k, v)
    if a.url is not None:
        host = urllib.parse.urlsplit(a.url).hostname
        if host not in LOOPBACK_HOSTS:
            p.error("only loopback targets are allowed (127.0.0.1, localhost, ::1)")
    if a.messages < 1 or a.duration <= 0:
        p.error("--messages and --duration must be positive")
    return a


def raise_nofile() -> int:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    with contextlib.suppress(ValueError, OSError):
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
        soft = hard
    return soft


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    nofile = raise_nofile()
    need = max(args.idle or [0]) + 2 * max(args.pairs or [0]) + 200
    if nofile < need:
        print(f"warning: RLIMIT_NOFILE {nofile} < ~{need} sockets needed", file=sys.stderr)
    loop_factory: Callable[[], asyncio.AbstractEventLoop] | None = None
    args.uvloop_used = False
    if not args.no_uvloop:
        try:
            import uvloop

            loop_factory = uvloop.new_event_loop
            args.uvloop_used = True
        except ImportError:
            pass
    # SIGTERM -> SystemExit, so the finally below still stops the server we started.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))

    server: LocalServer | None = None
    out: Row = {}
    rc = 1
    try:
        if args.url is None:
            server = LocalServer(args.server_python, "127.0.0.1", args.keep_data)
            print("[dm_bench] starting server ...", file=sys.stderr, flush=True)
            server.start()
            base = server.url
            assert server.proc is not None
            pids = [server.proc.pid]
            if args.server_pid:
                pids = [int(x) for x in args.server_pid.split(",") if x.strip()]
        else:
            base = args.url.rstrip("/")
            if args.server_pid:
                pids = [int(x) for x in args.server_pid.split(",") if x.strip()]
            else:
                pids = pids_listening_on(urllib.parse.urlsplit(base).port or 80)
                if not pids:
                    print("warning: server PID not found; pass --server-pid", file=sys.stderr)
        print(f"[dm_bench] server {base} pid(s) {pids}", file=sys.stderr, flush=True)
        with asyncio.Runner(loop_factory=loop_factory) as runner:
            out, rc = runner.run(run(args, base, pids))
        if server is not None and server.proc is not None and server.proc.poll() is not None:
            print(f"server exited during the run:\n{server.log_tail()}", file=sys.stderr)
            rc = rc or 1
    except RuntimeError as exc:
        print(f"[dm_bench] {exc}", file=sys.stderr)
        return 2
    finally:
        if server is not None:
            server.cleanup()
            if args.keep_data:
                print(f"[dm_bench] data and log kept in {server.data_dir}", file=sys.stderr)
    if not out:
        return rc
    print()
    if out["dm"]:
        print(table("DM (send→receive)", DM_COLUMNS, out["dm"]))
        print()
    if out["idle"]:
        print(table(f"idle WebSockets (held {args.idle_hold:g} s)", IDLE_COLUMNS, out["idle"]))
        print()
    if args.json_out:
        with open(args.json_out, "w") as fh:
            json.dump(out, fh, indent=1)
    print(json.dumps(out, separators=(",", ":")), flush=True)
    return rc


if __name__ == "__main__":
    sys.exit(main())
