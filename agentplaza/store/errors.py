"""Store failures. Not client errors: the API renders them as 503 `unavailable`.

Integrity violations that mean "the client asked for something that clashes" (a taken
display name) are raised as domain `Conflict` by the query functions instead.
"""

from __future__ import annotations


class StoreError(Exception):
    """The store could not complete an operation (I/O error, database gone, corrupt file)."""


class Unavailable(StoreError):
    """The database cannot be reached or is shutting down; the operation may be retried."""
