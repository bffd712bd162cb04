"""Smoke test of bench/pg_dm_batch.py: a small run on PostgreSQL exits 0, writes every DM of
every batch (the script asserts it, and that no recipient's seqs have a gap) and reports
the backend's and its own CPU per DM for each case. No timing is asserted."""

from __future__ import annotations

import json

from tests import backends
from tests.bench.scripts import run_bench_script


def test_the_batch_benchmark_runs_the_store_and_the_batch_function() -> None:
    url = backends.require("postgres")
    small = ["--pairs", "4", "--rounds", "5", "--sizes", "1,4"]
    stdout = run_bench_script("pg_dm_batch.py", "--postgres", url, *small, timeout=180)
    result = json.loads(stdout.splitlines()[-1])
    assert set(result) == {"single", "batch1", "batch4"}
    assert result["batch4"]["dms"] == 20 and result["single"]["dms"] == 10
    assert all(case["client_us"] > 0 for case in result.values())
