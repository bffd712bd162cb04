"""Signed messages over the API (docs/signatures.md): keys at /v1/agents/me/public-key, signed
sends on /v1/messages and group sends, what recipients get over pending, WS and sync."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import httpx
import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from tests.api.helpers import assert_error, pending, post_message, sync
from tests.conftest import register, unique_name
from tests.realtime.test_websocket import messages_until, open_ws, wait_live
from tests.server import ServerProcess

if TYPE_CHECKING:  # imported at run time pytest would try to collect it as a test class
    from tests.conftest import TestAgent

KEY_PATH = "/v1/agents/me/public-key"


def new_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def pem_of(key: ec.EllipticCurvePrivateKey) -> str:
    return (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )


def sign(key: ec.EllipticCurvePrivateKey, body: str) -> str:
    """What a client does: DER ECDSA P-256 / SHA-256 over the body's UTF-8 bytes, as hex."""
    return key.sign(body.encode("utf-8"), ec.ECDSA(hashes.SHA256())).hex()


async def register_key(
    client: httpx.AsyncClient, agent: TestAgent, key: ec.EllipticCurvePrivateKey
) -> None:
    response = await client.put(KEY_PATH, headers=agent.headers, json={"public_key": pem_of(key)})
    assert response.status_code == 200, response.text
    assert response.json()["public_key"] == pem_of(key)


def assert_verified(message: dict[str, Any], signature: str, pem: str) -> None:
    assert message["signature"] == signature
    assert message["signature_verified"] is True
    assert message["sender_public_key"] == pem


# --- keys ------------------------------------------------------------------------------------


async def test_key_lifecycle(client: httpx.AsyncClient, alice: TestAgent, bob: TestAgent) -> None:
    assert_error(await client.get(KEY_PATH, headers=alice.headers), 404, "public_key_not_found")
    profile = (await client.get(f"/v1/agents/{alice.id}")).json()
    assert profile["public_key"] is None

    key = new_key()
    await register_key(client, alice, key)
    got = (await client.get(KEY_PATH, headers=alice.headers)).json()
    assert got == {
        "agent_id": alice.id,
        "public_key": pem_of(key),
        "algorithm": "ECDSA-P256-SHA256",
    }
    assert (await client.get(f"/v1/agents/{alice.id}")).json()["public_key"] == pem_of(key)
    me = (await client.get("/v1/agents/me", headers=alice.headers)).json()
    assert me["public_key"] == pem_of(key)

    # POST is the same as PUT, and replaces the key.
    second = new_key()
    response = await client.post(
        KEY_PATH, headers=alice.headers, json={"public_key": pem_of(second)}
    )
    assert response.status_code == 200, response.text
    assert (await client.get(KEY_PATH, headers=alice.headers)).json()["public_key"] == pem_of(
        second
    )

    # Bob's key calls change only Bob's key.
    await register_key(client, bob, key)
    assert (await client.get(KEY_PATH, headers=alice.headers)).json()["public_key"] == pem_of(
        second
    )
    assert (await client.delete(KEY_PATH, headers=bob.headers)).status_code == 204
    assert (await client.get(KEY_PATH, headers=alice.headers)).status_code == 200

    assert (await client.delete(KEY_PATH, headers=alice.headers)).status_code == 204
    assert_error(await client.delete(KEY_PATH, headers=alice.headers), 404, "public_key_not_found")
    assert_error(await client.get(KEY_PATH, headers=alice.headers), 404, "public_key_not_found")


async def test_key_needs_credentials(client: httpx.AsyncClient) -> None:
    pem = pem_of(new_key())
    assert_error(await client.put(KEY_PATH, json={"public_key": pem}), 401)
    response = await client.put(
        KEY_PATH, headers={"Authorization": "Bearer am_nope"}, json={"public_key": pem}
    )
    assert_error(response, 401, "invalid_credentials")


def _rsa_pem() -> str:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )


@pytest.mark.parametrize(
    ("public_key", "code"),
    [
        ("not a key", "invalid_public_key"),
        ("", "invalid_public_key"),
        ("-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n", "invalid_public_key"),
        ("P384", "invalid_public_key"),
        ("RSA", "invalid_public_key"),
        ("x" * 4097, "validation_error"),
        (5, "validation_error"),
        (None, "validation_error"),
    ],
)
async def test_bad_keys_are_refused(
    client: httpx.AsyncClient, alice: TestAgent, public_key: Any, code: str
) -> None:
    if public_key == "P384":
        public_key = pem_of(ec.generate_private_key(ec.SECP384R1()))
    elif public_key == "RSA":
        public_key = _rsa_pem()
    response = await client.put(KEY_PATH, headers=alice.headers, json={"public_key": public_key})
    assert_error(response, 400, code)
    assert_error(await client.get(KEY_PATH, headers=alice.headers), 404)


# --- signed sends ----------------------------------------------------------------------------


async def test_signed_dm_is_delivered_verified_everywhere(
    client: httpx.AsyncClient, server: ServerProcess, alice: TestAgent, bob: TestAgent
) -> None:
    key = new_key()
    await register_key(client, alice, key)
    body = "你好! signed 🤖"
    signature = sign(key, body)
    async with open_ws(server, bob) as ws:
        await wait_live(ws)
        response = await post_message(client, alice, bob.id, body, signature=signature)
        assert response.status_code == 201, response.text
        assert_verified(response.json(), signature, pem_of(key))
        live = (await messages_until(ws, body))[-1]
    assert_verified(live, signature, pem_of(key))
    [waiting] = [m for m in await pending(client, bob) if m["id"] == response.json()["id"]]
    assert_verified(waiting, signature, pem_of(key))
    synced = [m for m in (await sync(client, bob))["messages"] if m["content"]["body"] == body]
    assert_verified(synced[0], signature, pem_of(key))
    # The recipient can check it again with the key it was given.
    loaded = serialization.load_pem_public_key(waiting["sender_public_key"].encode())
    assert isinstance(loaded, ec.EllipticCurvePublicKey)
    loaded.verify(bytes.fromhex(waiting["signature"]), body.encode(), ec.ECDSA(hashes.SHA256()))


async def test_unsigned_messages_carry_no_signature_fields(
    client: httpx.AsyncClient, alice: TestAgent, bob: TestAgent
) -> None:
    await register_key(client, alice, new_key())
    response = await post_message(client, alice, bob.id, "plain")
    assert response.status_code == 201, response.text
    for message in [response.json(), *(await pending(client, bob))]:
        assert "signature" not in message
        assert "signature_verified" not in message


async def test_key_change_keeps_the_key_a_message_was_verified_with(
    client: httpx.AsyncClient, alice: TestAgent, bob: TestAgent
) -> None:
    first = new_key()
    await register_key(client, alice, first)
    signature = sign(first, "before the change")
    response = await post_message(client, alice, bob.id, "before the change", signature=signature)
    assert response.status_code == 201, response.text
    await register_key(client, alice, new_key())
    assert (await client.delete(KEY_PATH, headers=alice.headers)).status_code == 204
    [message] = await pending(client, bob)
    assert_verified(message, signature, pem_of(first))


async def test_signed_json_body_signs_the_string_as_sent(
    client: httpx.AsyncClient, alice: TestAgent, bob: TestAgent
) -> None:
    key = new_key()
    await register_key(client, alice, key)
    body = '{"b": 2,  "a": [1, "x"]}'  # spacing and key order are kept: the bytes are signed
    response = await client.post(
        "/v1/messages",
        headers=alice.headers,
        json={
            "to": bob.id,
            "content": {"format": "json", "body": body},
            "signature": sign(key, body),
        },
    )
    assert response.status_code == 201, response.text
    assert response.json()["content"]["body"] == body
    # A dict body is re-serialised by the server, so its signature (over other bytes) fails.
    as_object = json.loads(body)
    response = await client.post(
        "/v1/messages",
        headers=alice.headers,
        json={
            "to": bob.id,
            "content": {"format": "json", "body": as_object},
            "signature": sign(key, body),
        },
    )
    assert_error(response, 400, "invalid_signature")


@pytest.mark.parametrize(
    "mangle",
    [
        pytest.param(lambda s: s[:-2] + format(int(s[-2:], 16) ^ 1, "02x"), id="tampered"),
        pytest.param(lambda s: "zz" + s[2:], id="not-hex"),
        pytest.param(lambda s: s[:-1], id="odd-length"),
        pytest.param(lambda s: "", id="empty"),
        pytest.param(lambda s: "30" * 80, id="too-long"),
        pytest.param(lambda s: "3006020101020101", id="garbage-der"),
        pytest.param(lambda s: s[:10] + " " + s[10:], id="space"),
    ],
)
async def test_bad_signatures_are_refused(
    client: httpx.AsyncClient, server: ServerProcess, alice: TestAgent, bob: TestAgent, mangle: Any
) -> None:
    key = new_key()
    await register_key(client, alice, key)
    signature = mangle(sign(key, "hello"))
    response = await post_message(client, alice, bob.id, "hello", signature=signature)
    assert_error(response, 400, "invalid_signature")
    assert await pending(client, bob) == []


async def test_signature_over_other_body_or_with_other_key_is_refused(
    client: httpx.AsyncClient, alice: TestAgent, bob: TestAgent
) -> None:
    key = new_key()
    await register_key(client, alice, key)
    response = await post_message(client, alice, bob.id, "pay 1000", signature=sign(key, "pay 10"))
    assert_error(response, 400, "invalid_signature")
    response = await post_message(client, alice, bob.id, "hi", signature=sign(new_key(), "hi"))
    assert_error(response, 400, "invalid_signature")
    # Bob's key does not sign for Alice.
    bobs = new_key()
    await register_key(client, bob, bobs)
    response = await post_message(client, alice, bob.id, "hi", signature=sign(bobs, "hi"))
    assert_error(response, 400, "invalid_signature")


async def test_signature_without_a_key_is_refused(
    client: httpx.AsyncClient, alice: TestAgent, bob: TestAgent
) -> None:
    response = await post_message(client, alice, bob.id, "hi", signature=sign(new_key(), "hi"))
    assert_error(response, 400, "no_public_key")
    response = await post_message(client, alice, bob.id, "hi", signature=123)
    assert_error(response, 400, "validation_error")


async def test_signed_group_message(
    client: httpx.AsyncClient, alice: TestAgent, bob: TestAgent
) -> None:
    key = new_key()
    await register_key(client, alice, key)
    created = await client.post(
        "/v1/groups",
        headers=alice.headers,
        json={"name": unique_name("signed"), "members": [bob.id]},
    )
    assert created.status_code == 201, created.text
    group = created.json()["id"]
    body = "signed to the group"
    signature = sign(key, body)
    response = await client.post(
        f"/v1/groups/{group}/messages",
        headers=alice.headers,
        json={"content": {"format": "text", "body": body}, "signature": signature},
    )
    assert response.status_code == 201, response.text
    assert_verified(response.json(), signature, pem_of(key))
    [message] = [m for m in await pending(client, bob) if m.get("group_id") == group]
    assert_verified(message, signature, pem_of(key))
    history = await client.get(f"/v1/groups/{group}/messages", headers=bob.headers)
    assert_verified(history.json()["messages"][0], signature, pem_of(key))
    response = await client.post(
        f"/v1/groups/{group}/messages",
        headers=alice.headers,
        json={"content": {"format": "text", "body": "x"}, "signature": signature},
    )
    assert_error(response, 400, "invalid_signature")


async def test_idempotent_replay_of_a_signed_send(
    client: httpx.AsyncClient, alice: TestAgent
) -> None:
    carol = await register(client, unique_name("carol"))
    key = new_key()
    await register_key(client, alice, key)
    signature = sign(key, "once")
    headers = {**alice.headers, "Idempotency-Key": "signed-1"}
    payload = {
        "to": carol.id,
        "content": {"format": "text", "body": "once"},
        "signature": signature,
    }
    first = await client.post("/v1/messages", headers=headers, json=payload)
    again = await client.post("/v1/messages", headers=headers, json=payload)
    assert (first.status_code, again.status_code) == (201, 200)
    assert_verified(again.json(), signature, pem_of(key))
    assert len(await pending(client, carol)) == 1
