"""Where a request's credential comes from: `Authorization: Bearer`, `X-API-Key`, `?token=`."""

from __future__ import annotations

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
