#!/usr/bin/env python3
"""The processes of bench/studio_streams.py and what it reads about them from /proc.

The scripted model server (bench/studio_fake.py), the agentplaza server, the load generator's
worker processes (bench/studio_client.py), a throw-away PostgreSQL database; CPU, run-queue
wait and RSS of a process, and the machine's CPU. Every child gets PR_SET_PDEATHSIG, so none
outlives the benchmark.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import threading
import time
from typing import Any

import httpx
from harness import _die_with_parent, free_port
from harness import proc_rss_bytes as rss_bytes
from studio_client import StreamResult, from_json

HERE = os.path.dirname(os.path.abspath(__file__))
SERVER_START_TIMEOUT_S = 60.0


# ---------------------------------------------------------------------------------- /proc
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
    port = free_port("127.0.0.1")
    env = {k: v for k, v in os.environ.items() if not k.startswith("AGENTPLAZA_")}
    env.update(
        AGENTPLAZA_HOST="127.0.0.1",
        AGENTPLAZA_PORT=str(port),
        AGENTPLAZA_DATA_DIR=data_dir,
        AGENTPLAZA_RATE_LIMITS_ENABLED="0",
        AGENTPLAZA_LLM_ALLOW_PRIVATE_BASE_URLS="1",
        AGENTPLAZA_STUDIO_MAX_STREAMS_PER_ACCOUNT=str(max(streams, 1)),
        AGENTPLAZA_LOG_LEVEL="warning",
        AGENTPLAZA_AIM_ENABLED="false",  # AIM's fixed port 8082 is the test suite's
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
    deadline = time.monotonic() + SERVER_START_TIMEOUT_S
    while time.monotonic() < deadline and proc.poll() is None:
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(url + "/studio/api/health", timeout=2).status_code == 200:
                return proc, url
        time.sleep(0.1)
    stop(proc)
    with open(os.path.join(data_dir, "server.log"), errors="replace") as fh:
        tail = fh.read()[-3000:]
    raise RuntimeError(f"the server did not start:\n{tail}")


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

    def run(self) -> tuple[list[StreamResult], float, float]:
        """Go; (all the streams' results, the workers' CPU seconds, their seconds waiting for
        a CPU)."""
        for proc in self.procs:
            assert proc.stdin is not None
            proc.stdin.write("go\n")
            proc.stdin.flush()
        results: list[StreamResult] = []
        cpu = wait = 0.0
        for proc in self.procs:
            out, _ = proc.communicate()
            lines = out.strip().splitlines()
            if proc.returncode != 0 or not lines:
                raise RuntimeError(f"a client worker failed (exit {proc.returncode})")
            data = json.loads(lines[-1])
            results.extend(from_json(data))
            cpu += float(data["cpu_s"])
            wait += float(data["runq_wait_s"])
        return results, cpu, wait

    def stop(self) -> None:
        for proc in self.procs:
            stop(proc)
