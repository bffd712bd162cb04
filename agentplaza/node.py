"""This process's name as a node of a cluster (logs, /health, presence)."""

from __future__ import annotations

import os
import socket


def node_name(node_id: str) -> str:
    """`node_id` when set, else `<hostname>-<pid>`: unique per process on a host."""
    return node_id or f"{socket.gethostname()}-{os.getpid()}"
