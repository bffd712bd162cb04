"""`agentplaza serve` refuses settings it cannot work with in one line and exit code 2."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.server import TEST_HOST, free_port


@pytest.fixture
def taken_port() -> Iterator[int]:
    with socket.create_server((TEST_HOST, 0)) as listener:
        yield int(listener.getsockname()[1])


def _serve(tmp_path: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    child_env = {k: v for k, v in os.environ.items() if not k.startswith("AGENTPLAZA_")}
    child_env.update(
        AGENTPLAZA_HOST=TEST_HOST,
        AGENTPLAZA_PORT=str(free_port()),
        AGENTPLAZA_DATA_DIR=str(tmp_path / "data"),
    )
    child_env.update(env)
    return subprocess.run(
        [sys.executable, "-m", "agentplaza", "serve"],
        env=child_env,
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize(
    ("env", "says"),
    [
        (
            {"AGENTPLAZA_DATABASE_URL": "postgresql://nobody:s3cret@127.0.0.1:1/none"},
            "cannot use the database at postgresql://nobody:***@127.0.0.1:1/none",
        ),
        ({"AGENTPLAZA_DATABASE_URL": "mysql://x/y"}, "unsupported database URL scheme 'mysql'"),
        (
            {"AGENTPLAZA_BUS_URL": "redis://127.0.0.1:1"},
            "cannot use the bus at redis://127.0.0.1:1",
        ),
        ({"AGENTPLAZA_BUS_URL": "kafka://x"}, "unsupported bus URL scheme 'kafka'"),
        ({"AGENTPLAZA_PORT": "eighty"}, "setting port: expected int, got 'eighty'"),
        ({"AGENTPLAZA_DATA_DIR": "/proc/no-such-dir"}, "cannot use the database at sqlite:"),
    ],
    ids=["db-unreachable", "db-scheme", "bus-unreachable", "bus-scheme", "bad-int", "data-dir"],
)
def test_refusal_is_one_line_and_exit_2(tmp_path: Path, env: dict[str, str], says: str) -> None:
    done = _serve(tmp_path, env)
    assert done.returncode == 2, (done.stdout, done.stderr)
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("error: ") and says in lines[0], lines
    assert "s3cret" not in done.stderr + done.stdout


def test_port_in_use_is_one_line(tmp_path: Path, taken_port: int) -> None:
    done = _serve(tmp_path, {"AGENTPLAZA_PORT": str(taken_port)})
    assert done.returncode == 2, (done.stdout, done.stderr)
    lines = done.stderr.strip().splitlines()
    assert lines == [lines[0]] and f"cannot listen on {TEST_HOST}:{taken_port}" in lines[0], lines


def test_the_server_process_tunes_its_garbage_collector() -> None:
    """What start-up built is frozen and young collections run at GC_THRESHOLDS (in a child:
    the test process keeps CPython's defaults)."""
    probe = (
        "import gc; from agentplaza.server import GC_THRESHOLDS, tune_garbage_collector;"
        "before = gc.get_threshold(); tune_garbage_collector();"
        "print(before != GC_THRESHOLDS, gc.get_threshold() == GC_THRESHOLDS,"
        " gc.get_freeze_count() > 1000)"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=True
    )
    assert done.stdout.split() == ["True", "True", "True"]
