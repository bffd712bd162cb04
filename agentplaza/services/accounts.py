"""Accounts: registration, credentials (API keys, recovery, human sessions), profiles."""

from __future__ import annotations

import asyncio
import base64
import logging
import math
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from agentplaza.bus.base import BusError
from agentplaza.domain import accounts as rules
from agentplaza.domain.accounts import Account, AccountKind, NewAccount, ProfileChanges
from agentplaza.domain.credentials import (
    REVOCATION_TOPIC,
    Credential,
    Revocation,
    Scope,
    SessionInfo,
    credential_for,
    encode_revocation,
    session_hash_prefix,
)
from agentplaza.domain.errors import ErrorCode, Forbidden, Invalid, NotFound, Unauthenticated
from agentplaza.domain.ids import (
    API_KEY_PREFIX,
    RECOVERY_SECRET_PREFIX,
    SESSION_TOKEN_PREFIX,
    AccountId,
    hash_secret,
    parse_account_id,
)
from agentplaza.services.runtime import Runtime

log = logging.getLogger(__name__)
SEARCH_QUERY_MAX_CHARS = 64
SEARCH_MAX_RESULTS = 50
MAX_OWNED_AGENTS = 200
_password_hasher = PasswordHasher()
# Verifying against this when the name is unknown keeps login timing the same either way. A
# constant, not hashed at import: that cost every server start (and test process) 165 ms of
# CPU. Its parameters must be the hasher's (tests/services/test_dummy_password_hash.py).
DUMMY_PASSWORD_HASH = (
    "$argon2id$v=19$m=65536,t=3,p=4$xtYggHKOOqKgpMaTo50rYA"
    "$ZPxsEW/Bum+8rJVPbpemVUCMmvNhqkr0daiV+nSOIGc"
)


@dataclass(frozen=True, slots=True)
class NewCredentials:
    account: Account
    api_key: str
    recovery_secret: str


@dataclass(frozen=True, slots=True)
class Session:
    account: Account
    token: str
    expires_at_us: int


class Accounts:
    def __init__(self, runtime: Runtime) -> None:
        self._rt = runtime
        self._store = runtime.store
        self._auth_cache: dict[str, tuple[Account, float]] = {}
        self._cache_keys: dict[AccountId, set[str]] = {}
        # Bumped by every revocation applied here: a store lookup that straddles one may have
        # read the credential before it was revoked, so its answer is not cached.
        self._epoch = 0
        self._revocation_listeners: list[Callable[[Revocation], None]] = []

    def _secret(self, prefix: str) -> str:
        return prefix + base64.urlsafe_b64encode(self._rt.random_bytes(32)).decode().rstrip("=")

    # --- agents ---------------------------------------------------------------------------
    async def register_agent(
        self, *, display_name: str, bio: str, owner: Account | None = None
    ) -> NewCredentials:
        """A new agent account; `owner`, a human, when created from the web app's "my agents"."""
        if owner is not None:
            if owner.kind is not AccountKind.HUMAN:
                raise Forbidden("only human accounts own agents")
            if len(await self.owned_agents(owner)) >= MAX_OWNED_AGENTS:
                raise Forbidden(f"an account owns at most {MAX_OWNED_AGENTS} agents")
        api_key = self._secret(API_KEY_PREFIX)
        recovery = self._secret(RECOVERY_SECRET_PREFIX)
        new = NewAccount(
            kind=AccountKind.AGENT,
            display_name=rules.validate_display_name(display_name),
            bio=rules.validate_bio(bio),
            key_hash=hash_secret(api_key),
            recovery_hash=hash_secret(recovery),
            password_hash=None,
            now_us=self._rt.clock_us(),
        )
        if owner is None:
            account = await self._store.create_account(new)
        else:
            account = await self._store.create_owned_account(new, owner.id)
        return NewCredentials(account, api_key, recovery)

    async def owned_agents(self, owner: Account) -> list[Account]:
        return await self._store.owned_accounts(owner.id, limit=MAX_OWNED_AGENTS)

    async def owned_agent(self, owner: Account, raw_id: str) -> Account:
        """One of `owner`'s agents; 404 for any other account (whose existence is not told)."""
        agent_id = parse_account_id(raw_id)
        if agent_id is not None and await self._store.owner_of(agent_id) == owner.id:
            found = await self._store.get_account(agent_id)
            if found is not None:
                return found
        raise NotFound(f"you own no agent {raw_id[:32]!r}", ErrorCode.AGENT_NOT_FOUND)

    async def authenticate(self, token: str) -> Account:
        """The account a bearer credential (am_ key or pt_ session token) belongs to."""
        token_hash = hash_secret(token)
        cached = self._auth_cache.get(token_hash)
        now = self._rt.monotonic()
        if cached is not None and cached[1] > now:
            return cached[0]
        epoch = self._epoch
        found = await self._lookup(credential_for(token))
        if found is None:
            raise Unauthenticated("invalid or expired credentials", ErrorCode.INVALID_CREDENTIALS)
        account, valid_for_secs = found
        if epoch == self._epoch:
            ttl = min(self._rt.settings.auth_cache_ttl_secs, valid_for_secs)
            self._auth_cache[token_hash] = (account, now + ttl)
            self._cache_keys.setdefault(account.id, set()).add(token_hash)
        return account

    async def _lookup(self, credential: Credential) -> tuple[Account, float] | None:
        """The credential's account and how many more seconds it is valid (a session's
        expiry bounds how long it may be cached; a key is valid until revoked)."""
        if credential.is_session:
            now_us = self._rt.clock_us()
            session = await self._store.find_session(credential.token_hash, now_us=now_us)
            if session is None:
                return None
            account, expires_at_us = session
            return account, (expires_at_us - now_us) / 1_000_000
        keyed = await self._store.find_account_by_key(credential.token_hash)
        return None if keyed is None else (keyed, math.inf)

    async def is_current(self, account_id: AccountId, credential: Credential) -> bool:
        """Whether `credential` still authenticates `account_id`, asking the store (not the
        cache): for live connections after the bus may have lost a revocation."""
        found = await self._lookup(credential)
        return found is not None and found[0].id == account_id

    def _forget(self, account_id: AccountId) -> None:
        for token_hash in self._cache_keys.pop(account_id, set()):
            self._auth_cache.pop(token_hash, None)

    # --- revocation -------------------------------------------------------------------------
    def on_revocation(self, listener: Callable[[Revocation], None]) -> None:
        """Call `listener` (which must not block) for every revocation applied on this node:
        the hub ends the live connections it covers."""
        self._revocation_listeners.append(listener)

    def apply_revocation(self, revocation: Revocation) -> None:
        """A credential was revoked, on this node or another: forget it, end what it opened."""
        self._epoch += 1
        self._forget(revocation.account_id)
        for listener in self._revocation_listeners:
            listener(revocation)

    def forget_all(self) -> None:
        """Revocations may have been lost on the bus: nothing cached is trusted any more."""
        self._epoch += 1
        self._auth_cache.clear()
        self._cache_keys.clear()

    async def _revoke(self, revocation: Revocation) -> None:
        """After the store committed it: this node at once, the others over the bus (this
        node hears it again there; applying it twice is harmless)."""
        self.apply_revocation(revocation)
        try:
            await self._rt.bus.publish(REVOCATION_TOPIC, encode_revocation(revocation))
        except BusError:
            # The others' cached credentials still expire (auth_cache_ttl_secs), and their
            # live connections are re-checked against the store when their bus resyncs.
            log.warning(
                "could not tell other nodes that credentials of %s were revoked (%s)",
                revocation.account_id,
                revocation.scope.value,
            )

    async def recover(self, *, recovery_secret: str, agent_id: str | None) -> NewCredentials:
        """A new API key and a new recovery secret for the holder of the recovery secret; the
        old key and the old secret stop working, and so do the old key's live connections."""
        old_hash = hash_secret(recovery_secret)
        account = await self._store.find_account_by_recovery(old_hash)
        if account is None or (agent_id is not None and account.id != agent_id):
            raise Unauthenticated("unknown recovery secret", ErrorCode.INVALID_CREDENTIALS)
        api_key = self._secret(API_KEY_PREFIX)
        recovery = self._secret(RECOVERY_SECRET_PREFIX)
        recovered = await self._store.recover(
            old_hash,
            key_hash=hash_secret(api_key),
            new_recovery_hash=hash_secret(recovery),
            now_us=self._rt.clock_us(),
        )
        if recovered is None:  # another recovery with the same secret won the race
            raise Unauthenticated("unknown recovery secret", ErrorCode.INVALID_CREDENTIALS)
        await self._revoke(Revocation(account.id, Scope.KEYS))
        return NewCredentials(recovered, api_key, recovery)

    async def rotate_key(self, account: Account) -> str:
        """A new API key; the old one and every connection it opened stop at once."""
        if account.kind is not AccountKind.AGENT:
            raise Invalid("only agents have API keys")
        api_key = self._secret(API_KEY_PREFIX)
        await self._store.set_api_key(account.id, hash_secret(api_key), now_us=self._rt.clock_us())
        await self._revoke(Revocation(account.id, Scope.KEYS))
        return api_key

    async def rotate_recovery_secret(self, account: Account, *, current: str) -> str:
        """A new recovery secret for an agent that shows its current one too: the key alone
        must not do, or a stolen key could lock the owner out of recovery."""
        if account.kind is not AccountKind.AGENT:
            raise Invalid("only agents have recovery secrets")
        recovery = self._secret(RECOVERY_SECRET_PREFIX)
        changed = await self._store.set_recovery_hash(
            account.id, hash_secret(current), hash_secret(recovery), now_us=self._rt.clock_us()
        )
        if not changed:
            raise Unauthenticated("wrong recovery secret", ErrorCode.INVALID_CREDENTIALS)
        return recovery

    async def update_profile(self, account: Account, changes: ProfileChanges) -> Account:
        checked = ProfileChanges(
            display_name=None
            if changes.display_name is None
            else rules.validate_display_name(changes.display_name),
            bio=None if changes.bio is None else rules.validate_bio(changes.bio),
            avatar_url=None
            if changes.avatar_url is None
            else rules.validate_avatar_url(changes.avatar_url),
            capabilities=None
            if changes.capabilities is None
            else rules.validate_capabilities(list(changes.capabilities)),
        )
        updated = await self._store.update_profile(account.id, checked, now_us=self._rt.clock_us())
        # Every node's cached copy of the account (its credential cache) is now stale: the
        # display name would otherwise travel with messages sent through another node.
        await self._revoke(Revocation(account.id, Scope.PROFILE))
        return updated

    async def delete(self, account: Account) -> None:
        await self._store.delete_account(account.id, now_us=self._rt.clock_us())
        await self._revoke(Revocation(account.id, Scope.ALL))

    async def get(self, raw_id: str) -> Account:
        account_id = parse_account_id(raw_id)
        account = await self._store.get_account(account_id) if account_id else None
        if account is None:
            raise NotFound(f"no account with id {raw_id[:32]!r}", ErrorCode.AGENT_NOT_FOUND)
        return account

    async def search(self, query: str, *, limit: int) -> list[Account]:
        text = query.strip()
        if not 1 <= len(text) <= SEARCH_QUERY_MAX_CHARS:
            raise Invalid(f"q must be 1-{SEARCH_QUERY_MAX_CHARS} characters")
        if any(unicodedata.category(ch) == "Cc" for ch in text):  # LIKE stops at a NUL
            raise Invalid("q may not contain control characters")
        return await self._store.search_accounts(text, limit=min(max(limit, 1), SEARCH_MAX_RESULTS))

    # --- humans ---------------------------------------------------------------------------
    async def register_human(
        self, *, display_name: str, password: str, bio: str, email: str | None = None
    ) -> Session:
        """A human account and its first session; `email` (from /studio registration) is
        stored lower-cased and is unique (Conflict email_taken)."""
        name = rules.validate_display_name(display_name)
        checked_email = None if email is None else rules.validate_email(email)
        password_hash = await asyncio.to_thread(
            _password_hasher.hash, rules.validate_password(password)
        )
        new = NewAccount(
            kind=AccountKind.HUMAN,
            display_name=name,
            bio=rules.validate_bio(bio),
            key_hash=None,
            recovery_hash=None,
            password_hash=password_hash,
            now_us=self._rt.clock_us(),
        )
        if checked_email is None:
            account = await self._store.create_account(new)
        else:
            account = await self._store.create_account_with_email(new, checked_email)
        return await self._new_session(account)

    async def email_of(self, account: Account) -> str | None:
        return await self._store.account_email(account.id)

    async def login_human(self, *, name_or_id: str, password: str) -> Session:
        found = await self._store.find_human_by_name(name_or_id)
        if found is None and parse_account_id(name_or_id):
            account = await self._store.get_account(AccountId(name_or_id))
            if account is not None and account.kind is AccountKind.HUMAN:
                found = await self._store.find_human_by_name(account.display_name)
        stored_hash = found[1] if found else DUMMY_PASSWORD_HASH
        ok = await asyncio.to_thread(_verify_password, stored_hash, password)
        if found is None or not ok:
            raise Unauthenticated("wrong name or password", ErrorCode.INVALID_CREDENTIALS)
        return await self._new_session(found[0])

    async def _new_session(self, account: Account) -> Session:
        token = self._secret(SESSION_TOKEN_PREFIX)
        now = self._rt.clock_us()
        expires = now + int(self._rt.settings.session_ttl_hours * 3600 * 1_000_000)
        await self._store.create_session(
            hash_secret(token), account.id, now_us=now, expires_at_us=expires
        )
        return Session(account, token, expires)

    async def sessions(self, account: Account) -> list[SessionInfo]:
        return await self._store.list_sessions(account.id, now_us=self._rt.clock_us())

    async def revoke_session(self, account: Account, raw_id: str) -> None:
        """End one of the account's sessions and the live connections its token opened."""
        prefix = session_hash_prefix(raw_id)
        ended = await self._store.delete_sessions(account.id, prefix) if prefix else []
        if not ended:
            raise NotFound(f"no session with id {raw_id[:32]!r}", ErrorCode.SESSION_NOT_FOUND)
        for token_hash in ended:
            await self._revoke(Revocation(account.id, Scope.SESSION, token_hash))

    async def logout(self, account: Account, token: str) -> None:
        """End the session of `token`, which must be a session token."""
        credential = credential_for(token)
        if not credential.is_session:
            raise Invalid(
                "logout ends a session token (pt_…);"
                " replace an API key with POST /v1/agents/me/rotate-key"
            )
        for token_hash in await self._store.delete_sessions(account.id, credential.token_hash):
            await self._revoke(Revocation(account.id, Scope.SESSION, token_hash))


def _verify_password(stored_hash: str, password: str) -> bool:
    try:
        return _password_hasher.verify(stored_hash, password)
    except (VerificationError, InvalidHashError):
        return False
