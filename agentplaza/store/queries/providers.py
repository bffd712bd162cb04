"""LLM providers (llm_providers, 0010) and the humans' emails (accounts.email, same migration).

Every read and write of a provider names its owner, except the two the reseal command uses to
walk every row: another owner's provider is never found, changed or deleted through them.
"""

from __future__ import annotations

import json
from typing import Any

from agentplaza.domain.accounts import Account, NewAccount
from agentplaza.domain.errors import Conflict, ErrorCode, Forbidden
from agentplaza.domain.ids import AccountId
from agentplaza.domain.providers import PROVIDERS_PER_OWNER_MAX, ModelPrice, Provider
from agentplaza.store.engine import Txn
from agentplaza.store.queries.accounts import create_account_txn

_COLUMNS = (
    "id, owner_id, name, kind, base_url, api_key_sealed, models, default_model, prices,"
    " timeout_secs, max_retries, max_concurrency, created_at_us, updated_at_us"
)


def _provider_from_row(row: Any) -> Provider:
    prices = json.loads(row[8])
    return Provider(
        id=row[0],
        owner_id=AccountId(row[1]),
        name=row[2],
        kind=row[3],
        base_url=row[4],
        api_key_sealed=row[5],
        models=tuple(json.loads(row[6])),
        default_model=row[7],
        prices={m: ModelPrice(float(p["input"]), float(p["output"])) for m, p in prices.items()},
        timeout_secs=float(row[9]),
        max_retries=int(row[10]),
        max_concurrency=int(row[11]),
        created_at_us=int(row[12]),
        updated_at_us=int(row[13]),
    )


def _values(p: Provider) -> tuple[Any, ...]:
    prices = {m: {"input": v.input, "output": v.output} for m, v in p.prices.items()}
    return (
        p.name,
        p.kind,
        p.base_url,
        p.api_key_sealed,
        json.dumps(list(p.models)),
        p.default_model,
        json.dumps(prices),
        p.timeout_secs,
        p.max_retries,
        p.max_concurrency,
        p.updated_at_us,
    )


def insert_provider_txn(txn: Txn, provider: Provider) -> Provider:
    """Insert `provider`; Forbidden when its owner already has PROVIDERS_PER_OWNER_MAX."""
    count = txn.execute(
        "SELECT COUNT(*) FROM llm_providers WHERE owner_id = ?", (provider.owner_id,)
    ).fetchone()[0]
    if count >= PROVIDERS_PER_OWNER_MAX:
        raise Forbidden(f"an account has at most {PROVIDERS_PER_OWNER_MAX} providers")
    txn.execute(
        "INSERT INTO llm_providers (name, kind, base_url, api_key_sealed, models, default_model,"
        " prices, timeout_secs, max_retries, max_concurrency, updated_at_us, id, owner_id,"
        " created_at_us) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (*_values(provider), provider.id, provider.owner_id, provider.created_at_us),
    )
    return provider


def get_provider_txn(txn: Txn, owner: AccountId, provider_id: str) -> Provider | None:
    """`owner`'s provider `provider_id`, or None (none, or someone else's)."""
    row = txn.execute(
        f"SELECT {_COLUMNS} FROM llm_providers WHERE id = ? AND owner_id = ?",
        (provider_id, owner),
    ).fetchone()
    return _provider_from_row(row) if row else None


def list_providers_txn(
    txn: Txn, owner: AccountId, *, limit: int, offset: int
) -> tuple[list[Provider], int]:
    """One page of `owner`'s providers, oldest first, and how many there are in all."""
    total = txn.execute(
        "SELECT COUNT(*) FROM llm_providers WHERE owner_id = ?", (owner,)
    ).fetchone()[0]
    rows = txn.execute(
        f"SELECT {_COLUMNS} FROM llm_providers WHERE owner_id = ?"
        " ORDER BY created_at_us, id LIMIT ? OFFSET ?",
        (owner, limit, offset),
    ).fetchall()
    return [_provider_from_row(r) for r in rows], int(total)


def replace_provider_txn(txn: Txn, provider: Provider) -> bool:
    """Write every changeable field of `provider` over its owner's row; False when there is
    no such row (deleted meanwhile, or not the owner's)."""
    cursor = txn.execute(
        "UPDATE llm_providers SET name = ?, kind = ?, base_url = ?, api_key_sealed = ?,"
        " models = ?, default_model = ?, prices = ?, timeout_secs = ?, max_retries = ?,"
        " max_concurrency = ?, updated_at_us = ? WHERE id = ? AND owner_id = ?",
        (*_values(provider), provider.id, provider.owner_id),
    )
    return cursor.rowcount > 0


def set_provider_models_if_none_txn(
    txn: Txn, owner: AccountId, provider_id: str, models: tuple[str, ...]
) -> bool:
    """Keep the models a test found, only if the owner's provider still lists none (an update
    that set models meanwhile wins); updated_at_us stays."""
    cursor = txn.execute(
        "UPDATE llm_providers SET models = ? WHERE id = ? AND owner_id = ? AND models = '[]'",
        (json.dumps(list(models)), provider_id, owner),
    )
    return cursor.rowcount > 0


def delete_provider_txn(txn: Txn, owner: AccountId, provider_id: str) -> bool:
    """Delete `owner`'s provider; False when there is none."""
    cursor = txn.execute(
        "DELETE FROM llm_providers WHERE id = ? AND owner_id = ?", (provider_id, owner)
    )
    return cursor.rowcount > 0


def sealed_keys_txn(txn: Txn, *, after_id: str, limit: int) -> list[tuple[str, str]]:
    """(id, api_key_sealed) of every provider with an id above `after_id`, by id: the reseal
    command's walk over all owners."""
    rows = txn.execute(
        "SELECT id, api_key_sealed FROM llm_providers WHERE id > ? ORDER BY id LIMIT ?",
        (after_id, limit),
    ).fetchall()
    return [(r[0], r[1]) for r in rows]


def swap_sealed_key_txn(txn: Txn, provider_id: str, *, old: str, new: str) -> bool:
    """Replace the sealed key only if it is still `old` (an owner may have set a new key
    meanwhile, which wins); updated_at_us stays: the key itself did not change."""
    cursor = txn.execute(
        "UPDATE llm_providers SET api_key_sealed = ? WHERE id = ? AND api_key_sealed = ?",
        (new, provider_id, old),
    )
    return cursor.rowcount > 0


# --- accounts.email --------------------------------------------------------------------------


def create_account_with_email_txn(txn: Txn, new: NewAccount, email: str) -> Account:
    """The account and its (already lower-cased) email in one transaction; Conflict when a
    live or deleted account has the email or the name is taken."""
    if txn.execute("SELECT 1 FROM accounts WHERE email = ?", (email,)).fetchone() is not None:
        raise Conflict("an account with this email already exists", ErrorCode.EMAIL_TAKEN)
    account = create_account_txn(txn, new)
    txn.execute("UPDATE accounts SET email = ? WHERE id = ?", (email, account.id))
    return account


def account_email_txn(txn: Txn, account: AccountId) -> str | None:
    """The account's email, or None when it registered without one."""
    row = txn.execute("SELECT email FROM accounts WHERE id = ?", (account,)).fetchone()
    return None if row is None else row[0]
