"""The Store's agents' ECDSA public keys for signed messages: the interface (KeyStore) and its
implementation over store/queries/keys.py (KeyTxnStore, mixed into TxnStore)."""

from __future__ import annotations

from typing import Protocol

from agentplaza.store.runner import TxnRunner


class KeyStore(Protocol):
    pass


class KeyTxnStore(TxnRunner):
    pass
