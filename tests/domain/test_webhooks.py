"""The webhook rules: SSRF policy, secret, signature, retry schedule."""

from __future__ import annotations

import hashlib
import hmac
import ipaddress

import pytest

from agentplaza.domain.errors import Invalid
from agentplaza.domain.ids import AccountId, MessageId, ThreadId
from agentplaza.domain.messages import (
    DeliveryContext,
    InboxItem,
    Message,
    MessageFormat,
    MessageType,
    Scene,
)
from agentplaza.domain.webhooks import (
    ai_payload,
    backoff_cap_secs,
    check_resolved,
    new_secret,
    parse_events,
    parse_webhook_url,
    refused_address,
    retry_delay_secs,
    sign,
)

REFUSED_URLS = [
    "http://127.0.0.1/hook",
    "http://127.1.2.3:8080/hook",
    "http://localhost/hook",
    "http://api.localhost/hook",
    "http://[::1]/hook",
    "http://10.0.0.5/hook",
    "http://172.16.3.4/hook",
    "http://192.168.1.1/hook",
    "http://169.254.169.254/latest/meta-data/",
    "http://metadata.google.internal/computeMetadata/v1/",
    "http://100.64.0.1/hook",
    "http://0.0.0.0/hook",
    "http://[::]/hook",
    "http://[::ffff:127.0.0.1]/hook",
    "http://[::ffff:10.0.0.1]/hook",
    "http://[fe80::1]/hook",
    "http://[fc00::1]/hook",
    "http://224.0.0.1/hook",
    "http://240.0.0.1/hook",
    "ftp://example.com/hook",
    "file:///etc/passwd",
    "gopher://example.com/",
    "https://user:pw@example.com/hook",
    "https://user@example.com/hook",
    "http:///nohost",
]


@pytest.mark.parametrize("url", REFUSED_URLS)
def test_internal_and_odd_urls_are_refused(url: str) -> None:
    with pytest.raises(Invalid) as info:
        parse_webhook_url(url, allow_private=False)
    assert info.value.code.value == "webhook_url_refused"


@pytest.mark.parametrize("url", ["https://example.com/hook", "http://93.184.216.34:8080/x?y=1"])
def test_public_urls_pass(url: str) -> None:
    assert parse_webhook_url(url, allow_private=False).url == url


def test_allow_private_lets_loopback_through() -> None:
    checked = parse_webhook_url("http://127.0.0.1:9000/hook", allow_private=True)
    assert (checked.host, checked.port) == ("127.0.0.1", 9000)


@pytest.mark.parametrize("raw", ["", "   ", 5, None, "http://exa mple.com/", "x" * 3000])
def test_malformed_urls_are_invalid(raw: object) -> None:
    with pytest.raises(Invalid):
        parse_webhook_url(raw, allow_private=True)


@pytest.mark.parametrize(
    "address",
    ["127.0.0.1", "10.1.1.1", "169.254.169.254", "100.100.100.200", "::ffff:192.168.0.1",
     "2002:7f00:1::", "fd00:ec2::254", "100.127.255.255"],
)  # fmt: skip
def test_refused_addresses(address: str) -> None:
    assert refused_address(ipaddress.ip_address(address))


@pytest.mark.parametrize("address", ["93.184.216.34", "8.8.8.8", "2606:4700:4700::1111"])
def test_public_addresses(address: str) -> None:
    assert not refused_address(ipaddress.ip_address(address))


def test_a_host_with_any_private_answer_is_refused() -> None:
    check_resolved("example.com", ["93.184.216.34"])
    with pytest.raises(Invalid):
        check_resolved("rebind.example", ["93.184.216.34", "127.0.0.1"])
    with pytest.raises(Invalid):
        check_resolved("nothing.example", [])


def test_secret_format() -> None:
    secret = new_secret(bytes(range(32)))
    assert secret.startswith("whsec_")
    assert len(secret) == len("whsec_") + 43
    assert "=" not in secret


def test_signature_is_the_sdk_formula() -> None:
    body = b'{"id":"m1"}'
    expected = hmac.new(b"whsec_k", b"1700000000." + body, hashlib.sha256).hexdigest()
    assert sign("whsec_k", 1700000000, body) == expected


def test_backoff_grows_and_is_capped() -> None:
    caps = [backoff_cap_secs(n, base=1, maximum=60) for n in range(1, 10)]
    assert caps[:6] == [1, 2, 4, 8, 16, 32]
    assert max(caps) == 60
    assert backoff_cap_secs(10_000, base=1, maximum=60) == 60
    assert retry_delay_secs(3, base=1, maximum=60, unit_random=0.5) == 2
    assert retry_delay_secs(3, base=1, maximum=60, unit_random=0.0) == 0


def test_events() -> None:
    assert parse_events(None) == ("message.created",)
    assert parse_events(["message.created", "message.created"]) == ("message.created",)
    with pytest.raises(Invalid):
        parse_events(["nope"])
    with pytest.raises(Invalid):
        parse_events("message.created")


def test_the_ai_payload_of_a_signed_group_message() -> None:
    message = Message(
        id=MessageId("m_01HV0000000000000000000000"),
        sender_id=AccountId("10001"),
        recipient_id=None,
        thread_id=ThreadId("0b5c1f6e-3c1a-4c59-9a39-4d3c2c6c9f01"),
        reply_to=None,
        type=MessageType.EVENT,
        format=MessageFormat.TEXT,
        body="大家好!",
        created_at_us=1_800_000_000_999_999,
        signature="3045",
        signer_public_key="-----BEGIN PUBLIC KEY-----",
    )
    context = DeliveryContext(
        recipient_id=AccountId("10002"),
        scene=Scene.GROUP,
        sender_relation="stranger",
        trust_level="minimal",
    )
    payload = ai_payload(InboxItem(message=message, context=context, seq=3, acked=False), 1_800)
    assert payload == {
        "type": "message",
        "message": {
            "id": message.id,
            "from_ai_id": "10001",
            "content": "大家好!",
            "timestamp": 1_800_000_000,
            "group_id": message.thread_id,
            "signature": "3045",
            "sender_public_key": "-----BEGIN PUBLIC KEY-----",
        },
        "seq": 3,
        "timestamp": 1_800,
    }
