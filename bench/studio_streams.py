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
conversation per stream; streams one short warm-up answer (what the first stream loads once
is not per stream); then opens every `POST /studio/api/messages/stream` at once and reads
the SSE `text` events (bench/studio_client.py).

Per token: the latency the server adds = time its client read it − time the fake wrote it
(same clock, `time.time_ns()`): it includes the server's work (the openai/anthropic package
parsing the provider's stream, our turn loop, the SSE write) and the loopback, and also any
wait of the client process for a CPU, which is why the client's CPU is reported beside it.
Server RSS (sampled every 50 ms) before the streams, at the sample with the most streams
open (between their first and last token), and after: memory per open stream = (that − before)
/ streams open then. Server, client and fake CPU in % of one core over the streaming window,
and server / client CPU µs per relayed token (robust on a shared machine, unlike latency).
Checks that every stream got exactly its tokens, in order, and a `done`. Prints a table,
then one JSON line (last line, starts with `{`).
Exit code: 0 ok, 1 something lost or a stream failed, 2 setup failed.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import sys
import tempfile
import time
import uuid
from typing import Any

import httpx
from harness import postgres_database
from harness import proc_cpu_s as cpu_s
from studio_client import StreamResult, analyse, r2, run_streams, runq_wait_s
from studio_procs import (
    Fake,
    Sampler,
    Workers,
    box_cpu,
    rss_bytes,
    start_server,
    stop,
)

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_PYTHON = os.path.join(ROOT, ".venv", "bin", "python")
PG_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
PROVIDER_CONCURRENCY_MAX = 256  # domain/providers.py CONCURRENCY_MAX
PASSWORD = "bench password 123"
CLIENT_BOUND_PCT = 85.0
IDLE_WINDOW_S = 2.0
TARGET_P99_MS = 5.0  # issue 15: the latency the server adds per relayed token, p99


# -------------------------------------------------------------------------------- /studio
def studio(client: httpx.Client, method: str, path: str, body: Any, token: str = "") -> Any:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    r = client.request(method, path, json=body, headers=headers)
    if r.status_code >= 300 or not r.json().get("success"):
        raise RuntimeError(f"{method} {path}: {r.status_code} {r.text[:500]}")
    return r.json()["data"]


def set_up(
    url: str, fake_url: str, kind: str, streams: int, timeout_s: float
) -> tuple[str, list[str]]:
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
                # Overloaded, a server reads its provider late: the bench's own deadline rules.
                "timeout": min(600.0, timeout_s),
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
def open_streams_rss(
    results: list[StreamResult], samples: list[tuple[int, int]]
) -> tuple[int | None, int]:
    """The server RSS sample taken while the most streams were open (streaming: between their
    first and last token), the middle one of those: (RSS, streams open then)."""
    spans = [(r.tokens[0][1], r.tokens[-1][1]) for r in results if r.tokens]
    counted = [(sum(a <= t <= b for a, b in spans), t, rss) for t, rss in samples]
    most = max((n for n, _, _ in counted), default=0)
    if most == 0:
        return None, 0
    best = [rss for n, _, rss in counted if n == most]
    return best[len(best) // 2], most


def progress(text: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {text}", file=sys.stderr, flush=True)


def measure(args: argparse.Namespace, workdir: str, database_url: str | None) -> dict[str, Any]:
    fake = Fake(args.server_python, args.tokens, args.tokens_per_sec)
    server = workers = None
    try:
        server, url = start_server(args.server_python, workdir, database_url, args.streams)
        progress(f"server up at {url} (pid {server.pid}); fake model at {fake.url}")
        timeout_s = 3 * args.tokens / (args.tokens_per_sec or 1e6) + 60
        token, conversations = set_up(url, fake.url, args.kind, args.streams + 1, timeout_s)
        warm_up, jobs = conversations[-1], list(enumerate(conversations[:-1]))
        progress(f"{len(conversations)} conversations created")
        if args.client_procs > 1:
            workers = Workers(args.server_python, args.client_procs, url, token, jobs, timeout_s)
        # One short answer first (the fake echoes an unknown prompt), so that what the first
        # stream loads once (the provider's client, lazy imports) is not counted per stream.
        warm = asyncio.run(run_streams(url, token, [(-1, warm_up)], timeout_s))[0]
        if warm.done is None:
            raise RuntimeError(f"the warm-up stream failed: {warm.error}")
        time.sleep(1.0)  # let the server settle after the set-up's requests
        idle0 = cpu_s(server.pid)
        time.sleep(IDLE_WINDOW_S)  # what the server burns with nothing to relay
        idle_pct = 100 * (cpu_s(server.pid) - idle0) / IDLE_WINDOW_S
        rss_before = rss_bytes(server.pid)
        sampler = Sampler(server.pid)
        pids = (server.pid, fake.proc.pid)
        cpu0, box0, own0 = [cpu_s(p) for p in pids], box_cpu(), time.process_time()
        wait0, own_wait0 = runq_wait_s(server.pid), runq_wait_s(os.getpid())
        progress(f"opening {len(jobs)} streams")
        started = time.time_ns()
        sampler.start()
        if workers is not None:
            results, client_cpu, client_wait_s = workers.run()
        else:
            results = asyncio.run(run_streams(url, token, jobs, timeout_s))
            client_cpu = time.process_time() - own0
            client_wait_s = runq_wait_s(os.getpid()) - own_wait0
        ended = time.time_ns()
        progress(f"streams ended in {(ended - started) / 1e9:.1f} s")
        cpu1, box1 = [cpu_s(p) for p in pids], box_cpu()
        server_wait_s = runq_wait_s(server.pid) - wait0
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
    rss_open, n_open = open_streams_rss(results, sampler.samples)
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
            "streams_open": r2(rss_open / 2**20) if rss_open else None,
            "peak": r2(max(r for _, r in sampler.samples) / 2**20) if sampler.samples else None,
            "after": r2(rss_after / 2**20),
        },
        "streams_open_at_rss_sample": n_open,
        "server_kb_per_open_stream": r2((rss_open - rss_before) / 1024 / n_open)
        if rss_open and n_open
        else None,
        # CPU per relayed token: what the server's relay costs, whatever else runs on the box.
        "server_cpu_us_per_token": r2(1e6 * (cpu1[0] - cpu0[0]) / max(out["tokens_received"], 1)),
        "client_cpu_us_per_token": r2(1e6 * client_cpu / max(out["tokens_received"], 1)),
        "cpu_pct_one_core": {
            "server": r2(100 * (cpu1[0] - cpu0[0]) / wall_s),
            "server_idle_before": r2(idle_pct),
            "client": r2(100 * client_cpu / wall_s),
            "fake_llm": r2(100 * (cpu1[1] - cpu0[1]) / wall_s),
        },
        "server_runq_wait_pct": r2(100 * server_wait_s / wall_s),
        # Per client process, on average.
        "client_runq_wait_pct": r2(100 * client_wait_s / args.client_procs / wall_s),
        "box_cpu_pct": r2(100 * ncpu * (box1[0] - box0[0]) / box_total),
        "box_steal_pct": r2(100 * ncpu * (box1[1] - box0[1]) / box_total),
        "ncpu": ncpu,
    }


def target_note(p99: float | None) -> str:
    if p99 is None:
        return ""
    verdict = "met" if p99 <= TARGET_P99_MS else "NOT met"
    return f"  (target p99 <= {TARGET_P99_MS:g} ms: {verdict})"


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
            f"{lat['p50']} / {lat['p99']} / {lat['max']}" + target_note(lat["p99"]),
        ),
        ("first token p50 / p99 ms", "{p50} / {p99}".format(**result["first_token_ms"])),
        ("tokens/s relayed (all streams)", result["tokens_per_s"]),
        (
            "server RSS before / streams open / after MB",
            f"{rss['before']} / {rss['streams_open']} / {rss['after']}",
        ),
        (
            "server RSS per open stream KB (streams open)",
            f"{result['server_kb_per_open_stream']} ({result['streams_open_at_rss_sample']})",
        ),
        (
            "CPU % of one core: server (idle) / client / fake",
            f"{cpu['server']} ({cpu['server_idle_before']}) / {cpu['client']} / {cpu['fake_llm']}",
        ),
        (
            "CPU µs per relayed token: server / client",
            f"{result['server_cpu_us_per_token']} / {result['client_cpu_us_per_token']}",
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
        (
            "waiting for a CPU, % of the time: server / client",
            f"{result['server_runq_wait_pct']} / {result['client_runq_wait_pct']}",
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
