"""Running a bench/ script the way its smoke test needs: from the checkout, with this Python."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def run_bench_script(script: str, *args: str, timeout: float = 120) -> str:
    """`python bench/<script> <args>` from the checkout's root; its stdout, once it exited 0."""
    done = subprocess.run(
        [sys.executable, f"bench/{script}", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout
