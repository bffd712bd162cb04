"""Smoke test of bench/dm_bench.py, so that the benchmark cannot rot: one `--quick` run starts
its own server and runs every workload of issue 17's table at small counts (DM over WebSocket
and long-poll, group fan-out at 1 and 5 senders, idle WebSockets), with the load split over
two processes (`--procs 2`). It must exit 0, deliver every message exactly once, and print
every column in its JSON. No timing is asserted."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench" / "dm_bench.py"
# A few seconds per level on an idle 2-core box; leave room for a busy CI machine.
TIMEOUT_SECS = 300
GROUP_SIZE = 50
PROCS = 2

# What every DM and group row carries (the tables' columns and the JSON-only figures).
LOAD_KEYS = (
    *("procs", "attempts", "sent", "send_errors", "expected", "delivered", "lost", "dups"),
    *("stale", "receivers_ready", "send_window_s", "accepted_per_s", "delivered_per_s"),
    *("send_ms_p50", "send_ms_p99", "lat_ms_p50", "lat_ms_p95", "lat_ms_p99", "lat_ms_max"),
    *("wall_s", "server_cpu_pct", "client_cpu_pct", "client_cpu_pct_per_proc", "client_procs"),
    *("machine_cpu_pct", "server_runq_wait_pct", "client_runq_wait_pct", "server_rss_mb"),
    "client_rss_mb",
)
IDLE_KEYS = (
    *("conns_requested", "conns_open", "open_failures", "server_conns_held", "open_s"),
    *("server_conns_after_close", "register_per_s", "server_rss_before_mb"),
    *("server_rss_held_mb", "server_rss_after_close_mb", "rss_per_conn_kb"),
    *("idle_server_cpu_pct", "idle_client_cpu_pct", "idle_machine_cpu_pct", "client_rss_mb"),
)
TABLE_TITLES = ("== DM (send→receive) ==", "== group fan-out (50 members", "== idle WebSockets")


def _result(stdout: str) -> dict[str, Any]:
    lines = [line for line in stdout.splitlines() if line.startswith("{")]
    assert lines, f"no JSON line in the output:\n{stdout}"
    result: dict[str, Any] = json.loads(lines[-1])
    return result


def _check_load_row(row: dict[str, Any]) -> None:
    assert "error" not in row, row
    missing = [k for k in LOAD_KEYS if k not in row]
    assert not missing, (missing, row)
    assert row["procs"] == PROCS, row
    # the coordinating process and each worker, summed
    assert row["client_procs"] == PROCS + 1 == len(row["client_cpu_pct_per_proc"]), row
    for key in ("delivered_per_s", "lat_ms_p50", "lat_ms_p99", "server_cpu_pct"):
        assert row[key] is not None, (key, row)
    assert row["client_cpu_pct"] is not None, row
    assert row["sent"] > 0, row
    assert row["send_errors"] == 0, row
    assert row["delivered"] == row["expected"], row
    assert row["lost"] == 0, row
    assert row["dups"] == 0, row


@pytest.mark.slow
def test_quick_run_of_every_workload_delivers_everything_once() -> None:
    argv = [sys.executable, str(BENCH), "--quick", "--procs", str(PROCS)]
    argv += ["--transport", "both", "--pairs", "10", "--senders", "1,5"]
    argv += ["--group-size", str(GROUP_SIZE), "--idle", "200"]
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=TIMEOUT_SECS, check=False)
    assert proc.returncode == 0, f"exit {proc.returncode}\n{proc.stdout}\n{proc.stderr}"
    for title in TABLE_TITLES:
        assert title in proc.stdout, f"{title!r} missing:\n{proc.stdout}"
    result = _result(proc.stdout)

    dm = result["dm"]
    assert [(row["transport"], row["pairs"]) for row in dm] == [("ws", 10), ("poll", 10)], dm
    for row in dm:
        _check_load_row(row)
        assert row["expected"] == row["sent"], row

    group = result["group"]
    assert [(row["group_size"], row["senders"]) for row in group] == [(50, 1), (50, 5)], group
    for row in group:
        _check_load_row(row)
        assert row["expected"] == row["sent"] * (GROUP_SIZE - 1), row

    idle = result["idle"]
    assert len(idle) == 1, idle
    assert "error" not in idle[0], idle[0]
    missing = [k for k in IDLE_KEYS if k not in idle[0]]
    assert not missing, (missing, idle[0])
    assert idle[0]["conns_open"] == idle[0]["conns_requested"] == 200, idle[0]
