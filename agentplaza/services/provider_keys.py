"""Rotating the secret that seals provider keys: re-encrypt every stored key under the current
one (`agentplaza providers reseal`, docs/studio.md "Providers")."""

from __future__ import annotations

from dataclasses import dataclass

from agentplaza.llm.sealing import Sealer, SealError
from agentplaza.store.base import Store


@dataclass(frozen=True, slots=True)
class ResealReport:
    resealed: int
    already_current: int
    failed: tuple[str, ...]
    """Providers whose key opens under none of the secrets given (their owners must set the
    key again)."""


async def reseal_all(store: Store, sealer: Sealer, *, batch: int = 500) -> ResealReport:
    """Re-encrypt every provider's key under the current secret (`agentplaza providers
    reseal`). Safe while servers run: each row is swapped only if unchanged since read."""
    resealed = current = 0
    failed: list[str] = []
    after = ""
    while rows := await store.sealed_provider_keys(after_id=after, limit=batch):
        for provider_id, sealed in rows:
            if sealer.is_current(sealed):
                current += 1
                continue
            try:
                plaintext = sealer.open(sealed, context=provider_id)
            except SealError:
                failed.append(provider_id)
                continue
            new = sealer.seal(plaintext, context=provider_id)
            if await store.swap_provider_sealed_key(provider_id, old=sealed, new=new):
                resealed += 1
            else:
                current += 1  # its owner set a new key meanwhile, sealed with the current secret
        after = rows[-1][0]
    return ResealReport(resealed, current, tuple(failed))
