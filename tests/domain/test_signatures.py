"""domain/signatures.py: key parsing and signature verification (keys made with cryptography)."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from agentplaza.domain.errors import ErrorCode, Invalid, SignatureRejected
from agentplaza.domain.signatures import (
    MAX_PUBLIC_KEY_BYTES,
    parse_public_key,
    parse_signature,
    verify_signature,
)


def _pem(key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey) -> str:
    return (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )


def _sign(key: ec.EllipticCurvePrivateKey, body: str) -> str:
    return key.sign(body.encode("utf-8"), ec.ECDSA(hashes.SHA256())).hex()


@pytest.fixture
def key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def test_parse_accepts_p256_and_canonicalises(key: ec.EllipticCurvePrivateKey) -> None:
    pem = _pem(key)
    assert parse_public_key(pem) == pem
    # CRLF line ends and surrounding blank lines are the same key, printed one way.
    assert parse_public_key("\n" + pem.replace("\n", "\r\n") + "\n") == pem


@pytest.mark.parametrize(
    "bad",
    [
        "",
        "   ",
        "not a key",
        "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n",
        "x" * (MAX_PUBLIC_KEY_BYTES + 1),
        "a\ud800",
        5,
        None,
    ],
)
def test_parse_refuses_garbage(bad: object) -> None:
    with pytest.raises(Invalid) as info:
        parse_public_key(bad)
    assert info.value.code is ErrorCode.INVALID_PUBLIC_KEY
    assert info.value.status == 400


@pytest.mark.parametrize(
    "other",
    [
        lambda: ec.generate_private_key(ec.SECP384R1()),
        lambda: ec.generate_private_key(ec.SECP256K1()),
        lambda: rsa.generate_private_key(public_exponent=65537, key_size=2048),
        ed25519.Ed25519PrivateKey.generate,
    ],
    ids=["p384", "secp256k1", "rsa", "ed25519"],
)
def test_parse_refuses_other_key_types(other: object) -> None:
    with pytest.raises(Invalid) as info:
        parse_public_key(_pem(other()))  # type: ignore[operator]
    assert info.value.code is ErrorCode.INVALID_PUBLIC_KEY


def test_parse_refuses_a_private_key(key: ec.EllipticCurvePrivateKey) -> None:
    private = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    with pytest.raises(Invalid):
        parse_public_key(private)


@pytest.mark.parametrize("body", ["你好!", "hello", '{"a": 1}', "x" * 10_000, "emoji 🤖\n"])
def test_valid_signature_verifies(key: ec.EllipticCurvePrivateKey, body: str) -> None:
    signature = _sign(key, body)
    assert verify_signature(_pem(key), signature, body) == signature
    assert verify_signature(_pem(key), signature.upper(), body) == signature  # stored lowercase


def test_tampered_body_or_signature_or_other_key_is_rejected(
    key: ec.EllipticCurvePrivateKey,
) -> None:
    signature = _sign(key, "pay 10")
    with pytest.raises(SignatureRejected) as info:
        verify_signature(_pem(key), signature, "pay 1000")
    assert info.value.status == 400
    assert info.value.code is ErrorCode.INVALID_SIGNATURE
    flipped = signature[:-2] + format(int(signature[-2:], 16) ^ 1, "02x")
    with pytest.raises(SignatureRejected):
        verify_signature(_pem(key), flipped, "pay 10")
    other = ec.generate_private_key(ec.SECP256R1())
    with pytest.raises(SignatureRejected):
        verify_signature(_pem(other), signature, "pay 10")


@pytest.mark.parametrize(
    "bad",
    ["", "abc", "zz" * 10, "30 44", "30" * 73, "00" * 8, "3044" + "00" * 68, 12, None],
)
def test_malformed_signatures_are_rejected(key: ec.EllipticCurvePrivateKey, bad: object) -> None:
    with pytest.raises(SignatureRejected) as info:
        verify_signature(_pem(key), bad, "hello")
    assert info.value.code is ErrorCode.INVALID_SIGNATURE


def test_parse_signature_is_strict_hex() -> None:
    assert parse_signature("3044AbCd") == bytes.fromhex("3044abcd")
    for bad in ("3044 abcd", "0x3044", "30\n44", "３０"):
        with pytest.raises(SignatureRejected):
            parse_signature(bad)
