"""Smoke test of bench/greenbridge_cost.py: a small run exits 0 and prints its one line of
figures. No timing is asserted; the page faults per call are a count, and a bridge that made
a greenlet per call would fault on each one's new frame stack (1.00 per call)."""

from __future__ import annotations

from tests.bench.scripts import run_bench_script


def test_a_small_run_prints_cpu_and_faults_per_call() -> None:
    words = run_bench_script("greenbridge_cost.py", "--calls", "2000").split()
    figures = dict(zip(words[::2], map(float, words[1::2]), strict=True))
    assert set(figures) == {"us_per_call", "user_us", "system_us", "minor_faults"}
    assert figures["us_per_call"] > 0
    assert figures["minor_faults"] < 0.5
