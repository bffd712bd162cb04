"""Smoke test of bench/wal_frames.py: a small run exits 0 and prints frames per commit by
b-tree. The figures are counts, not times: once each member's inbox spans several pages, a
group send commits about one page of the inbox's account-ordered b-tree per member it reaches
(49), the largest share, and the b-trees' shares add up to the total; a DM commits a few."""

from __future__ import annotations

import json

import pytest

from tests.bench.scripts import run_bench_script


def run(*args: str) -> dict[str, object]:
    stdout = run_bench_script("wal_frames.py", *args, timeout=180)
    result = json.loads(stdout.splitlines()[-1])
    assert isinstance(result, dict)
    return result


def test_a_group_send_commits_a_page_per_member_at_least() -> None:
    result = run("--history", "200", "--sends", "4")
    assert result["commits"] == 4
    by_tree = result["by_tree"]
    assert isinstance(by_tree, dict)
    assert sum(by_tree.values()) == pytest.approx(result["frames_per_commit"], abs=0.05)
    inbox_pages = sum(n for name, n in by_tree.items() if "inbox" in name)
    assert inbox_pages > 40
    assert "inbox" in max(by_tree, key=by_tree.__getitem__)
    assert by_tree["messages"] >= 1


def test_a_dm_commits_far_fewer_pages() -> None:
    result = run("--dm", "--history", "200", "--sends", "4")
    assert result["workload"] == "dm"
    assert result["commits"] == 4
    assert 3 <= result["frames_per_commit"] < 20  # type: ignore[operator]
