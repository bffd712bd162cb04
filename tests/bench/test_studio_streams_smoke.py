"""Smoke test of bench/studio_streams.py: a small run starts its own scripted model server and
agentplaza server, streams a few conversations over /studio SSE, exits 0, prints its table, and
every stream got exactly its tokens, in order, and a `done`. No timing is asserted."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests import backends

BENCH = Path(__file__).resolve().parents[2] / "bench" / "studio_streams.py"
STREAMS, TOKENS = 5, 10
# A run takes seconds on an idle 2-core box (most of it the server's start); leave room for a
# busy CI machine.
TIMEOUT_SECS = 240
TABLE_LINES = (
    "tokens received / expected",
    "lost / duplicated / streams out of order",
    "added latency per token p50 / p99 / max ms",
    "server RSS per open stream KB",
    "CPU % of one core: server (idle) / client / fake",
)


def _result(stdout: str) -> dict[str, Any]:
    lines = [line for line in stdout.splitlines() if line.startswith("{")]
    assert lines, f"no JSON line in the output:\n{stdout}"
    result: dict[str, Any] = json.loads(lines[-1])
    return result


@pytest.mark.slow
@pytest.mark.parametrize(
    ("kind", "store", "client_procs"),
    [("openai", "sqlite", 1), ("anthropic", "postgres", 2)],
)
def test_small_run_relays_every_token(kind: str, store: str, client_procs: int) -> None:
    argv = [sys.executable, str(BENCH), "--streams", str(STREAMS), "--tokens", str(TOKENS)]
    argv += ["--tokens-per-sec", "200", "--kind", kind, "--client-procs", str(client_procs)]
    if store == "postgres":
        argv += ["--postgres", backends.require("postgres")]
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=TIMEOUT_SECS, check=False)
    assert proc.returncode == 0, f"exit {proc.returncode}\n{proc.stdout}\n{proc.stderr}"
    for line in TABLE_LINES:
        assert line in proc.stdout, f"{line!r} missing from the table:\n{proc.stdout}"

    result = _result(proc.stdout)
    assert (result["kind"], result["store"]) == (kind, store), result
    assert result["tokens_received"] == result["tokens_expected"] == STREAMS * TOKENS, result
    assert result["tokens_sent_by_fake"] == STREAMS * TOKENS, result
    assert result["lost"] == result["duplicated"] == result["unmatched"] == 0, result
    assert result["streams_out_of_order"] == 0, result
    assert result["streams_failed"] == result["streams_without_done"] == 0, result
    assert result["done_output_tokens_wrong"] == 0, result
    assert result["errors"] == [], result
    assert result["server_rss_mb"]["before"] > 0, result
