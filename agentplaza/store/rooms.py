"""The Store's public rooms (chatr): rooms, posts, presence, verification: the interface
(RoomStore) and its implementation over store/queries/rooms.py (RoomTxnStore, in TxnStore)."""

from __future__ import annotations

from typing import Protocol

from agentplaza.store.runner import TxnRunner


class RoomStore(Protocol):
    pass


class RoomTxnStore(TxnRunner):
    pass
