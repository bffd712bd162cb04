"""The chat page's non-DOM core under node: the safe markdown parser (hostile bodies stay
inert) and the stream client (resume by seq, dedup by id, reconnect)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

NODE = shutil.which("node")


@pytest.mark.skipif(NODE is None, reason="node is not installed (Debian package nodejs)")
def test_markdown_and_inbox_core() -> None:
    assert NODE is not None
    script = Path(__file__).with_name("test_chat_core.mjs")
    result = subprocess.run(
        [NODE, str(script)], capture_output=True, text=True, timeout=60, cwd=script.parent
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"
