#!/usr/bin/env python3
"""agentplaza /studio streamed-conversation benchmark (self-contained, loopback only).

  python bench/studio_streams.py                        # 200 streams x 500 tokens at 50 tokens/s
  python bench/studio_streams.py --client-procs 2       # the load generator in 2 processes
  python bench/studio_streams.py --postgres             # on a fresh PostgreSQL database
  python bench/studio_streams.py --streams 5 --tokens 10 --tokens-per-sec 200   # smoke

Starts the scripted model server (bench/studio_fake.py: tests/llmfake.py's FakeLLM in its own
process, each token `s<stream>t<seq>` and the wall-clock time it was sent recorded) and an
agentplaza server (fresh temp data dir, SQLite unless --postgres, rate limits off, loopback
providers allowed, the per-account stream cap raised to --streams). Registers a human
(/studio/api/auth/register), a provider at the fake (max_concurrency = streams), one
conversation per stream, then opens every `POST /studio/api/messages/stream` at once and
reads the SSE `text` events (bench/studio_client.py).

Per token: the latency the server adds = time its client read it − time the fake wrote it
(same clock, `time.time_ns()`): it includes the server's work (the openai/anthropic package
parsing the provider's stream, our turn loop, the SSE write) and the loopback, and also any
wait of the client process for a CPU, which is why the client's CPU is reported beside it.
Server RSS before the streams, while all are open, and after; server, client and fake CPU in
% of one core over the streaming window. Checks that every stream got exactly its tokens, in
order, and a `done`. Prints a table, then one JSON line (last line, starts with `{`).
Exit code: 0 ok, 1 something lost or a stream failed, 2 setup failed.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from typing import Any

import httpx
from studio_client import StreamResult, analyse, from_json, r2, run_streams

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
CLK_TCK = os.sysconf("SC_CLK_TCK")
PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")
DEFAULT_PYTHON = os.path.join(ROOT, ".venv", "bin", "python")
PG_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
PROVIDER_CONCURRENCY_MAX = 256  # domain/providers.py CONCURRENCY_MAX
PASSWORD = "bench password 123"
CLIENT_BOUND_PCT = 85.0


# ---------------------------------------------------------------------------------- /proc
def cpu_s(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as fh:
        fields = fh.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def rss_bytes(pid: int) -> int:
    with open(f"/proc/{pid}/statm") as fh:
        return int(fh.read().split()[1]) * PAGE_SIZE


def box_cpu() -> tuple[float, float, float]:
    """(busy, steal, total) jiffies of the whole machine."""
    with open("/proc/stat") as fh:
        v = [int(x) for x in fh.readline().split()[1:]]
    idle = v[3] + v[4]
    steal = v[7] if len(v) > 7 else 0
    return sum(v) - idle, steal, sum(v)


class Sampler(threading.Thread):
    """Server RSS every 50 ms, with the time (to find the moment all streams were open)."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid = pid
        self.samples: list[tuple[int, int]] = []
        self.stopping = threading.Event()

    def run(self) -> None:
        while not self.stopping.wait(0.05):
            with contextlib.suppress(OSError):
                self.samples.append((time.time_ns(), rss_bytes(self.pid)))


# ------------------------------------------------------------------------------- processes
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _die_with_parent() -> None:  # runs in the child before exec
    with contextlib.suppress(Exception):
        import ctypes

        ctypes.CDLL(None).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def stop(proc: subprocess.Popen[Any] | None) -> None:
    if proc is not None and proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


class Fake:
    """bench/studio_fake.py in a subprocess."""

    def __init__(self, python: str, tokens: int, rate: float) -> None:
        cmd = [python, os.path.join(HERE, "studio_fake.py"), "--tokens", str(tokens)]
        self.proc = subprocess.Popen(
            [*cmd, "--tokens-per-sec", str(rate)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            preexec_fn=_die_with_parent,
        )
        assert self.proc.stdout is not None
        self.url = str(json.loads(self.proc.stdout.readline())["url"])

    def record(self, path: str) -> dict[str, Any]:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(f"dump {path}\n")
        self.proc.stdin.flush()
        if self.proc.stdout.readline().strip() != "ok":
            raise RuntimeError("the fake did not dump its record")
        with open(path) as fh:
            data: dict[str, Any] = json.load(fh)
        return data

    def stop(self) -> None:
        with contextlib.suppress(OSError):
            assert self.proc.stdin is not None
            self.proc.stdin.write("quit\n")
            self.proc.stdin.close()
        stop(self.proc)


def start_server(python: str, data_dir: str, database_url: str | None, streams: int) -> Any:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("AGENTPLAZA_")}
    env.update(
        AGENTPLAZA_HOST="127.0.0.1",
        AGENTPLAZA_PORT=str(port),
        AGENTPLAZA_DATA_DIR=data_dir,
        AGENTPLAZA_RATE_LIMITS_ENABLED="0",
        AGENTPLAZA_LLM_ALLOW_PRIVATE_BASE_URLS="1",
        AGENTPLAZA_STUDIO_MAX_STREAMS_PER_ACCOUNT=str(max(streams, 1)),
        AGENTPLAZA_LOG_LEVEL="warning",
    )
    if database_url:
        env["AGENTPLAZA_DATABASE_URL"] = database_url
    log = open(os.path.join(data_dir, "server.log"), "ab")  # noqa: SIM115 (the child's)
    proc = subprocess.Popen(
        [python, "-m", "agentplaza", "serve"],
        env=env,
        stdout=log,
        stderr=log,
        preexec_fn=_die_with_parent,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and proc.poll() is None:
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(url + "/studio/api/health", timeout=2).status_code == 200:
                return proc, url
        time.sleep(0.1)
    stop(proc)
    with open(os.path.join(data_dir, "server.log"), errors="replace") as fh:
        tail = fh.read()[-3000:]
    raise RuntimeError(f"the server did not start:\n{tail}")


@contextlib.contextmanager
def postgres_database(admin_url: str) -> Any:
    import psycopg

    name = f"agentplaza_bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield admin_url.rsplit("/", 1)[0] + "/" + name
    finally:
        with psycopg.connect(admin_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


# -------------------------------------------------------------------------------- /studio
def studio(client: httpx.Client, method: str, path: str, body: Any, token: str = "") -> Any:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    r = client.request(method, path, json=body, headers=headers)
    if r.status_code >= 300 or not r.json().get("success"):
        raise RuntimeError(f"{method} {path}: {r.status_code} {r.text[:500]}")
    return r.json()["data"]


def set_up(url: str, fake_url: str, kind: str, streams: int) -> tuple[str, list[str]]:
    """A human, provider(s) at the fake, one conversation per stream: (token, conversation ids)."""
    with httpx.Client(base_url=url, timeout=30) as client:
        name = f"bench{uuid.uuid4().hex[:8]}"
        user = studio(
            client,
            "POST",
            "/studio/api/auth/register",
            {"username": name, "email": f"{name}@bench.invalid", "password": PASSWORD},
        )
        token = str(user["token"])
        base_url = fake_url + "/v1" if kind == "openai" else fake_url
        providers = []
        # A provider holds its concurrency cap for a whole stream: enough providers that no
        # stream waits for a slot (the cap is what is being measured around, not through).
        for n in range(-(-streams // PROVIDER_CONCURRENCY_MAX)):
            body = {
                "name": f"fake {n}",
                "provider_type": kind,
                "base_url": base_url,
                "api_key": "sk-bench-0123456789",
                "default_model": "fake-small",
                "max_concurrency": min(streams, PROVIDER_CONCURRENCY_MAX),
                "max_retries": 0,
            }
            providers.append(studio(client, "POST", "/studio/api/providers/", body, token)["id"])
        conversations = []
        for i in range(streams):
            body = {
                "title": f"stream {i}",
                "model": "fake-small",
                "provider_id": providers[i % len(providers)],
                "max_tokens": 4096,
            }
            conv = studio(client, "POST", "/studio/api/conversations/", body, token)
            conversations.append(str(conv["id"]))
    return token, conversations


# ------------------------------------------------------------------------------------ run
class Workers:
    """The streams split over worker processes (bench/studio_client.py), started together."""

    def __init__(
        self, python: str, procs: int, url: str, token: str, jobs: list[tuple[int, str]],
        timeout_s: float,
    ) -> None:  # fmt: skip
        self.procs: list[subprocess.Popen[str]] = []
        for w in range(procs):
            proc = subprocess.Popen(
                [python, os.path.join(HERE, "studio_client.py")],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                text=True,
                preexec_fn=_die_with_parent,
            )
            self.procs.append(proc)
            job = {"url": url, "token": token, "streams": jobs[w::procs], "timeout_s": timeout_s}
            assert proc.stdin is not None
            proc.stdin.write(json.dumps(job) + "\n")
            proc.stdin.flush()
        for proc in self.procs:
            assert proc.stdout is not None
            if proc.stdout.readline().strip() != "ready":
                raise RuntimeError("a client worker did not start")

    def run(self) -> tuple[list[StreamResult], float]:
        """Go; (all the streams' results, the workers' CPU seconds)."""
        for proc in self.procs:
            assert proc.stdin is not None
            proc.stdin.write("go\n")
            proc.stdin.flush()
        results: list[StreamResult] = []
        cpu = 0.0
        for proc in self.procs:
            out, _ = proc.communicate()
            data = json.loads(out.strip().splitlines()[-1])
            results.extend(from_json(data))
            cpu += float(data["cpu_s"])
        return results, cpu

    def stop(self) -> None:
        for proc in self.procs:
            stop(proc)


def measure(args: argparse.Namespace, workdir: str, database_url: str | None) -> dict[str, Any]:
    fake = Fake(args.server_python, args.tokens, args.tokens_per_sec)
    server = workers = None
    try:
        server, url = start_server(args.server_python, workdir, database_url, args.streams)
        token, conversations = set_up(url, fake.url, args.kind, args.streams)
        jobs = list(enumerate(conversations))
        timeout_s = 3 * args.tokens / (args.tokens_per_sec or 1e6) + 60
        if args.client_procs > 1:
            workers = Workers(args.server_python, args.client_procs, url, token, jobs, timeout_s)
        time.sleep(1.0)  # let the server settle after the set-up's requests
        rss_before = rss_bytes(server.pid)
        sampler = Sampler(server.pid)
        pids = (server.pid, fake.proc.pid)
        cpu0, box0, own0 = [cpu_s(p) for p in pids], box_cpu(), time.process_time()
        started = time.time_ns()
        sampler.start()
        if workers is not None:
            results, client_cpu = workers.run()
        else:
            results = asyncio.run(run_streams(url, token, jobs, timeout_s))
            client_cpu = time.process_time() - own0
        ended = time.time_ns()
        cpu1, box1 = [cpu_s(p) for p in pids], box_cpu()
        sampler.stopping.set()
        sampler.join()
        time.sleep(1.0)  # what the server keeps once the streams are gone
        rss_after = rss_bytes(server.pid)
        sent = fake.record(os.path.join(workdir, "fake.json"))["sent"]
    finally:
        if workers is not None:
            workers.stop()
        stop(server)
        fake.stop()
    wall_s = (ended - started) / 1e9
    out = analyse(results, sent, args.tokens)
    window = out.pop("all_open_ns")
    # RSS with every stream open: the sample in the middle of the interval in which all were.
    inside = [rss for t, rss in sampler.samples if window and window[0] <= t <= window[1]]
    mid = inside[len(inside) // 2] if inside else None
    last_token = max((r.tokens[-1][1] for r in results if r.tokens), default=ended)
    ncpu = os.cpu_count() or 1
    box_total = (box1[2] - box0[2]) or 1
    return {
        "bench": "studio_streams",
        **{k: getattr(args, k) for k in ("streams", "tokens", "tokens_per_sec", "kind")},
        "client_procs": args.client_procs,
        "store": "postgres" if database_url else "sqlite",
        **out,
        "tokens_per_s": r2(out["tokens_received"] / ((last_token - started) / 1e9)),
        "wall_s": r2(wall_s),
        "server_rss_mb": {
            "before": r2(rss_before / 2**20),
            "all_open": r2(mid / 2**20) if mid else None,
            "peak": r2(max(inside) / 2**20) if inside else None,
            "after": r2(rss_after / 2**20),
        },
        "server_kb_per_open_stream": r2((mid - rss_before) / 1024 / args.streams) if mid else None,
        "cpu_pct_one_core": {
            "server": r2(100 * (cpu1[0] - cpu0[0]) / wall_s),
            "client": r2(100 * client_cpu / wall_s),
            "fake_llm": r2(100 * (cpu1[1] - cpu0[1]) / wall_s),
        },
        "box_cpu_pct": r2(100 * ncpu * (box1[0] - box0[0]) / box_total),
        "box_steal_pct": r2(100 * ncpu * (box1[1] - box0[1]) / box_total),
        "ncpu": ncpu,
    }


def table(result: dict[str, Any]) -> list[tuple[str, Any]]:
    lat, rss, cpu = result["added_latency_ms"], result["server_rss_mb"], result["cpu_pct_one_core"]
    client_bound = (cpu["client"] or 0) / result["client_procs"] >= CLIENT_BOUND_PCT
    return [
        (
            "streams x tokens @ tokens/s",
            f"{result['streams']} x {result['tokens']} @ "
            f"{result['tokens_per_sec']:g} ({result['kind']}, {result['store']})",
        ),
        (
            "tokens received / expected",
            f"{result['tokens_received']} / {result['tokens_expected']}",
        ),
        (
            "lost / duplicated / streams out of order",
            f"{result['lost']} / {result['duplicated']} / {result['streams_out_of_order']}",
        ),
        (
            "streams failed / without done",
            f"{result['streams_failed']} / {result['streams_without_done']}",
        ),
        (
            "added latency per token p50 / p99 / max ms",
            f"{lat['p50']} / {lat['p99']} / {lat['max']}",
        ),
        ("first token p50 / p99 ms", "{p50} / {p99}".format(**result["first_token_ms"])),
        ("tokens/s relayed (all streams)", result["tokens_per_s"]),
        (
            "server RSS before / all open / after MB",
            f"{rss['before']} / {rss['all_open']} / {rss['after']}",
        ),
        ("server RSS per open stream KB", result["server_kb_per_open_stream"]),
        (
            "CPU % of one core: server / client / fake",
            f"{cpu['server']} / {cpu['client']} / {cpu['fake_llm']}",
        ),
        (
            "client processes",
            f"{result['client_procs']}"
            + (" (client-bound: use --client-procs)" if client_bound else ""),
        ),
        (
            f"machine CPU % of {100 * result['ncpu']} (steal)",
            f"{result['box_cpu_pct']} ({result['box_steal_pct']})",
        ),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--streams", type=int, default=200, help="concurrent conversations")
    parser.add_argument("--tokens", type=int, default=500, help="tokens per answer")
    parser.add_argument("--tokens-per-sec", type=float, default=50.0, help="per stream; 0: unpaced")
    parser.add_argument("--kind", choices=("openai", "anthropic"), default="openai")
    parser.add_argument("--client-procs", type=int, default=1, help="load generator processes")
    parser.add_argument(
        "--postgres",
        nargs="?",
        const=PG_ADMIN_URL,
        metavar="ADMIN_URL",
        help=f"a fresh database on this PostgreSQL (default {PG_ADMIN_URL})",
    )
    parser.add_argument(
        "--server-python",
        default=DEFAULT_PYTHON if os.path.exists(DEFAULT_PYTHON) else sys.executable,
        help="a Python with agentplaza installed (default: the repo's .venv)",
    )
    parser.add_argument("--json-out", help="also write the JSON result to this file")
    args = parser.parse_args()
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, max(soft, 2 * args.streams + 256)), hard))
    with contextlib.suppress(ImportError):
        import uvloop

        uvloop.install()
    with tempfile.TemporaryDirectory(prefix="agentplaza-studiobench-") as workdir:
        try:
            with contextlib.ExitStack() as stack:
                db = (
                    stack.enter_context(postgres_database(args.postgres)) if args.postgres else None
                )
                result = measure(args, workdir, db)
        except (RuntimeError, OSError, httpx.HTTPError) as exc:
            print(f"setup failed: {exc}", file=sys.stderr)
            sys.exit(2)
    rows = table(result)
    width = max(len(k) for k, _ in rows)
    for k, v in rows:
        print(f"{k:<{width}}  {v}")
    line = json.dumps(result)
    if args.json_out:
        with open(args.json_out, "w") as fh:
            fh.write(line + "\n")
    print(line)
    sys.exit(0 if result["streams_failed"] == 0 and result["lost"] == 0 else 1)


if __name__ == "__main__":
    main()
