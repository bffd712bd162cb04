"""Smoke test of bench/dm_bench.py: `--quick` starts its own server, runs the DM and idle
workloads at small sizes, exits 0, and every sent message is delivered exactly once."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench" / "dm_bench.py"
# --quick finishes in < 30 s on an idle 2-core box; leave room for a busy CI machine.
TIMEOUT_SECS = 240


def _result(stdout: str) -> dict[str, Any]:
    lines = [line for line in stdout.splitlines() if line.startswith("{")]
    assert lines, f"no JSON line in the output:\n{stdout}"
    result: dict[str, Any] = json.loads(lines[-1])
    return result


@pytest.mark.slow
def test_quick_run_delivers_everything() -> None:
    proc = subprocess.run(
        [sys.executable, str(BENCH), "--quick"],
        capture_output=True,
        text=True,
        timeout=TIMEOUT_SECS,
        check=False,
    )
    assert proc.returncode == 0, f"exit {proc.returncode}\n{proc.stdout}\n{proc.stderr}"
    result = _result(proc.stdout)

    dm = result["dm"]
    assert [row["pairs"] for row in dm] == [1, 10], dm
    for row in dm:
        assert "error" not in row, row
        assert row["sent"] > 0, row
        assert row["delivered"] == row["sent"], row
        assert row["lost"] == 0, row
        assert row["dups"] == 0, row

    idle = result["idle"]
    assert len(idle) == 1, idle
    assert "error" not in idle[0], idle[0]
    assert idle[0]["conns_open"] == idle[0]["conns_requested"] == 200, idle[0]
