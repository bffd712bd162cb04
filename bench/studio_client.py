#!/usr/bin/env python3
"""The load generator of bench/studio_streams.py: streamed conversations read over SSE.

Used in the benchmark's own process, or, to spread the client's CPU over several processes
(`--client-procs N`), as a worker: `python bench/studio_client.py` reads one JSON job from
the first line of stdin (`{"url", "token", "streams": [[index, conversation_id], ...],
"timeout_s"}`), prints `ready`, waits for a `go` line, runs the streams and prints one JSON
line: `{"streams": [StreamResult as a dict, ...], "cpu_s", "runq_wait_s"}` (the CPU the run
took, and the time the worker waited for a CPU).

Each stream is one `POST /studio/api/messages/stream` (httpx AsyncClient, HTTP/1.1, a
connection per stream) whose SSE events are parsed as they arrive; every token of a `text`
event is stamped with `time.time_ns()` taken when its bytes were read from the socket.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import statistics
import sys
import time
from dataclasses import asdict, dataclass, field
from typing import Any

import httpx

TOKEN = re.compile(r"s(\d+)t(\d+)")


def prompt(stream: int) -> str:
    """The user message of stream `stream` (bench/studio_fake.py answers it with its tokens)."""
    return f"bench stream {stream}"


@dataclass
class StreamResult:
    index: int
    conversation_id: str
    started_ns: int = 0
    """Just before the POST."""
    status: int | None = None
    tokens: list[tuple[int, int]] = field(default_factory=list)
    """(seq, receive time_ns) of each token, in the order received."""
    text: str = ""
    """The `text` events' contents, concatenated."""
    done: dict[str, Any] | None = None
    error: str | None = None
    events: dict[str, int] = field(default_factory=dict)
    ended_ns: int = 0


def _parse_events(buf: bytearray) -> list[tuple[str, bytes]]:
    """Take the complete events off the front of `buf`: (name, data) each; comments (`: ping`
    heartbeats) are dropped."""
    out: list[tuple[str, bytes]] = []
    while True:
        end = buf.find(b"\n\n")
        if end < 0:
            return out
        block = bytes(buf[:end])
        del buf[: end + 2]
        name, data = "message", b""
        for line in block.split(b"\n"):
            if line.startswith(b"event:"):
                name = line[6:].strip().decode()
            elif line.startswith(b"data:"):
                data = line[5:].strip()
        if data or name != "message":
            out.append((name, data))


async def read_stream(
    client: httpx.AsyncClient, token: str, index: int, conversation_id: str, timeout_s: float
) -> StreamResult:
    result = StreamResult(index, conversation_id)
    body = {"conversation_id": conversation_id, "content": prompt(index), "tools_enabled": False}
    headers = {"Authorization": f"Bearer {token}", "Accept": "text/event-stream"}
    parts: list[str] = []
    result.started_ns = time.time_ns()
    try:
        async with asyncio.timeout(timeout_s):
            async with client.stream(
                "POST", "/studio/api/messages/stream", json=body, headers=headers
            ) as response:
                result.status = response.status_code
                if response.status_code != 200:
                    result.error = (await response.aread()).decode("utf-8", "replace")[:500]
                    return result
                buf = bytearray()
                async for chunk in response.aiter_raw():
                    now = time.time_ns()
                    buf += chunk
                    for name, data in _parse_events(buf):
                        result.events[name] = result.events.get(name, 0) + 1
                        if name == "text":
                            content = str(json.loads(data).get("content", ""))
                            parts.append(content)
                            result.tokens.extend((int(m[2]), now) for m in TOKEN.finditer(content))
                        elif name == "done":
                            result.done = json.loads(data)
                        elif name == "error":
                            result.error = data.decode("utf-8", "replace")[:500]
    except TimeoutError:
        result.error = f"timed out after {timeout_s:g} s"
    except httpx.HTTPError as exc:
        result.error = f"{type(exc).__name__}: {exc}"
    finally:
        result.text = "".join(parts)
        result.ended_ns = time.time_ns()
    return result


def new_client(url: str, streams: int) -> httpx.AsyncClient:
    # One connection per stream, none waiting for a free one; no read timeout (the stream
    # has its own deadline).
    limits = httpx.Limits(max_connections=streams + 8, max_keepalive_connections=streams + 8)
    timeout = httpx.Timeout(30.0, read=None)
    return httpx.AsyncClient(base_url=url, limits=limits, timeout=timeout, http2=False)


async def run_streams(
    url: str, token: str, streams: list[tuple[int, str]], timeout_s: float
) -> list[StreamResult]:
    """All the streams at once; returns when each has ended (done, error or timeout)."""
    async with new_client(url, len(streams)) as client:
        return list(
            await asyncio.gather(
                *(read_stream(client, token, i, cid, timeout_s) for i, cid in streams)
            )
        )


def from_json(data: dict[str, Any]) -> list[StreamResult]:
    out = []
    for raw in data["streams"]:
        raw["tokens"] = [(int(s), int(t)) for s, t in raw["tokens"]]
        out.append(StreamResult(**raw))
    return out


def worker() -> None:
    job = json.loads(sys.stdin.readline())
    streams = [(int(i), str(c)) for i, c in job["streams"]]
    print("ready", flush=True)
    if sys.stdin.readline().strip() != "go":
        return
    cpu0, wait0 = time.process_time(), runq_wait_s(os.getpid())
    results = asyncio.run(run_streams(job["url"], job["token"], streams, job["timeout_s"]))
    cpu_s, wait_s = time.process_time() - cpu0, runq_wait_s(os.getpid()) - wait0
    out = {"streams": [asdict(r) for r in results], "cpu_s": cpu_s, "runq_wait_s": wait_s}
    print(json.dumps(out), flush=True)


# ------------------------------------------------------------------------------ accounting
def runq_wait_s(pid: int) -> float:
    """Time the process's threads were runnable but waiting for a CPU (other load)."""
    total = 0
    with contextlib.suppress(OSError):
        for tid in os.listdir(f"/proc/{pid}/task"):
            with contextlib.suppress(OSError), open(f"/proc/{pid}/task/{tid}/schedstat") as fh:
                total += int(fh.read().split()[1])
    return total / 1e9


def pct(sorted_vals: list[float], p: float) -> float | None:
    """Nearest-rank percentile (as the other benches)."""
    if not sorted_vals:
        return None
    rank = max(1, min(len(sorted_vals), round(p / 100 * len(sorted_vals) + 0.5)))
    return sorted_vals[rank - 1]


def r2(x: float | None) -> float | None:
    return None if x is None else round(x, 2)


def analyse(
    results: list[StreamResult], sent: dict[str, list[list[int]]], tokens: int
) -> dict[str, Any]:
    """Completeness and latency of the streams against the fake's record of what it sent
    (`sent`: stream -> [[seq, send time_ns], ...])."""
    latencies: list[float] = []
    ttft: list[float] = []
    lost = dups = disorder = no_done = failed = unmatched = wrong_usage = 0
    for res in results:
        seqs = [s for s, _ in res.tokens]
        expected = " ".join(f"s{res.index}t{seq}" for seq in range(tokens))
        lost += len(set(range(tokens)) - set(seqs))
        dups += len(seqs) - len(set(seqs))
        disorder += int(seqs != sorted(seqs))
        no_done += int(res.done is None)
        # The fake reports one output token per delta; `done` must carry the provider's count.
        wrong_usage += int(res.done is not None and res.done.get("output_tokens") != tokens)
        failed += int(res.error is not None or res.text != expected or res.done is None)
        at = {seq: t for seq, t in sent.get(str(res.index), [])}
        for seq, recv in res.tokens:
            if seq in at:
                latencies.append((recv - at[seq]) / 1e6)
            else:
                unmatched += 1
        if res.tokens:
            ttft.append((res.tokens[0][1] - res.started_ns) / 1e6)
    latencies.sort()
    ttft.sort()
    return {
        "tokens_received": sum(len(r.tokens) for r in results),
        "tokens_expected": tokens * len(results),
        "tokens_sent_by_fake": sum(len(v) for v in sent.values()),
        # More tokens than events: the server merged deltas (when it had fallen behind).
        "text_events": sum(r.events.get("text", 0) for r in results),
        "lost": lost,
        "duplicated": dups,
        "unmatched": unmatched,
        "streams_out_of_order": disorder,
        "streams_without_done": no_done,
        "done_output_tokens_wrong": wrong_usage,
        "streams_failed": failed,
        "errors": sorted({r.error for r in results if r.error})[:5],
        "added_latency_ms": {
            "p50": r2(pct(latencies, 50)),
            "p90": r2(pct(latencies, 90)),
            "p99": r2(pct(latencies, 99)),
            "max": r2(latencies[-1] if latencies else None),
            "mean": r2(statistics.fmean(latencies) if latencies else None),
        },
        "first_token_ms": {"p50": r2(pct(ttft, 50)), "p99": r2(pct(ttft, 99))},
    }


if __name__ == "__main__":
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    worker()
