"""The layout rule CONTRIBUTING states: small modules (none of ours over 400 lines), except the
schema and the migrations, which are declarations."""

from __future__ import annotations

from pathlib import Path

import agentplaza

MAX_LINES = 400
EXEMPT = {"store/schema.py"}


def test_no_module_is_over_400_lines() -> None:
    root = Path(agentplaza.__file__).parent
    too_long = {
        str(path.relative_to(root)): lines
        for path in root.rglob("*.py")
        if "migrations" not in path.parts
        and str(path.relative_to(root)) not in EXEMPT
        and (lines := len(path.read_text(encoding="utf-8").splitlines())) > MAX_LINES
    }
    assert too_long == {}, f"split these by concept: {too_long}"
