"""Provider API keys at rest: AES-256-GCM under a server secret, with key ids for rotation.

A sealed value is `v1.<key id>.<base64url(nonce ‖ ciphertext ‖ tag)>`: the key id (the first
8 hex digits of a SHA-256 of the key) says which secret opens it, so old values keep opening
under `llm_previous_secret_keys` while `agentplaza providers reseal` rewrites them under the
current one. The associated data binds a value to its row (the provider id): a sealed key
copied into another provider's row does not open there.

The current secret comes from the setting `llm_secret_key` (base64 of 32 bytes) or else from
`<data_dir>/llm-secret.key`, generated (mode 0600) on the first start. Nodes sharing one
PostgreSQL database must share the secret: set `llm_secret_key` on each (docs/studio.md).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import logging
import os
from collections.abc import Sequence
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

log = logging.getLogger(__name__)

KEY_BYTES = 32
NONCE_BYTES = 12
VERSION = "v1"
KEY_FILE_NAME = "llm-secret.key"


class SealError(Exception):
    """A value cannot be opened: sealed under a secret this node lacks, or altered."""


def key_id(key: bytes) -> str:
    return hashlib.sha256(b"agentplaza llm key id\x00" + key).hexdigest()[:8]


def parse_key(text: str, what: str) -> bytes:
    """A secret given as base64 (standard or url-safe, padding optional) of 32 bytes."""
    raw = text.strip()
    try:
        key = base64.b64decode(raw + "=" * (-len(raw) % 4), altchars=b"-_", validate=False)
    except (binascii.Error, ValueError):
        raise ValueError(f"{what} is not base64") from None
    if len(key) != KEY_BYTES:
        raise ValueError(f"{what} must be the base64 of {KEY_BYTES} random bytes")
    return key


def new_key_text() -> str:
    """A fresh secret as the setting expects it."""
    return base64.b64encode(os.urandom(KEY_BYTES)).decode()


class Sealer:
    """Seals under the current key; opens under the current or any previous key."""

    def __init__(self, current: bytes, previous: Sequence[bytes] = ()) -> None:
        self._current_id = key_id(current)
        self._current = AESGCM(current)
        self._keys = {key_id(k): AESGCM(k) for k in previous}
        self._keys[self._current_id] = self._current

    @property
    def current_key_id(self) -> str:
        return self._current_id

    def seal(self, plaintext: str, *, context: str) -> str:
        nonce = os.urandom(NONCE_BYTES)
        box = self._current.encrypt(nonce, plaintext.encode(), context.encode())
        body = base64.urlsafe_b64encode(nonce + box).decode().rstrip("=")
        return f"{VERSION}.{self._current_id}.{body}"

    def open(self, sealed: str, *, context: str) -> str:
        version, _, rest = sealed.partition(".")
        kid, _, body = rest.partition(".")
        if version != VERSION or not body:
            raise SealError("not a sealed value")
        aead = self._keys.get(kid)
        if aead is None:
            raise SealError(
                f"sealed under secret {kid}, which this node does not have"
                " (set llm_secret_key, or list the old secret in llm_previous_secret_keys)"
            )
        try:
            blob = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
            return aead.decrypt(blob[:NONCE_BYTES], blob[NONCE_BYTES:], context.encode()).decode()
        except (InvalidTag, ValueError, binascii.Error):
            raise SealError(f"sealed value does not open under secret {kid}") from None

    def is_current(self, sealed: str) -> bool:
        return sealed.startswith(f"{VERSION}.{self._current_id}.")


def load_sealer(
    *, secret_key: str, previous_keys: str, data_dir: str, shared_database: bool
) -> Sealer:
    """The sealer of this node's settings. Raises ValueError for a malformed setting.

    Without `secret_key`, the secret is read from (or created in) the data dir; on a shared
    database that is only right for a single node, so it is said in the log.
    """
    previous = [
        parse_key(text, "llm_previous_secret_keys entry")
        for text in previous_keys.split(",")
        if text.strip()
    ]
    if secret_key.strip():
        return Sealer(parse_key(secret_key, "llm_secret_key"), previous)
    path = Path(data_dir) / KEY_FILE_NAME
    current = _read_or_create(path)
    if shared_database:
        log.warning(
            "llm_secret_key is not set: provider API keys are sealed with %s, which other"
            " nodes of this PostgreSQL database do not have; set llm_secret_key on every node",
            path,
        )
    return Sealer(current, previous)


def _read_or_create(path: Path) -> bytes:
    """The secret in `path`, created first if there is none. Written to a private temporary
    file and linked into place, so a worker racing this one reads a whole secret or none."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(new_key_text() + "\n")
            fh.flush()
            os.fsync(fh.fileno())
        try:
            os.link(temporary, path)
            log.info("generated the provider key secret %s (back it up with the database)", path)
        except FileExistsError:
            pass  # another worker of this node won: use its secret
        finally:
            temporary.unlink(missing_ok=True)
    return parse_key(path.read_text(), str(path))
