"""Port 8082 on 127.0.0.1, which the agentim SDK hard-codes for AIM TCP, for one server at a time.

Every test run on this machine (other worktrees' included) that starts a server for the real
SDK over AIM takes the same lock file first, so those servers never collide; a run that cannot
get the port within WAIT_SECS skips its AIM tests with the reason instead of failing.
Tests that drive AIM with their own client use a free port and need none of this.
"""

from __future__ import annotations

import contextlib
import fcntl
import socket
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

SDK_AIM_HOST = "127.0.0.1"
SDK_AIM_PORT = 8082
LOCK_PATH = Path(tempfile.gettempdir()) / "agentplaza-test-aim-8082.lock"
WAIT_SECS = 600.0
POLL_SECS = 0.2
_held_here = False  # flock does not nest within one process: waiting on ourselves would hang


def _port_free(host: str, port: int) -> bool:
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as asyncio's listener does
        try:
            s.bind((host, port))
        except OSError:
            return False
        return True


@contextlib.contextmanager
def sdk_aim_port() -> Iterator[int]:
    """Hold the lock and a free 8082 while the block runs (waits, or skips with the reason)."""
    global _held_here
    if _held_here:
        pytest.fail("this test process already runs a server on :8082 (a fixture still alive?)")
    with open(LOCK_PATH, "a+") as lock:
        deadline = time.monotonic() + WAIT_SECS
        while True:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    pytest.skip(f"another test run held {LOCK_PATH} for {WAIT_SECS:.0f} s")
                time.sleep(POLL_SECS)
        try:
            # Something outside our lock (another program) may hold the port.
            while not _port_free(SDK_AIM_HOST, SDK_AIM_PORT):
                if time.monotonic() > deadline:
                    pytest.skip(f"{SDK_AIM_HOST}:{SDK_AIM_PORT} is in use by another program")
                time.sleep(POLL_SECS)
            _held_here = True
            yield SDK_AIM_PORT
        finally:
            _held_here = False
            fcntl.flock(lock, fcntl.LOCK_UN)
