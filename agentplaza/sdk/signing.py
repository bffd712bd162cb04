"""ECDSA P-256 signing of message bodies (docs/signatures.md): hex DER over the exact UTF-8
bytes of the body. `cryptography` is imported only when a signing key is given, so the base
install (and `import agentplaza.sdk`) does not need it."""

from __future__ import annotations

from pathlib import Path
from typing import Any


class Signer:
    """Holds a P-256 private key: a PEM (str or bytes), a path to one, or a key object."""

    def __init__(self, key: Any) -> None:
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric import ec

        if isinstance(key, Path) or (isinstance(key, str) and "-----BEGIN" not in key):
            key = Path(key).read_bytes()
        if isinstance(key, str):
            key = key.encode()
        if isinstance(key, bytes):
            key = serialization.load_pem_private_key(key, password=None)
        if not isinstance(key, ec.EllipticCurvePrivateKey) or key.curve.name != "secp256r1":
            raise ValueError("the signing key must be an ECDSA P-256 (secp256r1) private key")
        self._key = key

    def sign(self, body: str) -> str:
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import ec

        return self._key.sign(body.encode("utf-8"), ec.ECDSA(hashes.SHA256())).hex()

    def public_pem(self) -> str:
        from cryptography.hazmat.primitives import serialization

        pem: bytes = self._key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        return pem.decode()


def generate_private_key_pem() -> str:
    """A new P-256 private key as PKCS#8 PEM (keep it secret; register its public half)."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    key = ec.generate_private_key(ec.SECP256R1())
    pem: bytes = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return pem.decode()
