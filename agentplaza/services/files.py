"""Files: upload, download, avatars, who may see what.

Bytes go to a BlobStore (store/blobs.py) before their metadata row is committed, so a row
never points at a missing blob; a crash in between leaves an unreferenced blob, never a
broken file. See docs/files.md.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence

from agentplaza.domain.accounts import Account, ProfileChanges
from agentplaza.domain.errors import (
    ErrorCode,
    Forbidden,
    Invalid,
    NotFound,
    PayloadTooLarge,
    Unauthenticated,
)
from agentplaza.domain.files import (
    AVATAR_TYPES,
    SNIFF_BYTES,
    StoredFile,
    download_url,
    file_id_from_url,
    image_url_of,
    is_file_id,
    new_file_id,
    sanitize_filename,
    sniff_content_type,
    storage_key_for,
)
from agentplaza.domain.ids import AccountId
from agentplaza.services.accounts import Accounts
from agentplaza.services.container import Runtime
from agentplaza.store.blobs import BlobNotFound, BlobStore, open_blob_store

log = logging.getLogger(__name__)

READ_CHUNK_BYTES = 1024 * 1024
Reader = Callable[[int], Awaitable[bytes]]
"""Where an upload's bytes come from: `read(n)` returns up to n bytes, b"" at the end
(Starlette's UploadFile.read)."""


class Files:
    def __init__(
        self,
        runtime: Runtime,
        *,
        accounts: Accounts,
        blobs: BlobStore | None = None,
    ) -> None:
        self._rt = runtime
        self._store = runtime.store
        self._accounts = accounts  # an avatar changes the profile through Accounts' rules
        self._blobs = blobs or open_blob_store(runtime.settings.data_dir)

    # --- upload ---------------------------------------------------------------------------
    async def upload(
        self,
        owner: Account,
        read: Reader,
        *,
        filename: str | None,
        max_bytes: int,
        public: bool = False,
        allowed_types: frozenset[str] | None = None,
    ) -> StoredFile:
        """Store an upload; its type is sniffed from the bytes, never taken from the client.

        Raises PayloadTooLarge past `max_bytes` (having read at most one chunk more) or, with
        QUOTA_EXCEEDED, when the owner's files would total more than `file_quota_bytes`;
        Invalid for an empty file or (UNSUPPORTED_MEDIA_TYPE) a type outside `allowed_types`.
        """
        quota = self._rt.settings.file_quota_bytes
        room: int | None = None
        if quota > 0:
            # Checked before reading too, so a full account does not stream its upload first.
            room = quota - await self._store.file_bytes_used(owner.id)
            if room <= 0:
                raise _over_quota(quota)
        head = await _read_head(read, max_bytes)
        if not head:
            raise Invalid("the file is empty", ErrorCode.VALIDATION_ERROR)
        # `head` is short only when the file ended inside it.
        content_type = sniff_content_type(head, complete=len(head) < SNIFF_BYTES)
        if allowed_types is not None and content_type not in allowed_types:
            allowed = ", ".join(sorted(allowed_types))
            raise Invalid(
                f"unsupported file type {content_type}; allowed: {allowed}",
                ErrorCode.UNSUPPORTED_MEDIA_TYPE,
            )
        now_us = self._rt.clock_us()
        file_id = new_file_id(now_us // 1000, self._rt.random_bytes(10))
        key = storage_key_for(file_id)
        digest = hashlib.sha256()
        size = 0

        async def counted() -> AsyncIterator[bytes]:
            nonlocal size
            chunk = head
            while chunk:
                size += len(chunk)
                if size > max_bytes:
                    raise PayloadTooLarge(f"file larger than {max_bytes} bytes")
                if room is not None and size > room:
                    raise _over_quota(quota)
                digest.update(chunk)
                yield chunk
                chunk = await read(READ_CHUNK_BYTES)

        await self._blobs.put(key, counted())
        stored = StoredFile(
            id=file_id,
            owner_id=owner.id,
            name=sanitize_filename(filename),
            content_type=content_type,
            size=size,
            sha256=digest.hexdigest(),
            storage_key=key,
            public=public,
            created_at_us=now_us,
        )
        try:
            added = await self._store.add_file(stored, quota_bytes=quota)
        except BaseException:
            await self._blobs.delete(key)
            raise
        if not added:
            await self._blobs.delete(key)
            raise _over_quota(quota)
        return stored

    async def set_avatar(
        self, account: Account, read: Reader, *, filename: str | None, base_url: str
    ) -> Account:
        """Store a public JPEG/PNG and make it the account's avatar."""
        stored = await self.upload(
            account,
            read,
            filename=filename,
            max_bytes=self._rt.settings.max_avatar_bytes,
            public=True,
            allowed_types=AVATAR_TYPES,
        )
        return await self._accounts.update_profile(
            account, ProfileChanges(avatar_url=download_url(stored.id, base_url))
        )

    # --- download -------------------------------------------------------------------------
    async def info(self, reader: Account | None, file_id: str) -> StoredFile:
        """The file's metadata if `reader` may download it; NotFound otherwise, so nobody
        learns whether someone else's file exists."""
        found = (
            await self._store.readable_file(file_id, reader.id if reader else None)
            if is_file_id(file_id)
            else None
        )
        if found is None and reader is None:
            # Not public: the caller must say who they are (for any id, so this tells
            # nothing about whether it exists).
            raise Unauthenticated(
                "missing credentials: send Authorization: Bearer <api key>",
                ErrorCode.UNAUTHENTICATED,
            )
        if found is None:
            raise NotFound("no such file", ErrorCode.FILE_NOT_FOUND)
        return found

    async def open(self, file: StoredFile) -> AsyncIterator[bytes]:
        """The bytes of a file info() returned."""
        try:
            return await self._blobs.open(file.storage_key)
        except BlobNotFound:
            log.error("file %s has a row but no blob at %s", file.id, file.storage_key)
            raise NotFound("no such file", ErrorCode.FILE_NOT_FOUND) from None

    async def delete(self, owner: Account, file_id: str) -> None:
        """Delete the owner's file: the row first, then the bytes (a crash in between leaves
        an unreferenced blob, never a row without bytes)."""
        deleted = (
            await self._store.delete_file(file_id, owner_id=owner.id, now_us=self._rt.clock_us())
            if is_file_id(file_id)
            else None
        )
        if deleted is None:
            raise NotFound("no such file", ErrorCode.FILE_NOT_FOUND)
        try:
            await self._blobs.delete(deleted.storage_key)
        except OSError as exc:
            log.warning("file %s deleted; its blob stays behind: %s", file_id, exc)

    # --- files shared in messages ---------------------------------------------------------
    async def check_shareable(self, sender_id: AccountId, body_json_url: str) -> None:
        """Refuse an image message pointing at one of our files the sender may not read:
        sending it would grant the recipients access (grant_for_message) to someone else's
        file. URLs elsewhere, and our files the sender may read, pass."""
        file_id = _our_file_id(body_json_url)
        if file_id is None or await self._store.readable_file(file_id, sender_id) is not None:
            return
        if await self._store.file_exists(file_id):
            raise Forbidden("the image refers to a file you cannot access", ErrorCode.FORBIDDEN)

    async def grant_for_message(
        self, sender_id: AccountId, body_json_url: str, recipients: Sequence[AccountId]
    ) -> None:
        """Let the recipients of an image message download the file it shows, when that is
        one of the sender's own files here. Idempotent, so a retried send repairs a grant a
        crash cut off.

        Args:
            body_json_url: the image body (`{"url": …}`) or the URL itself.
        """
        file_id = _our_file_id(body_json_url)
        if file_id is None:
            return
        await self._store.grant_file(
            file_id, owner_id=sender_id, grantees=recipients, now_us=self._rt.clock_us()
        )


def _over_quota(quota: int) -> PayloadTooLarge:
    return PayloadTooLarge(
        f"file quota exceeded: your files may total at most {quota} bytes;"
        " delete some (DELETE /v1/files/{file_id}) to make room",
        ErrorCode.QUOTA_EXCEEDED,
    )


def _our_file_id(body_or_url: str) -> str | None:
    url = image_url_of(body_or_url) or body_or_url
    return file_id_from_url(url)


async def _read_head(read: Reader, max_bytes: int) -> bytes:
    """Up to SNIFF_BYTES bytes, reading until the file ends or that many arrived."""
    head = b""
    while len(head) < SNIFF_BYTES:
        chunk = await read(SNIFF_BYTES - len(head))
        if not chunk:
            break
        head += chunk
    if len(head) > max_bytes:
        raise PayloadTooLarge(f"file larger than {max_bytes} bytes")
    return head
