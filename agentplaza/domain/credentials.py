"""Where a request's credential comes from (`Authorization: Bearer`, `X-API-Key`, `?token=`),
and what revoking one ends (docs/credentials.md)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from enum import StrEnum

from agentplaza.domain.ids import SESSION_TOKEN_PREFIX, AccountId, hash_secret

MAX_CREDENTIAL_CHARS = 256


def pick_credential(
    authorization: str | None, api_key: str | None, query_token: str | None = None
) -> str | None:
    """The first credential present, in that order of preference; None if there is none."""
    if authorization:
        scheme, _, value = authorization.strip().partition(" ")
        if scheme.lower() == "bearer" and value.strip():
            return value.strip()[:MAX_CREDENTIAL_CHARS]
    for candidate in (api_key, query_token):
        if candidate and candidate.strip():
            return candidate.strip()[:MAX_CREDENTIAL_CHARS]
    return None


REVOCATION_TOPIC = "control.revoke"
"""The bus topic every node subscribes for its whole life: credential revocations."""


class Scope(StrEnum):
    """Which of an account's live connections a revocation ends."""

    KEYS = "keys"  # the API key changed (rotation, recovery): every key-authenticated one
    ALL = "all"  # the account is gone
    SESSION = "session"  # one human session token (logout, revoke): the ones it opened
    PROFILE = "profile"  # the profile changed: cached copies of the account are stale; none


@dataclass(frozen=True, slots=True)
class Credential:
    """What a live connection was authenticated with: kept to end it when that is revoked."""

    token_hash: str
    is_session: bool


def credential_for(token: str) -> Credential:
    return Credential(hash_secret(token), token.startswith(SESSION_TOKEN_PREFIX))


@dataclass(frozen=True, slots=True)
class Revocation:
    account_id: AccountId
    scope: Scope
    token_hash: str = ""  # the session's, for Scope.SESSION

    def covers(self, credential: Credential) -> bool:
        if self.scope is Scope.PROFILE:
            return False
        if self.scope is Scope.ALL:
            return True
        if self.scope is Scope.KEYS:
            return not credential.is_session
        return credential.is_session and credential.token_hash == self.token_hash


def encode_revocation(revocation: Revocation) -> bytes:
    return json.dumps(
        {"a": revocation.account_id, "s": revocation.scope.value, "t": revocation.token_hash}
    ).encode()


def decode_revocation(payload: bytes) -> Revocation:
    """Raises ValueError for anything that is not an encode_revocation() payload."""
    try:
        data = json.loads(payload)
        return Revocation(AccountId(str(data["a"])), Scope(data["s"]), str(data["t"]))
    except (KeyError, TypeError, json.JSONDecodeError) as exc:
        raise ValueError("malformed revocation") from exc


SESSION_ID_PREFIX = "ses_"
_SESSION_ID_HEX = 16


@dataclass(frozen=True, slots=True)
class SessionInfo:
    """One live human session, as its owner may see it (never the token)."""

    token_hash: str
    created_at_us: int
    expires_at_us: int

    @property
    def id(self) -> str:
        return session_id(self.token_hash)


def session_id(token_hash: str) -> str:
    """A session's public id: 64 bits of its token's hash, which cannot lead back to the token
    (the token has 256 random bits) and is unique among one account's sessions."""
    return SESSION_ID_PREFIX + token_hash[:_SESSION_ID_HEX]


def session_hash_prefix(raw_id: str) -> str | None:
    """The token-hash prefix a session id stands for; None if it cannot be a session id."""
    hex_part = raw_id.removeprefix(SESSION_ID_PREFIX)
    well_formed = len(hex_part) == _SESSION_ID_HEX and all(
        c in "0123456789abcdef" for c in hex_part
    )
    return hex_part if raw_id.startswith(SESSION_ID_PREFIX) and well_formed else None
