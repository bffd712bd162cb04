"""A real agentplaza server in a child process, for tests that need real sockets."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from tests.forkserver import ForkedServer

# 127.0.0.2, not 127.0.0.1: the agentim SDK treats localhost/127.0.0.1 as "local" and first
# tries its AIM TCP transport on :8082 (hard-coded), spending ~15 s before it falls back to the
# WebSocket unless a server answers there. Test servers keep AIM off unless given `aim_port`
# (tests/aimlock.py serializes the ones that need the SDK's port 8082).
TEST_HOST = "127.0.0.2"
AIM_HOST = "127.0.0.1"
# Generous: on a loaded 2-core machine an import of the app alone has taken 8 s.
START_TIMEOUT_SECS = 60.0
# One SSL context for the tests' HTTP clients (`verify=CLIENT_TLS`): without it httpx builds one
# per client, loading the CA bundle, 35 ms of CPU each, for a client per test (~4,600 tests),
# though test servers speak plain HTTP.
CLIENT_TLS = httpx.create_ssl_context()
# Every server this test process started, for the failure report (tests/conftest.py shows
# what each logged during a failed test: CI keeps only the report, not the servers' files).
STARTED: list[ServerProcess] = []


def free_port(host: str = TEST_HOST) -> int:
    """A port nobody listens on, which no other free_port call returns for a minute.

    A port that is only free now is handed out again by the kernel's next bind to port 0
    (814 repeats in 5,000 calls here): another xdist worker's server then took it first, and
    answered the readiness check of ours, which had failed to bind. Closing an accepted
    connection leaves this side of it in TIME_WAIT: binds to port 0 skip the port for 60 s,
    while servers, which all set SO_REUSEADDR, can still bind it (0 repeats in 5,000).
    """
    with socket.socket() as listener:
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind((host, 0))
        listener.listen(1)
        with socket.create_connection(listener.getsockname()):
            accepted, _ = listener.accept()
            accepted.close()
        return int(listener.getsockname()[1])


@dataclass
class ServerProcess:
    data_dir: Path
    port: int = 0  # 0: a free one on `host`
    env: dict[str, str] = field(default_factory=dict)
    host: str = TEST_HOST
    aim_port: int | None = None
    """AIM TCP on this port (on `host`); None: AIM off."""
    proc: ForkedServer | None = None
    log_path: Path | None = None

    def __post_init__(self) -> None:
        if not self.port:
            self.port = free_port(self.host)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://{self.host}:{self.port}/v1/ws"

    def start(self) -> ServerProcess:
        env = {k: v for k, v in os.environ.items() if not k.startswith("AGENTPLAZA_")}
        env.update(
            AGENTPLAZA_HOST=self.host,
            AGENTPLAZA_PORT=str(self.port),
            AGENTPLAZA_AIM_ENABLED="false" if self.aim_port is None else "true",
            AGENTPLAZA_AIM_PORT=str(self.aim_port or 0),
            AGENTPLAZA_DATA_DIR=str(self.data_dir),
            AGENTPLAZA_LOG_LEVEL="warning",
        )
        env.update(self.env)
        self.log_path = self.data_dir / f"server-{self.port}.log"
        STARTED.append(self)
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.log_path.touch()
        self.proc = ForkedServer(env, self.log_path)
        self._wait_ready()
        return self

    def _wait_ready(self) -> None:
        # Poll the port with a bare connect and ask /health only once it accepts, on one
        # client: an `httpx.get` per poll built a client (an SSL context) each time, 42 ms of
        # CPU, 1.4-1.8 s of the test process's CPU per server start while the server imported
        # (2.7 s of its own before tests/forkserver.py) on this 2-core machine, for each of
        # the hundreds of starts.
        deadline = time.monotonic() + START_TIMEOUT_SECS
        with httpx.Client(timeout=1, verify=CLIENT_TLS) as http:
            while time.monotonic() < deadline:
                assert self.proc is not None
                if self.proc.poll() is not None:
                    raise RuntimeError(f"server exited early:\n{self.log()}")
                try:
                    if (
                        self._accepts(self.port)
                        and http.get(self.url + "/health").status_code == 200
                        and self._aim_up()
                    ):
                        return
                except (httpx.HTTPError, OSError):
                    pass
                time.sleep(0.05)
        self.kill()  # else it leaks: the caller never gets a ServerProcess to stop
        raise RuntimeError(f"server did not become ready:\n{self.log()}")

    def _accepts(self, port: int) -> bool:
        try:
            with socket.create_connection((self.host, port), timeout=1):
                return True
        except OSError:
            return False

    def _aim_up(self) -> bool:
        if self.aim_port is None:
            return True
        with socket.create_connection((self.host, self.aim_port), timeout=1):
            return True

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path else ""

    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def log_size(self) -> int:
        try:
            return self.log_path.stat().st_size if self.log_path else 0
        except FileNotFoundError:  # its data dir was removed with the test's tmp_path
            return 0

    def log_since(self, offset: int, *, max_lines: int) -> str:
        """What the server logged after byte `offset`, its last `max_lines` lines."""
        if self.log_path is None:
            return ""
        try:
            with open(self.log_path, "rb") as log:
                log.seek(offset)
                text = log.read().decode(errors="replace")
        except FileNotFoundError:
            return ""
        return "\n".join(text.splitlines()[-max_lines:])

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
