"""The BlobStore contract (store/blobs.py), run on every implementation (today: the disk)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from agentplaza.store.blobs import READ_CHUNK_BYTES, BlobNotFound, BlobStore, DiskBlobStore


@pytest.fixture(params=["disk"])
def blobs(request: pytest.FixtureRequest, tmp_path: Path) -> BlobStore:
    assert request.param == "disk"
    return DiskBlobStore(tmp_path / "files")


async def _read(blobs: BlobStore, key: str) -> bytes:
    return b"".join([chunk async for chunk in await blobs.open(key)])


async def _chunks(*parts: bytes, fail_after: int | None = None) -> AsyncIterator[bytes]:
    for part in parts[:fail_after]:
        yield part
    if fail_after is not None:
        raise RuntimeError("the upload broke")


async def test_put_then_open_returns_the_bytes(blobs: BlobStore) -> None:
    await blobs.put("ab/f_1", b"hello")
    assert await _read(blobs, "ab/f_1") == b"hello"
    big = bytes(range(256)) * (READ_CHUNK_BYTES // 256 * 2 + 3)
    await blobs.put("ab/f_2", _chunks(big[:1000], big[1000:]))
    assert await _read(blobs, "ab/f_2") == big


async def test_put_replaces(blobs: BlobStore) -> None:
    await blobs.put("k", b"old")
    await blobs.put("k", _chunks(b"n", b"ew"))
    assert await _read(blobs, "k") == b"new"


async def test_a_failed_put_leaves_nothing_new(blobs: BlobStore) -> None:
    with pytest.raises(RuntimeError):
        await blobs.put("ab/f_3", _chunks(b"part", b"more", fail_after=1))
    with pytest.raises(BlobNotFound):
        await blobs.open("ab/f_3")
    await blobs.put("ab/f_4", b"kept")
    with pytest.raises(RuntimeError):
        await blobs.put("ab/f_4", _chunks(b"half", fail_after=1))
    assert await _read(blobs, "ab/f_4") == b"kept"


async def test_delete_is_idempotent(blobs: BlobStore) -> None:
    await blobs.put("k", b"x")
    await blobs.delete("k")
    await blobs.delete("k")
    with pytest.raises(BlobNotFound):
        await blobs.open("k")


@pytest.mark.parametrize("key", ["../escape", "/abs", "a/../b", "", "a//b", "a/.hidden"])
async def test_keys_cannot_leave_the_root(blobs: BlobStore, key: str) -> None:
    with pytest.raises(ValueError):
        await blobs.put(key, b"x")


async def test_disk_leaves_no_temporary_files(tmp_path: Path) -> None:
    blobs = DiskBlobStore(tmp_path)
    await blobs.put("ab/f_1", b"ok")
    with pytest.raises(RuntimeError):
        await blobs.put("ab/f_2", _chunks(b"x", fail_after=1))
    assert sorted(p.name for p in (tmp_path / "ab").iterdir()) == ["f_1"]
