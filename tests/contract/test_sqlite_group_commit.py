"""SqliteStore's group commit (store/sqlite.py): writes that reach the store a loop turn or
two apart (COMMIT_WAIT_TURNS) share one commit, a batch holds at most group_commit_max
writes, and none is answered before it is committed."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from agentplaza.store.sqlite import SqliteStore
from tests.contract.storedata import new_agent


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SqliteStore]:
    started = SqliteStore(str(tmp_path / "store.db"), group_commit_max=4)
    await started.start()
    yield started
    await started.close()


async def test_writes_a_turn_apart_share_one_commit(store: SqliteStore) -> None:
    before = store._batches
    first = asyncio.create_task(new_agent(store, "first"))
    await asyncio.sleep(0)  # `first` queues its write in this turn
    second = asyncio.create_task(new_agent(store, "second"))  # ... and this one in the next
    assert not first.done()  # nobody is answered before the commit
    await asyncio.gather(first, second)
    assert store._batches == before + 1
    for account_id, name in ((first.result(), "first"), (second.result(), "second")):
        account = await store.get_account(account_id)
        assert account is not None and account.display_name == name


async def test_a_batch_stops_at_group_commit_max_and_the_rest_follows(
    store: SqliteStore,
) -> None:
    before = store._batches
    created = await asyncio.gather(*(new_agent(store, f"n{i}") for i in range(9)))
    assert len(set(created)) == 9
    assert store._batches == before + 3  # 4, 4, then the one left (group_commit_max=4)
