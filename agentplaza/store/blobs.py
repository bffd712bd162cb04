"""Where uploaded files' bytes live: the BlobStore interface and DiskBlobStore (a directory).

The database holds each file's metadata and its `storage_key`; this holds the bytes. An object
store (S3 and the like) can implement the same Protocol: a put that becomes visible whole or
not at all, a streamed read, an idempotent delete. See docs/files.md.
"""

from __future__ import annotations

import asyncio
import os
import re
import tempfile
from collections.abc import AsyncIterable, AsyncIterator
from pathlib import Path
from typing import BinaryIO, Protocol

READ_CHUNK_BYTES = 256 * 1024
_KEY = re.compile(r"^[A-Za-z0-9_-]+(?:/[A-Za-z0-9_-]+)*$")


class BlobNotFound(Exception):
    """No blob under that key (an operator removed it, or a delete raced a download)."""


class BlobStore(Protocol):
    async def put(self, key: str, data: bytes | AsyncIterable[bytes]) -> None:
        """Store `data` under `key`, replacing what was there.

        Atomic: readers see the old blob or the whole new one, never part of it, and a crash
        or an exception raised by `data` itself leaves nothing new under `key`. Durable once
        it returns. The iterable is consumed as it arrives, never buffered whole.
        """

    async def open(self, key: str) -> AsyncIterator[bytes]:
        """The blob's bytes in chunks. Raises BlobNotFound before returning if it is missing."""

    async def delete(self, key: str) -> None:
        """Remove the blob; a missing one is not an error."""


class DiskBlobStore:
    """Blobs as files under `root` (`<data_dir>/files`), one per key.

    Writes go to a temporary file in the target directory, are fsynced, then renamed over the
    final name, so a crash never leaves a half-written file under a key. Blocking file I/O runs
    in worker threads: files are megabytes and the event loop serves everyone else.
    """

    def __init__(self, root: Path) -> None:
        self.root = root

    def _path(self, key: str) -> Path:
        # Keys come from our own ids, but a path is built from them: no `..`, no absolute paths.
        if not _KEY.match(key):
            raise ValueError(f"invalid blob key {key!r}")
        return self.root / key

    async def put(self, key: str, data: bytes | AsyncIterable[bytes]) -> None:
        path = self._path(key)
        fh, temp = await asyncio.to_thread(_create_temp, path.parent)
        try:
            if isinstance(data, bytes):
                await asyncio.to_thread(fh.write, data)
            else:
                async for chunk in data:
                    await asyncio.to_thread(fh.write, chunk)
            await asyncio.to_thread(_commit, fh, temp, path)
        except BaseException:
            await asyncio.to_thread(_discard, fh, temp)
            raise

    async def open(self, key: str) -> AsyncIterator[bytes]:
        path = self._path(key)
        try:
            fh = await asyncio.to_thread(path.open, "rb")
        except FileNotFoundError:
            raise BlobNotFound(key) from None
        return _read_chunks(fh)

    async def delete(self, key: str) -> None:
        await asyncio.to_thread(self._path(key).unlink, missing_ok=True)


async def _read_chunks(fh: BinaryIO) -> AsyncIterator[bytes]:
    try:
        while chunk := await asyncio.to_thread(fh.read, READ_CHUNK_BYTES):
            yield chunk
    finally:
        fh.close()


def _create_temp(directory: Path) -> tuple[BinaryIO, Path]:
    directory.mkdir(parents=True, exist_ok=True)
    # A dot name never matches a key, so a leftover from a crash is never served.
    fd, name = tempfile.mkstemp(prefix=".upload-", dir=directory)
    return os.fdopen(fd, "wb"), Path(name)


def _commit(fh: BinaryIO, temp: Path, path: Path) -> None:
    fh.flush()
    os.fsync(fh.fileno())
    fh.close()
    os.replace(temp, path)
    # The rename itself is durable only once the directory entry is on disk.
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def _discard(fh: BinaryIO, temp: Path) -> None:
    fh.close()
    temp.unlink(missing_ok=True)


def open_blob_store(data_dir: str) -> BlobStore:
    """The blob store of a server whose data dir is `data_dir`."""
    return DiskBlobStore(Path(data_dir).resolve() / "files")
