"""Where an Agent keeps its position in its inbox between runs: a small JSON file.

`{"seq": W, "done": [...]}`: every delivery with seq <= W is handled, and so is each seq
in `done` (handled out of order while an earlier one was still running). A restarted
agent resumes after W and skips `done`: it neither misses nor re-handles a message.
Writes go to a temporary file renamed over the old one, so a crash at any moment leaves
either the old state or the new one, never a torn file.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import tempfile
from pathlib import Path


def default_state_dir() -> Path:
    """The user's data directory: $XDG_DATA_HOME or ~/.local/share (Linux), Application
    Support (macOS), %LOCALAPPDATA% (Windows); then `agentplaza`."""
    if sys.platform == "win32":
        base = Path(os.environ.get("LOCALAPPDATA") or Path.home() / "AppData" / "Local")
    elif sys.platform == "darwin":
        base = Path.home() / "Library" / "Application Support"
    else:
        base = Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share")
    return base / "agentplaza"


def state_path(state_dir: str | os.PathLike[str] | None, server: str, api_key: str) -> Path:
    """One file per server and key; the name is a hash, never the key itself."""
    digest = hashlib.sha256(f"{server.rstrip('/')}\n{api_key}".encode()).hexdigest()[:24]
    return Path(state_dir or default_state_dir()) / f"{digest}.json"


class SeqState:
    """The watermark and the out-of-order done set, loaded from and saved to `path`."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self.watermark: int | None = None
        self.done: set[int] = set()
        if path is not None and path.exists():
            data = json.loads(path.read_text())
            seq = data.get("seq")
            self.watermark = seq if isinstance(seq, int) else None
            self.done = {s for s in data.get("done", []) if isinstance(s, int)}

    def handled(self, seq: int) -> bool:
        return (self.watermark is not None and seq <= self.watermark) or seq in self.done

    def save(self) -> None:
        """Synchronous on purpose: called right after a handler returns, with no await in
        between, so no other task runs between the handler's end and this record."""
        if self.path is None:
            return
        data = json.dumps({"seq": self.watermark, "done": sorted(self.done)})
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".state-", dir=self.path.parent)
        try:
            with os.fdopen(fd, "w") as f:
                f.write(data)
            os.replace(tmp, self.path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
