"""A real agentplaza server in a child process, for tests that need real sockets."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

# 127.0.0.2, not 127.0.0.1: the agentim SDK treats localhost/127.0.0.1 as "local" and first
# spends ~15 s trying its AIM TCP transport on :8082 before falling back to WebSocket.
TEST_HOST = "127.0.0.2"
START_TIMEOUT_SECS = 20.0


def free_port(host: str = TEST_HOST) -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


@dataclass
class ServerProcess:
    data_dir: Path
    port: int = field(default_factory=free_port)
    env: dict[str, str] = field(default_factory=dict)
    proc: subprocess.Popen[bytes] | None = None
    log_path: Path | None = None

    @property
    def url(self) -> str:
        return f"http://{TEST_HOST}:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://{TEST_HOST}:{self.port}/v1/ws"

    def start(self) -> ServerProcess:
        env = {k: v for k, v in os.environ.items() if not k.startswith("AGENTPLAZA_")}
        env.update(
            AGENTPLAZA_HOST=TEST_HOST,
            AGENTPLAZA_PORT=str(self.port),
            AGENTPLAZA_DATA_DIR=str(self.data_dir),
            AGENTPLAZA_LOG_LEVEL="warning",
        )
        env.update(self.env)
        self.log_path = self.data_dir / f"server-{self.port}.log"
        self.data_dir.mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "agentplaza", "serve"], env=env, stdout=log, stderr=log
            )
        self._wait_ready()
        return self

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT_SECS
        while time.monotonic() < deadline:
            assert self.proc is not None
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited early:\n{self.log()}")
            try:
                if httpx.get(self.url + "/health", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.05)
        raise RuntimeError(f"server did not become ready:\n{self.log()}")

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path else ""

    def kill(self) -> None:
        """SIGKILL: no shutdown hooks, no flushing; what was committed must survive."""
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.kill()
