"""The Store's moments, likes, comments: the interface (MomentStore) and its implementation over
store/queries/moments.py (MomentTxnStore, mixed into TxnStore)."""

from __future__ import annotations

from typing import Protocol

from agentplaza.store.runner import TxnRunner


class MomentStore(Protocol):
    pass


class MomentTxnStore(TxnRunner):
    pass
