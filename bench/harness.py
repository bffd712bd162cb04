#!/usr/bin/env python3
"""What the agentplaza benchmarks share: /proc metrics, the server they start, the HTTP and
WebSocket client side, the delivery collector and the table output.

bench/dm_bench.py is the command line (DM, group fan-out, idle WebSockets); bench/loadgen.py
runs the senders and receivers of a level in one or more worker processes. Definitions follow
the shared harness (../shared/bench/bench.py): closed-loop senders, receivers connected before
the first send, the send timestamp inside the body, percentiles by nearest rank, CPU in % of
ONE core. Needs only aiohttp (all HTTP), websockets and the standard library (psycopg for
`--postgres`).
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
import uuid
from collections.abc import Awaitable, Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
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
CHECKOUT = Path(__file__).resolve().parents[1]  # the servers run this checkout's code
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
    """CPU (% of one core), run-queue wait and RSS of the server PIDs (+children) and of the
    load generator's processes (this one and its workers: their SUM), plus the whole machine
    (out of NCPU*100), between begin() and end(). The client processes must still be alive at
    end(): a process that is gone reads as 0 s of CPU."""

    def __init__(self, server_pids: Sequence[int], client_pids: Sequence[int] = ()) -> None:
        self.server_pids = list(server_pids)
        self.client_pids = [os.getpid(), *client_pids]
        self._t0 = 0.0
        self._s0 = 0.0
        self._c0: list[float] = []
        self._m0 = (0.0, 0.0)
        self._sw0 = 0.0
        self._cw0 = 0.0

    def _server_cpu(self) -> float:
        return sum(proc_cpu_s(p) for p in proc_tree(self.server_pids))

    def _server_wait(self) -> float:
        return sum(proc_runq_wait_s(p) for p in proc_tree(self.server_pids))

    def _client_cpu(self) -> list[float]:
        return [proc_cpu_s(p) for p in self.client_pids]

    def _client_wait(self) -> float:
        return sum(proc_runq_wait_s(p) for p in self.client_pids)

    def rss_bytes(self) -> int:
        return sum(proc_rss_bytes(p) for p in proc_tree(self.server_pids))

    def begin(self) -> None:
        self._t0 = time.perf_counter()
        self._s0 = self._server_cpu()
        self._c0 = self._client_cpu()
        self._m0 = machine_cpu()
        self._sw0 = self._server_wait()
        self._cw0 = self._client_wait()

    def end(self) -> dict[str, Any]:
        wall = max(time.perf_counter() - self._t0, 1e-9)
        s1, c1, (busy1, tot1) = self._server_cpu(), self._client_cpu(), machine_cpu()
        busy0, tot0 = self._m0
        sw1, cw1 = self._server_wait(), self._client_wait()
        has_server = bool(self.server_pids)
        per_proc = [100 * (b - a) / wall for a, b in zip(self._c0, c1, strict=True)]
        return {
            "wall_s": round(wall, 3),
            "server_cpu_pct": round(100 * (s1 - self._s0) / wall, 1) if has_server else None,
            # the sum over the load generator's processes; [0] is the coordinating one
            "client_cpu_pct": round(sum(per_proc), 1),
            "client_cpu_pct_per_proc": [round(x, 1) for x in per_proc],
            "client_procs": len(per_proc),
            "machine_cpu_pct": (
                round(100 * NCPU * (busy1 - busy0) / (tot1 - tot0), 1) if tot1 > tot0 else None
            ),
            # runnable-but-not-running time (all threads), % of wall: CPU starvation by others
            "server_runq_wait_pct": round(100 * (sw1 - self._sw0) / wall, 1)
            if has_server
            else None,
            "client_runq_wait_pct": round(100 * (cw1 - self._cw0) / wall, 1),
            "server_rss_mb": round(self.rss_bytes() / 2**20, 1) if has_server else None,
            "client_rss_mb": round(sum(proc_rss_bytes(p) for p in self.client_pids) / 2**20, 1),
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
    """`python -m agentplaza serve` in a fresh temp data dir, rate limits off; `env` adds
    settings (a PostgreSQL database, a bus)."""

    def __init__(
        self,
        python: str,
        host: str,
        keep_data: bool,
        env: dict[str, str] | None = None,
        port: int = 0,  # 0: a free one
    ) -> None:
        self.python = python
        self.fixed_port = port
        self.host = host
        self.keep_data = keep_data
        self.extra_env = dict(env or {})  # e.g. AGENTPLAZA_DATABASE_URL, AGENTPLAZA_BUS_URL
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
            self.port = self.fixed_port or free_port(self.host)
            env.update(
                AGENTPLAZA_HOST=self.host,
                AGENTPLAZA_PORT=str(self.port),
                AGENTPLAZA_DATA_DIR=self.data_dir,
                AGENTPLAZA_RATE_LIMITS_ENABLED="0",
                # Thousands of sockets from one address, and /health's connection count.
                AGENTPLAZA_WS_MAX_CONNECTIONS_PER_IP="1000000",
                AGENTPLAZA_HEALTH_DETAILS="1",
                AGENTPLAZA_LOG_LEVEL="warning",
                # The workloads use HTTP and WebSocket; AIM's fixed port 8082 would collide
                # with another server on the box (the test suite's AIM tests, in CI).
                AGENTPLAZA_AIM_ENABLED="false",
            )
            env.update(self.extra_env)
            with open(self.log_path, "ab") as log:
                self.proc = subprocess.Popen(
                    [self.python, "-m", "agentplaza", "serve"],
                    # `-m` imports from the working directory first: the checkout this file
                    # is in, whatever checkout the Python's editable install points at.
                    cwd=CHECKOUT,
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


@contextlib.contextmanager
def postgres_database(admin_url: str, prefix: str = "agentplaza_bench") -> Iterator[str]:
    """A fresh, empty PostgreSQL database `<prefix>_<hex>` beside `admin_url`'s (dropped
    after): the embedded server's fresh data dir, for a PostgreSQL run."""
    import psycopg  # only needed here (the `postgres` extra)

    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield admin_url.rsplit("/", 1)[0] + "/" + name
    finally:
        with psycopg.connect(admin_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


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
    """One server as the load generator sees it: its URL, one HTTP session (no pool limit:
    concurrency is bounded by the workloads), the PIDs to measure."""

    base: str
    http: aiohttp.ClientSession
    server_pids: list[int] = field(default_factory=list)
    # Cluster nodes sharing one database and bus (`--nodes`): the load's workers spread their
    # receivers and senders over them (loadgen.run_level); empty = everything through `base`.
    nodes: list[str] = field(default_factory=list)
    # PIDs measured beside the server (e.g. PostgreSQL and Redis): `infra_cpu_pct` in a row.
    infra_pids: list[int] = field(default_factory=list)
    register_concurrency: int = REGISTER_CONCURRENCY
    registered: int = 0

    @property
    def ws_url(self) -> str:
        return self.base.replace("http://", "ws://", 1) + "/v1/ws"


def http_session(base: str) -> aiohttp.ClientSession:
    return aiohttp.ClientSession(
        base_url=base,
        # Idle connections are dropped after 2 s, before the server's keep-alive timeout
        # (uvicorn: 5 s) closes them: reusing one the server is closing fails the request
        # ("Can not write request body"), as it did when the coordinator registered the
        # next level's agents just as a level of its workers ended.
        connector=aiohttp.TCPConnector(limit=0, keepalive_timeout=2),
        timeout=aiohttp.ClientTimeout(total=60, sock_connect=10),
        trust_env=False,
    )


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


# Display names are unique per server: a second run against the same server needs others.
RUN_TAG = f"{os.getpid():x}{time.time_ns() % 2**20:x}"


async def register_agents(ctx: Ctx, n: int) -> list[Agent]:
    start = ctx.registered
    ctx.registered += n

    async def one(i: int) -> Agent:
        r = await request(
            ctx.http,
            "POST",
            "/v1/agents/register",
            json_body={"display_name": f"bench-{RUN_TAG}-{i}", "bio": "bench agent"},
        )
        if r.status_code != 201:
            raise RuntimeError(f"register -> {r.status_code} {r.text[:200]}")
        d = r.json()
        return Agent(id=str(d["id"]), key=str(d["api_key"]))

    return await gather_limited(
        [functools.partial(one, i) for i in range(start, start + n)], ctx.register_concurrency
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


# ------------------------------------------------------------------------------------- output
# The columns every delivery workload reports (after its own level columns).
DELIVERY_COLUMNS = [
    ("delivered", "delivered"),
    ("lost", "lost"),
    ("dups", "dups"),
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


def raise_nofile() -> int:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    with contextlib.suppress(ValueError, OSError):
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
        soft = hard
    return soft


def loop_factory(use_uvloop: bool) -> Callable[[], asyncio.AbstractEventLoop] | None:
    """uvloop's loop when asked for and importable, else None (asyncio's)."""
    if use_uvloop:
        with contextlib.suppress(ImportError):
            import uvloop

            return uvloop.new_event_loop
    return None
