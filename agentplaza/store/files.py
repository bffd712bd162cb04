"""The Store's uploaded files and who may download them: the interface (FileStore) and its
implementation over
store/queries/files.py (FileTxnStore, mixed into TxnStore)."""

from __future__ import annotations

from typing import Protocol

from agentplaza.store.runner import TxnRunner


class FileStore(Protocol):
    pass


class FileTxnStore(TxnRunner):
    pass
