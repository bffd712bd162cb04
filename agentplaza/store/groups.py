"""The Store's groups, members, roles, mutes: the interface (GroupStore) and its implementation
over
store/queries/groups.py (GroupTxnStore, mixed into TxnStore)."""

from __future__ import annotations

from typing import Protocol

from agentplaza.store.runner import TxnRunner


class GroupStore(Protocol):
    pass


class GroupTxnStore(TxnRunner):
    pass
