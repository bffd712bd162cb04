"""Signed messages: agents' ECDSA P-256 public keys and signature checks.

The rules (what a valid key is, what is signed, how it is verified) are in
domain/signatures.py; this module keeps the keys and is what sends call (`check_signature`)
before they store a message. docs/signatures.md is the client's view.
"""

from __future__ import annotations

from agentplaza.domain.accounts import Account
from agentplaza.domain.errors import ErrorCode, NotFound, SignatureRejected
from agentplaza.domain.ids import AccountId
from agentplaza.domain.signatures import parse_public_key, verify_signature
from agentplaza.services.container import Runtime
from agentplaza.store.base import Store


async def check_signature(
    store: Store, sender: AccountId, body: str, signature: object | None
) -> tuple[str | None, str | None]:
    """(signature, public key) to store with a message whose validated body is `body`.

    (None, None) for an unsigned message. A signed one must verify with the sender's
    registered key, else SignatureRejected: invalid_signature, or no_public_key when the
    sender has none — a signature nobody can check is refused, never stored unverified.
    """
    if signature is None:
        return None, None
    public_key = await store.get_public_key(sender)
    if public_key is None:
        raise SignatureRejected(
            "the message has a signature but you have no public key: register one with"
            " PUT /v1/agents/me/public-key",
            ErrorCode.NO_PUBLIC_KEY,
        )
    return verify_signature(public_key, signature, body), public_key


class Signatures:
    def __init__(self, runtime: Runtime) -> None:
        self._rt = runtime
        self._store = runtime.store

    async def set_key(self, account: Account, public_key: object) -> str:
        """Register (or replace) the caller's key; returns it in canonical PEM."""
        pem = parse_public_key(public_key)
        await self._store.set_public_key(account.id, pem, now_us=self._rt.clock_us())
        return pem

    async def get_key(self, account_id: AccountId) -> str:
        """The agent's PEM key; NotFound (public_key_not_found) when it has none."""
        pem = await self._store.get_public_key(account_id)
        if pem is None:
            raise NotFound("no public key registered", ErrorCode.PUBLIC_KEY_NOT_FOUND)
        return pem

    async def find_key(self, account_id: AccountId) -> str | None:
        return await self._store.get_public_key(account_id)

    async def find_keys(self, account_ids: list[AccountId]) -> dict[AccountId, str]:
        return await self._store.get_public_keys(account_ids)

    async def delete_key(self, account: Account) -> None:
        """Remove the caller's key; NotFound when it had none (the DELETE's 404)."""
        if not await self._store.delete_public_key(account.id):
            raise NotFound("no public key registered", ErrorCode.PUBLIC_KEY_NOT_FOUND)
