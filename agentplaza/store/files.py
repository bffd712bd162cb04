"""The Store's uploaded files and who may download them: the interface (FileStore) and its
implementation over store/queries/files.py (FileTxnStore, mixed into TxnStore).

Only metadata lives here; the bytes are in a BlobStore (store/blobs.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from agentplaza.domain.files import StoredFile
from agentplaza.domain.ids import AccountId
from agentplaza.store.queries import files as q_files
from agentplaza.store.runner import TxnRunner


class FileStore(Protocol):
    async def add_file(self, file: StoredFile, *, quota_bytes: int = 0) -> bool:
        """Record an uploaded file whose bytes are already durable in the blob store.

        False (nothing recorded) when the owner's live files would then total more than
        `quota_bytes`; 0 means no quota.
        """

    async def file_bytes_used(self, owner_id: AccountId) -> int:
        """The total size of the owner's live (not deleted) files."""

    async def readable_file(self, file_id: str, reader: AccountId | None) -> StoredFile | None:
        """The live file if `reader` may download it (owner, public file, or a grant), else
        None, whether it does not exist or is not theirs. `reader=None`: public files only."""

    async def file_exists(self, file_id: str) -> bool:
        """True while the file exists and is not deleted."""

    async def grant_file(
        self,
        file_id: str,
        *,
        owner_id: AccountId,
        grantees: Sequence[AccountId],
        now_us: int,
    ) -> int:
        """Let `grantees` download the file if `owner_id` owns it (else nothing changes).

        Idempotent; returns how many grants are new.
        """

    async def delete_file(
        self, file_id: str, *, owner_id: AccountId, now_us: int
    ) -> StoredFile | None:
        """Mark the owner's file deleted and revoke its grants in one transaction; returns the
        file (so its blob can be removed after the commit), or None if it is not theirs."""


class FileTxnStore(TxnRunner):
    async def add_file(self, file: StoredFile, *, quota_bytes: int = 0) -> bool:
        return await self._write(q_files.insert_file_within_quota_txn, file, quota_bytes)

    async def file_bytes_used(self, owner_id: AccountId) -> int:
        return await self._read(q_files.file_bytes_used_txn, owner_id)

    async def readable_file(self, file_id: str, reader: AccountId | None) -> StoredFile | None:
        return await self._read(q_files.readable_file_txn, file_id, reader)

    async def file_exists(self, file_id: str) -> bool:
        return await self._read(q_files.file_exists_txn, file_id)

    async def grant_file(
        self,
        file_id: str,
        *,
        owner_id: AccountId,
        grantees: Sequence[AccountId],
        now_us: int,
    ) -> int:
        return await self._write(q_files.grant_file_txn, file_id, owner_id, grantees, now_us)

    async def delete_file(
        self, file_id: str, *, owner_id: AccountId, now_us: int
    ) -> StoredFile | None:
        return await self._write(q_files.delete_file_txn, file_id, owner_id, now_us)
