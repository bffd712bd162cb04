"""Provider and email store guarantees (store/queries/providers.py), on every engine."""

from __future__ import annotations

import dataclasses

import pytest

from agentplaza.domain.accounts import AccountKind, NewAccount
from agentplaza.domain.errors import Conflict, Forbidden
from agentplaza.domain.ids import AccountId
from agentplaza.domain.providers import PROVIDERS_PER_OWNER_MAX, ModelPrice, Provider
from agentplaza.store.base import Store

NOW = 1_700_000_000_000_000


def provider(owner: str, n: int) -> Provider:
    return Provider(
        id=f"prov_{owner}{n:012d}",
        owner_id=AccountId(owner),
        name=f"p{n}",
        kind="openai",
        base_url=None,
        api_key_sealed=f"v1.kid.sealed{n}",
        models=("a", "b"),
        default_model="a",
        prices={"a": ModelPrice(0.5, 1.5)},
        timeout_secs=30.0,
        max_retries=2,
        max_concurrency=4,
        created_at_us=NOW + n,
        updated_at_us=NOW + n,
    )


async def test_providers_belong_to_their_owner(store: Store) -> None:
    mine = [await store.insert_provider(provider("P1", n)) for n in range(3)]
    theirs = await store.insert_provider(provider("P2", 9))
    assert await store.get_provider(AccountId("P1"), mine[0].id) == mine[0]
    assert await store.get_provider(AccountId("P2"), mine[0].id) is None
    page, total = await store.list_providers(AccountId("P1"), limit=2, offset=1)
    assert total == 3 and page == mine[1:]
    changed = dataclasses.replace(mine[0], name="new", models=(), prices={}, updated_at_us=NOW * 2)
    assert await store.replace_provider(changed)
    assert await store.get_provider(AccountId("P1"), mine[0].id) == changed
    stolen = dataclasses.replace(theirs, owner_id=AccountId("P1"), name="stolen")
    assert not await store.replace_provider(stolen)
    assert not await store.delete_provider(AccountId("P1"), theirs.id)
    assert await store.get_provider(AccountId("P2"), theirs.id) == theirs
    found = ("x", "y")
    assert await store.set_provider_models_if_none(AccountId("P1"), changed.id, found)
    assert not await store.set_provider_models_if_none(AccountId("P1"), changed.id, ("z",))
    assert not await store.set_provider_models_if_none(AccountId("P1"), mine[1].id, found)
    assert not await store.set_provider_models_if_none(AccountId("P2"), changed.id, found)
    kept = await store.get_provider(AccountId("P1"), changed.id)
    assert kept is not None and kept.models == found and kept.updated_at_us == NOW * 2
    assert await store.delete_provider(AccountId("P1"), mine[2].id)
    assert not await store.delete_provider(AccountId("P1"), mine[2].id)


async def test_an_owner_has_at_most_the_maximum(store: Store) -> None:
    for n in range(PROVIDERS_PER_OWNER_MAX):
        await store.insert_provider(provider("P3", n))
    with pytest.raises(Forbidden):
        await store.insert_provider(provider("P3", PROVIDERS_PER_OWNER_MAX))


async def test_reseal_walk_and_swap(store: Store) -> None:
    for owner in ("P4", "P5"):
        for n in range(3):
            await store.insert_provider(provider(owner, n))
    seen: list[str] = []
    after = ""
    while rows := await store.sealed_provider_keys(after_id=after, limit=4):
        seen += [r[0] for r in rows]
        after = rows[-1][0]
    assert seen == sorted(seen) and len(seen) == 6
    first = provider("P4", 0)
    assert await store.swap_provider_sealed_key(first.id, old=first.api_key_sealed, new="v1.x.y")
    assert not await store.swap_provider_sealed_key(first.id, old=first.api_key_sealed, new="z")
    found = await store.get_provider(AccountId("P4"), first.id)
    assert found is not None and found.api_key_sealed == "v1.x.y"
    assert found.updated_at_us == first.updated_at_us


async def test_email_is_unique(store: Store) -> None:
    def human(name: str) -> NewAccount:
        return NewAccount(
            kind=AccountKind.HUMAN,
            display_name=name,
            bio="",
            key_hash=None,
            recovery_hash=None,
            password_hash="h",
            now_us=NOW,
        )

    account = await store.create_account_with_email(human("emma"), "emma@example.com")
    assert await store.account_email(account.id) == "emma@example.com"
    with pytest.raises(Conflict):
        await store.create_account_with_email(human("emma2"), "emma@example.com")
    assert await store.find_human_by_name("emma2") is None  # nothing half-created
    plain = await store.create_account(human("noemail"))
    assert await store.account_email(plain.id) is None
