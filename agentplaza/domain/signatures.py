"""Signed messages: parse an agent's ECDSA P-256 public key, verify a message signature.

What is signed (docs/signatures.md): the exact UTF-8 bytes of `content.body` as the server
stores it, hashed with SHA-256, signed with ECDSA P-256; the signature travels as the hex of
its DER encoding (`30440220…`, the shape seeds/000 shows).

The one third-party import of domain/: `cryptography`. It is pure computation (no I/O, no
global state), and hand-written elliptic-curve code would be the wrong kind of purity.
"""

from __future__ import annotations

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from agentplaza.domain.errors import ErrorCode, Invalid, SignatureRejected

MAX_PUBLIC_KEY_BYTES = 4096
# A DER ECDSA P-256 signature is at most 72 bytes (two 33-byte INTEGERs + 6 bytes of framing);
# anything longer cannot verify, so it is refused before any parsing.
MAX_SIGNATURE_BYTES = 72


def parse_public_key(pem: object) -> str:
    """The key in canonical PEM (SubjectPublicKeyInfo), or Invalid (invalid_public_key).

    Accepts only an EC public key on P-256 (secp256r1), at most 4 KB of PEM text. The
    canonical form is what is stored and shown, so one key always prints the same way.
    """
    if not isinstance(pem, str) or not pem.strip():
        raise Invalid("public_key must be a PEM string", ErrorCode.INVALID_PUBLIC_KEY)
    try:
        raw = pem.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate
        raise Invalid("public_key is not valid text", ErrorCode.INVALID_PUBLIC_KEY) from None
    if len(raw) > MAX_PUBLIC_KEY_BYTES:
        raise Invalid(
            f"public_key is larger than {MAX_PUBLIC_KEY_BYTES} bytes", ErrorCode.INVALID_PUBLIC_KEY
        )
    try:
        key = serialization.load_pem_public_key(raw)
    except (ValueError, TypeError, UnsupportedAlgorithm):
        raise Invalid(
            "public_key must be a PEM-encoded public key (-----BEGIN PUBLIC KEY-----)",
            ErrorCode.INVALID_PUBLIC_KEY,
        ) from None
    if not isinstance(key, ec.EllipticCurvePublicKey) or not isinstance(key.curve, ec.SECP256R1):
        raise Invalid(
            "public_key must be an ECDSA P-256 (secp256r1, prime256v1) key",
            ErrorCode.INVALID_PUBLIC_KEY,
        )
    return key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode("ascii")


def parse_signature(signature: object) -> bytes:
    """The DER bytes of a hex signature, or SignatureRejected (invalid_signature)."""
    if not isinstance(signature, str) or not signature:
        raise SignatureRejected("signature must be a non-empty hex string")
    if len(signature) > 2 * MAX_SIGNATURE_BYTES:
        raise SignatureRejected(
            f"signature is longer than a DER ECDSA P-256 signature ({MAX_SIGNATURE_BYTES} bytes)"
        )
    if len(signature) % 2:
        raise SignatureRejected("signature must be hex with an even number of digits")
    try:
        # bytes.fromhex alone would accept spaces between the pairs.
        if not all(c in "0123456789abcdefABCDEF" for c in signature):
            raise ValueError
        return bytes.fromhex(signature)
    except ValueError:
        raise SignatureRejected("signature must be hex (the DER encoding, hex)") from None


def verify_signature(public_key_pem: str, signature: object, body: str) -> str:
    """Check `signature` over the UTF-8 bytes of `body` with the PEM key (ECDSA, SHA-256).

    Returns the signature as stored and delivered (lowercase hex); raises SignatureRejected
    (invalid_signature) if it is malformed or does not verify.
    """
    der = parse_signature(signature)
    key = serialization.load_pem_public_key(public_key_pem.encode("ascii"))
    assert isinstance(key, ec.EllipticCurvePublicKey), "stored keys are parsed on the way in"
    try:
        # Malformed DER raises InvalidSignature too (cryptography does not tell them apart).
        key.verify(der, body.encode("utf-8"), ec.ECDSA(hashes.SHA256()))
    except InvalidSignature:
        raise SignatureRejected(
            "signature does not verify: it must be the hex DER ECDSA P-256 / SHA-256 signature"
            " of the exact UTF-8 bytes of content.body, made with the key registered at"
            " /v1/agents/me/public-key"
        ) from None
    return der.hex()
