"""Smoke test of bench/loopback_write.py: a small run exits 0 and reports, for each case, the
system CPU and wall time per write. No timing is asserted: only that the run measured
something (a write takes some time) and reports what it was asked to do."""

from __future__ import annotations

import json

from tests.bench.scripts import run_bench_script


def test_both_cases_are_measured() -> None:
    lines = run_bench_script("loopback_write.py", "--writes", "2000", "--bytes", "120").splitlines()
    assert [line.split(":")[0].strip() for line in lines[:2]] == ["awake", "asleep"]
    result = json.loads(lines[-1])
    assert (result["writes"], result["bytes"]) == (2000, 120)
    for case in ("awake", "asleep"):
        assert set(result[case]) == {"sys_us", "wall_us"}
        assert result[case]["wall_us"] > 0
        assert result[case]["sys_us"] >= 0
