"""Portable SQL, one module per area: synchronous `*_txn(txn, ...)` functions."""
