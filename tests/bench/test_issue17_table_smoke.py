"""Smoke test of bench/issue17_table.py, so that the one-command table cannot rot: a small run
of two rows on agentplaza SQLite and PostgreSQL + Redis through the shared harness (Synapse is
not installed in CI). It must exit 0, print the table with the PostgreSQL share, and report
every message delivered exactly once. No timing is asserted."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests import backends

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
NO_HARNESS = 3  # bench/issue17_table.py's exit status when it finds no shared harness


def test_a_small_table_on_sqlite_and_postgres() -> None:
    postgres = backends.require("postgres")
    redis = backends.require("redis")
    command = [sys.executable, "issue17_table.py", "--systems", "sqlite,postgres"]
    command += ["--rows", "dm10,group1", "--rounds", "1", "--duration", "2", "--messages", "40"]
    command += ["--postgres", postgres, "--bus-url", redis]
    done = subprocess.run(
        command,
        cwd=ROOT / "bench",
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    if done.returncode == NO_HARNESS:
        pytest.skip(done.stderr.strip())
    assert done.returncode == 0, done.stderr[-3000:]
    lines = done.stdout.splitlines()
    assert lines[0].startswith("| row | sqlite delivered/s"), lines[0]
    assert lines[0].endswith("| PG % of SQLite |"), lines[0]
    assert [line.split(" | ")[0] for line in lines[2:4]] == [
        "| DM, 10 pairs",
        "| group of 50, 1 sender",
    ]
    runs = json.loads(lines[-1])["runs"]
    assert sorted((r["row"], r["system"]) for r in runs) == [
        ("dm10", "postgres"),
        ("dm10", "sqlite"),
        ("group1", "postgres"),
        ("group1", "sqlite"),
    ]
    for run in runs:
        assert "error" not in run, run
        assert run["delivered"] == run["expected_deliveries"] > 0, run
        assert run["lost_or_late"] == 0 and run["dups"] == 0, run
        assert run["server_us_per_delivery"] > 0, run
