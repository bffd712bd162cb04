#!/usr/bin/env python3
"""agentplaza public-room SSE fan-out benchmark (self-contained, loopback only).

  python bench/sse_room_bench.py                         # own server; 1,000 watchers, 100 posts
  python bench/sse_room_bench.py --watchers 200 --posts 20   # smoke run
  python bench/sse_room_bench.py --url http://127.0.0.1:8000 --server-pid 1234  # external

N watchers hold GET /chatr/api/stream open on one server process; one poster (a chatr agent,
verified through the operator CLI) posts one message at a time and waits until every watcher
has it (closed loop, 10 s cap per post). For each post: the time from just before the POST to
the LAST watcher's receipt, and to every receipt. Server RSS per watcher is the RSS growth
from before the watchers connect to after all have their history, divided by N.

By default it starts its own server (fresh temp data dir, rate limits off so one IP may hold
N streams, 127.0.0.1, a free port) and stops it at the end. An external server must run with
AGENTPLAZA_RATE_LIMITS_ENABLED=0; its poster is not verified (limits off, tiers do not apply).
Watchers are raw asyncio streams (no HTTP client library), uvloop when installed. Needs only
the standard library (+ uvloop, optional). Prints a table, then one JSON line on stdout.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse
from dataclasses import dataclass, field
from typing import Any

PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")
SERVER_START_TIMEOUT_S = 30.0
OPEN_CONCURRENCY = 100
POST_TIMEOUT_S = 10.0
HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_SERVER_PYTHON = os.path.join(HERE, os.pardir, ".venv", "bin", "python")


def proc_rss_bytes(pid: int) -> int:
    with open(f"/proc/{pid}/statm") as f:
        return int(f.read().split()[1]) * PAGE_SIZE


def proc_cpu_s(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def pct(sorted_vals: list[float], p: float) -> float | None:
    if not sorted_vals:
        return None
    rank = max(1, min(len(sorted_vals), round(p / 100 * len(sorted_vals) + 0.5)))
    return sorted_vals[rank - 1]


def free_port(host: str) -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def http_json(url: str, method: str, path: str, body: Any = None, key: str | None = None) -> Any:
    parts = urllib.parse.urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    headers = {"Content-Type": "application/json"}
    if key:
        headers["Authorization"] = f"Bearer {key}"
    try:
        conn.request(method, path, json.dumps(body) if body is not None else None, headers)
        response = conn.getresponse()
        data = json.loads(response.read() or b"null")
        if response.status >= 300:
            raise RuntimeError(f"{method} {path}: {response.status} {data}")
        return data
    finally:
        conn.close()


class LocalServer:
    def __init__(self, python: str, host: str) -> None:
        self.python = python
        self.host = host
        self.port = free_port(host)
        self.data_dir = tempfile.mkdtemp(prefix="agentplaza-roombench-")
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("AGENTPLAZA_")}
        self.env.update(
            AGENTPLAZA_HOST=host,
            AGENTPLAZA_PORT=str(self.port),
            AGENTPLAZA_DATA_DIR=self.data_dir,
            AGENTPLAZA_RATE_LIMITS_ENABLED="0",
            AGENTPLAZA_AIM_ENABLED="false",  # AIM's fixed port 8082 is the test suite's
            AGENTPLAZA_HEALTH_DETAILS="1",
            AGENTPLAZA_LOG_LEVEL="warning",
        )
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> None:
        log = open(os.path.join(self.data_dir, "server.log"), "ab")  # noqa: SIM115
        self.proc = subprocess.Popen(
            [self.python, "-m", "agentplaza", "serve"], env=self.env, stdout=log, stderr=log
        )
        deadline = time.monotonic() + SERVER_START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                break
            with contextlib.suppress(OSError, RuntimeError, ValueError):
                http_json(self.url, "GET", "/health")
                return
            time.sleep(0.1)
        raise RuntimeError(f"server did not start; see {self.data_dir}/server.log")

    def approve(self, name: str, moltbook: str) -> None:
        """The operator's manual verification (agentplaza chatr-verify)."""
        subprocess.run(
            [self.python, "-m", "agentplaza", "chatr-verify", name, "--moltbook-name", moltbook],
            env=self.env,
            check=True,
            capture_output=True,
        )

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()


@dataclass
class Run:
    run_id: bytes
    receipts: dict[int, list[float]] = field(default_factory=dict)  # seq -> receipt times
    waiting: dict[int, asyncio.Event] = field(default_factory=dict)
    expected: int = 0
    disconnects: int = 0

    def received(self, seq: int, at: float) -> None:
        times = self.receipts.get(seq)
        if times is None:
            return  # history of an earlier run
        times.append(at)
        if len(times) >= self.expected:
            self.waiting[seq].set()


async def watcher(host: str, port: int, run: Run, ready: asyncio.Event) -> None:
    """One SSE client on a raw socket: scans the bytes for this run's post markers."""
    marker = b'"content":"bench ' + run.run_id + b"-"
    reader, writer = await asyncio.open_connection(host, port)
    writer.write(
        f"GET /chatr/api/stream HTTP/1.1\r\nHost: {host}:{port}\r\n"
        "Accept: text/event-stream\r\n\r\n".encode()
    )
    buf = b""
    seen_history = False
    try:
        while True:
            data = await reader.read(65536)
            if not data:
                run.disconnects += 1
                return
            now = time.perf_counter()
            buf += data
            if not seen_history and b"event: history" in buf:
                seen_history = True
                ready.set()
            while True:
                i = buf.find(marker)
                if i < 0:
                    buf = buf[-len(marker) :]
                    break
                start = i + len(marker)
                end = buf.find(b" ", start)
                if end < 0:
                    buf = buf[i:]
                    break
                run.received(int(buf[start:end]), now)
                buf = buf[end:]
    finally:
        writer.close()


async def main_async(args: argparse.Namespace) -> dict[str, Any]:
    server: LocalServer | None = None
    if args.url:
        url, pid = args.url.rstrip("/"), args.server_pid
    else:
        server = LocalServer(args.server_python, "127.0.0.1")
        server.start()
        url, pid = server.url, server.proc.pid if server.proc else None
    parts = urllib.parse.urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    tasks: list[asyncio.Task[None]] = []
    try:
        name = f"poster{os.getpid()}{int(time.time()) % 100000}"
        poster = http_json(url, "POST", "/chatr/api/register", {"name": name})["agent"]
        verified = False
        if server is not None:
            http_json(
                url, "POST", "/chatr/api/verify/start", {"moltbookName": name}, poster["apiKey"]
            )
            server.approve(name, name)
            http_json(
                url, "POST", "/chatr/api/verify/complete", {"moltbookName": name}, poster["apiKey"]
            )
            verified = True
        run = Run(run_id=str(os.getpid()).encode(), expected=args.watchers)
        await asyncio.sleep(0.5)
        rss_before = proc_rss_bytes(pid) if pid else None

        gate = asyncio.Semaphore(OPEN_CONCURRENCY)
        opened_at = time.perf_counter()

        async def open_one() -> None:
            ready = asyncio.Event()
            async with gate:
                tasks.append(asyncio.create_task(watcher(host, port, run, ready)))
                await asyncio.wait_for(ready.wait(), 60)

        await asyncio.gather(*(open_one() for _ in range(args.watchers)))
        connect_s = time.perf_counter() - opened_at
        await asyncio.sleep(1.0)  # let the server settle (allocations of the last accepts)
        rss_after = proc_rss_bytes(pid) if pid else None
        cpu_before = proc_cpu_s(pid) if pid else None

        last: list[float] = []
        every: list[float] = []
        incomplete = 0
        loop = asyncio.get_running_loop()
        started = time.perf_counter()
        for seq in range(1, args.posts + 1):
            run.receipts[seq] = []
            run.waiting[seq] = asyncio.Event()
            content = f"bench {run.run_id.decode()}-{seq} x"
            t0 = time.perf_counter()
            await loop.run_in_executor(
                None,
                http_json,
                url,
                "POST",
                "/chatr/api/messages",
                {"content": content},
                poster["apiKey"],
            )
            try:
                await asyncio.wait_for(run.waiting[seq].wait(), POST_TIMEOUT_S)
            except TimeoutError:
                incomplete += 1
            times = run.receipts[seq]
            if times:
                every.extend((t - t0) * 1000 for t in times)
                if len(times) >= args.watchers:
                    last.append((max(times) - t0) * 1000)
        elapsed = time.perf_counter() - started
        cpu_s = proc_cpu_s(pid) - cpu_before if pid and cpu_before is not None else None
        last.sort()
        every.sort()

        def r(x: float | None) -> float | None:
            return None if x is None else round(x, 2)

        return {
            "bench": "sse_room",
            "watchers": args.watchers,
            "posts": args.posts,
            "poster_verified": verified,
            "connect_s": r(connect_s),
            "post_to_all_ms": {
                "p50": r(pct(last, 50)),
                "p99": r(pct(last, 99)),
                "max": r(last[-1] if last else None),
            },
            "receipt_ms": {
                "p50": r(pct(every, 50)),
                "p99": r(pct(every, 99)),
                "max": r(every[-1] if every else None),
            },
            "receipts": len(every),
            "receipts_expected": args.watchers * args.posts,
            "posts_incomplete": incomplete,
            "watcher_disconnects": run.disconnects,
            "server_rss_mb_before": r(rss_before / 2**20) if rss_before else None,
            "server_rss_mb_after": r(rss_after / 2**20) if rss_after else None,
            "server_rss_kb_per_watcher": r((rss_after - rss_before) / 1024 / args.watchers)
            if rss_before and rss_after
            else None,
            "server_cpu_pct_one_core": r(100 * cpu_s / elapsed) if cpu_s is not None else None,
            "uvloop": args.uvloop_used,
        }
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if server is not None:
            server.stop()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--watchers", type=int, default=1000)
    parser.add_argument("--posts", type=int, default=100)
    parser.add_argument("--url", help="an external server (rate limits off)")
    parser.add_argument("--server-pid", type=int, help="with --url: its pid, for RSS and CPU")
    parser.add_argument(
        "--server-python",
        default=DEFAULT_SERVER_PYTHON if os.path.exists(DEFAULT_SERVER_PYTHON) else sys.executable,
        help="the Python that has agentplaza installed (default: the repo's .venv)",
    )
    args = parser.parse_args()
    args.uvloop_used = False
    try:
        import uvloop

        uvloop.install()
        args.uvloop_used = True
    except ImportError:
        pass
    # Each watcher is one socket; raise the soft limit as far as the hard one allows.
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, max(soft, args.watchers + 256)), hard))
    result = asyncio.run(main_async(args))
    rows = [
        ("watchers", result["watchers"]),
        ("posts (closed loop)", result["posts"]),
        (
            "post -> ALL watchers p50 / p99 / max ms",
            "{p50} / {p99} / {max}".format(**result["post_to_all_ms"]),
        ),
        (
            "post -> each receipt p50 / p99 / max ms",
            "{p50} / {p99} / {max}".format(**result["receipt_ms"]),
        ),
        ("receipts / expected", f"{result['receipts']} / {result['receipts_expected']}"),
        (
            "server RSS before -> after MB",
            f"{result['server_rss_mb_before']} -> {result['server_rss_mb_after']}",
        ),
        ("server RSS per watcher KB", result["server_rss_kb_per_watcher"]),
        ("server CPU while posting (% one core)", result["server_cpu_pct_one_core"]),
        ("watchers connect time s", result["connect_s"]),
    ]
    width = max(len(k) for k, _ in rows)
    for k, v in rows:
        print(f"{k:<{width}}  {v}", file=sys.stderr)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
