"""Test servers forked from a process that has already imported the server.

`python -m agentplaza serve` spends most of its start importing: ~1.1 of 1.3 s of CPU (~1.9 s
under coverage) on a 2-core machine, for each of the suite's ~300 server starts, while other
tests wait for the CPU. multiprocessing's forkserver imports the server once per test process;
each server is then a fork of it, `agentplaza serve` run as its own process (its pid, signals,
exit code), with only its own settings' start-up left to do.
"""

from __future__ import annotations

import gc
import multiprocessing
import os
import signal
import subprocess
import sys
from pathlib import Path

_CONTEXT = multiprocessing.get_context("forkserver")
_CONTEXT.set_forkserver_preload(
    [
        "agentplaza.cli",
        "agentplaza.server",
        # What a server imports only as it starts: its store, bus and cluster (by its
        # settings), and the lazy parts of typer, uvicorn's loop and anyio's sockets.
        "agentplaza.store.sqlite",
        "agentplaza.store.postgres",
        "agentplaza.store.migrate",
        "agentplaza.bus.memory",
        "agentplaza.bus.redis",
        "agentplaza.bus.nats",
        "agentplaza.cluster.memory",
        "agentplaza.cluster.redis",
        "psycopg",
        "typer._adapters",
        "uvloop",
        "anyio._core._sockets",
        "encodings.idna",
        __name__,  # the child's entry point
    ]
)


def _serve(env: dict[str, str], log_path: str) -> None:
    """In the forked child: `agentplaza serve` with `env` as its environment, both output
    streams appended to `log_path`."""
    with open(log_path, "ab") as log:
        os.dup2(log.fileno(), 1)
        os.dup2(log.fileno(), 2)
    os.environ.clear()
    os.environ.update(env)
    # What the forkserver imported lives as long as the server: frozen now, the full
    # collection the server runs once it is up (server.tune_garbage_collector, 0.27 s of CPU
    # over all those modules) looks only at what its own start-up built.
    gc.freeze()
    sys.argv = ["agentplaza", "serve"]
    from agentplaza.cli import main

    try:
        main()
    finally:
        # multiprocessing ends its children with os._exit, which skips the atexit hook where
        # coverage saves what this server ran (pyproject's `patch = fork` started it anew).
        _save_coverage()


def _save_coverage() -> None:
    if "coverage" not in sys.modules:
        return
    from coverage import Coverage

    measuring = Coverage.current()
    if measuring is not None:
        measuring.stop()
        measuring.save()


class ForkedServer:
    """The part of subprocess.Popen the tests use, for a server forked by the forkserver."""

    def __init__(self, env: dict[str, str], log_path: Path) -> None:
        self._process = _CONTEXT.Process(target=_serve, args=(env, str(log_path)))
        self._process.start()
        assert self._process.pid is not None
        self.pid: int = self._process.pid

    def poll(self) -> int | None:
        self._process.join(0)
        return self._process.exitcode

    def wait(self, timeout: float | None = None) -> int:
        self._process.join(timeout)
        if self._process.exitcode is None:
            raise subprocess.TimeoutExpired(["agentplaza", "serve"], timeout or 0)
        return self._process.exitcode

    def send_signal(self, sig: signal.Signals) -> None:
        if self.poll() is None:  # once reaped, its pid may be another process's
            os.kill(self.pid, sig)
