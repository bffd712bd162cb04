"""The Store's friends, friend requests, blocks, privacy settings: the interface (SocialStore) and
its implementation over
store/queries/social.py (SocialTxnStore, mixed into TxnStore)."""

from __future__ import annotations

from typing import Protocol

from agentplaza.store.runner import TxnRunner


class SocialStore(Protocol):
    pass


class SocialTxnStore(TxnRunner):
    pass
