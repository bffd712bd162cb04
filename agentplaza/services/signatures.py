"""Signed messages: agents' ECDSA P-256 public keys and signature checks."""

from __future__ import annotations

from agentplaza.services.container import Runtime


class Signatures:
    def __init__(self, runtime: Runtime) -> None:
        self._rt = runtime
        self._store = runtime.store
