"""The Store's webhook registrations and the durable outbox: the interface (WebhookStore) and its
implementation over store/queries/webhooks.py (WebhookTxnStore, mixed into TxnStore)."""

from __future__ import annotations

from typing import Protocol

from agentplaza.store.runner import TxnRunner


class WebhookStore(Protocol):
    pass


class WebhookTxnStore(TxnRunner):
    pass
