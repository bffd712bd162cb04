"""Uploaded files' metadata and download grants (the bytes are in store/blobs.py)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from agentplaza.domain.files import StoredFile
from agentplaza.domain.ids import AccountId
from agentplaza.store.engine import Txn

FILE_COLUMNS = "id, owner_id, name, content_type, size, sha256, storage_key, public, created_at"


def file_from_row(row: Any) -> StoredFile:
    return StoredFile(
        id=row[0],
        owner_id=AccountId(row[1]),
        name=row[2],
        content_type=row[3],
        size=int(row[4]),
        sha256=row[5],
        storage_key=row[6],
        public=bool(row[7]),
        created_at_us=int(row[8]),
    )


def insert_file_txn(txn: Txn, file: StoredFile) -> None:
    txn.execute(
        f"INSERT INTO files ({FILE_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            file.id,
            file.owner_id,
            file.name,
            file.content_type,
            file.size,
            file.sha256,
            file.storage_key,
            1 if file.public else 0,
            file.created_at_us,
        ),
    )


def file_bytes_used_txn(txn: Txn, owner_id: AccountId) -> int:
    """The total size of the owner's live (not deleted) files, avatars included."""
    row = txn.execute(
        "SELECT COALESCE(SUM(size), 0) FROM files WHERE owner_id = ? AND deleted_at IS NULL",
        (owner_id,),
    ).fetchone()
    return int(row[0])


def insert_file_within_quota_txn(txn: Txn, file: StoredFile, *, quota_bytes: int = 0) -> bool:
    """Record an uploaded file whose bytes are already durable in the blob store.

    False (nothing recorded) when the owner's live files would then total more than
    `quota_bytes`; 0 means no quota. Checked in the inserting transaction, so uploads that
    raced past the service's early check still cannot both get in."""
    if quota_bytes > 0 and file_bytes_used_txn(txn, file.owner_id) + file.size > quota_bytes:
        return False
    insert_file_txn(txn, file)
    return True


def readable_file_txn(txn: Txn, file_id: str, reader: AccountId | None) -> StoredFile | None:
    """The live file if `reader` may download it (owner, public file, or a grant), else
    None, whether it does not exist or is not theirs. `reader=None`: public files only."""
    row = txn.execute(
        f"SELECT {FILE_COLUMNS} FROM files f WHERE f.id = ? AND f.deleted_at IS NULL"
        " AND (f.public = 1 OR f.owner_id = ? OR EXISTS"
        " (SELECT 1 FROM file_grants g WHERE g.file_id = f.id AND g.grantee_id = ?))",
        (file_id, reader or "", reader or ""),
    ).fetchone()
    return file_from_row(row) if row else None


def file_exists_txn(txn: Txn, file_id: str) -> bool:
    """True while the file exists and is not deleted."""
    row = txn.execute(
        "SELECT 1 FROM files WHERE id = ? AND deleted_at IS NULL", (file_id,)
    ).fetchone()
    return row is not None


def grant_file_txn(
    txn: Txn, file_id: str, *, owner_id: AccountId, grantees: Sequence[AccountId], now_us: int
) -> int:
    """Let `grantees` download the file if `owner_id` owns it and it is live (else nothing
    changes). Idempotent; returns how many grants are new."""
    if not file_exists_owned_txn(txn, file_id, owner_id):
        return 0
    added = 0
    for grantee in dict.fromkeys(grantees):
        if grantee == owner_id:
            continue
        cur = txn.execute(
            "INSERT INTO file_grants (file_id, grantee_id, created_at) VALUES (?, ?, ?)"
            " ON CONFLICT (file_id, grantee_id) DO NOTHING",
            (file_id, grantee, now_us),
        )
        added += max(cur.rowcount, 0)
    return added


def file_exists_owned_txn(txn: Txn, file_id: str, owner_id: AccountId) -> bool:
    row = txn.execute(
        "SELECT 1 FROM files WHERE id = ? AND owner_id = ? AND deleted_at IS NULL",
        (file_id, owner_id),
    ).fetchone()
    return row is not None


def delete_file_txn(
    txn: Txn, file_id: str, *, owner_id: AccountId, now_us: int
) -> StoredFile | None:
    """Mark the owner's file deleted and revoke its grants in one transaction; returns the
    file (so its blob can be removed after the commit), or None if it is not theirs or gone."""
    row = txn.execute(
        f"SELECT {FILE_COLUMNS} FROM files WHERE id = ? AND owner_id = ? AND deleted_at IS NULL",
        (file_id, owner_id),
    ).fetchone()
    if row is None:
        return None
    txn.execute("UPDATE files SET deleted_at = ? WHERE id = ?", (now_us, file_id))
    txn.execute("DELETE FROM file_grants WHERE file_id = ?", (file_id,))
    return file_from_row(row)
