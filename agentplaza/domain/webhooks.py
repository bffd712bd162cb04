"""Webhook rules: which URLs may be registered and called (SSRF policy), the secret, the
signature and the retry schedule. Pure: DNS answers, time and randomness are passed in.
See docs/webhooks.md.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any
from urllib.parse import SplitResult, urlsplit

from agentplaza.domain.errors import ErrorCode, Invalid
from agentplaza.domain.ids import AccountId
from agentplaza.domain.messages import InboxItem, ai_message_fields

WEBHOOK_URL_MAX_CHARS = 2048
SECRET_PREFIX = "whsec_"
SECRET_RANDOM_BYTES = 32
EVENT_MESSAGE_CREATED = "message.created"
# Event names the legacy client may list (agentim-wire §11); only message.created is sent
# today: friend requests travel as messages of type friend_request.
KNOWN_EVENTS = frozenset({EVENT_MESSAGE_CREATED, "friend.request"})
LAST_ERROR_MAX_CHARS = 500

IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

# Ranges `is_private` & co. miss or that are internal by convention: CGNAT (shared address
# space, often an ISP's or a cloud's internal network), and the metadata endpoints of
# the big clouds, listed by address even though 169.254/16 is link-local already (so the
# rule survives a change in how `ipaddress` classifies them).
_EXTRA_REFUSED = (
    ipaddress.ip_network("100.64.0.0/10"),
    ipaddress.ip_network("0.0.0.0/8"),
    ipaddress.ip_network("169.254.169.254/32"),  # AWS, GCP, Azure, OpenStack
    ipaddress.ip_network("fd00:ec2::254/128"),  # AWS IMDS over IPv6
    ipaddress.ip_network("100.100.100.200/32"),  # Alibaba Cloud
)
_METADATA_HOSTS = frozenset({"metadata.google.internal", "metadata", "instance-data"})


class PayloadFormat(StrEnum):
    """What a delivery's body looks like: the delivered message object the agentim SDK
    reads (registered over /v1), or seeds/000's `{"type": "message", ...}` envelope
    (registered over /ai/webhook)."""

    AGENTIM = "agentim"
    AI = "ai"


@dataclass(frozen=True, slots=True, kw_only=True)
class Webhook:
    """An account's push endpoint, with its delivery counters (no secret: see `secret`)."""

    account_id: AccountId
    id: str
    url: str
    events: tuple[str, ...]
    active: bool
    created_at_us: int
    payload_format: PayloadFormat = PayloadFormat.AGENTIM
    delivered: int = 0
    failed: int = 0
    pending: int = 0
    last_error: str | None = None
    last_failure_at_us: int | None = None
    last_success_at_us: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class FailedDelivery:
    """An outbox row given up after the retry horizon."""

    delivery_id: int
    message_id: str
    seq: int
    attempts: int
    failed_at_us: int
    last_status: int | None
    last_error: str | None


@dataclass(frozen=True, slots=True, kw_only=True)
class Delivery:
    """A claimed outbox row: what to POST where. `item` is None when the message is gone
    (purged), which gives the row up."""

    id: int
    account_id: AccountId
    url: str
    secret: str
    attempts: int  # including the one about to be made
    created_at_us: int
    item: InboxItem | None
    payload_format: PayloadFormat = PayloadFormat.AGENTIM
    lease_ran_out: bool = False
    """Claimed again because an earlier claim's lease expired before its outcome was
    recorded: a crash, or an attempt still running on this node."""


@dataclass(frozen=True, slots=True)
class WebhookUrl:
    """A URL that passed the static checks; its host still has to resolve to public
    addresses (`refused_address`) before each use."""

    url: str
    host: str  # lower-case, without brackets for IPv6 literals
    port: int


def parse_webhook_url(raw: object, *, allow_private: bool) -> WebhookUrl:
    """Check what can be checked without DNS. Raises Invalid (webhook_url_refused or
    validation_error)."""
    if not isinstance(raw, str) or not raw.strip():
        raise Invalid("url must be a non-empty string", ErrorCode.VALIDATION_ERROR)
    url = raw.strip()
    if len(url) > WEBHOOK_URL_MAX_CHARS:
        raise Invalid(f"url longer than {WEBHOOK_URL_MAX_CHARS} characters")
    if any(ord(ch) < 0x21 or ord(ch) == 0x7F for ch in url):
        raise Invalid("url may not contain spaces or control characters")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise Invalid(f"url is not a valid URL: {exc}") from None
    if parts.scheme.lower() not in {"http", "https"}:
        raise Invalid("webhook url must be http:// or https://", ErrorCode.WEBHOOK_URL_REFUSED)
    if parts.username is not None or parts.password is not None or "@" in parts.netloc:
        raise Invalid("webhook url may not carry user:password@", ErrorCode.WEBHOOK_URL_REFUSED)
    host = (parts.hostname or "").rstrip(".").lower()
    if not host:
        raise Invalid("webhook url has no host", ErrorCode.WEBHOOK_URL_REFUSED)
    if not allow_private:
        if host in _METADATA_HOSTS or host == "localhost" or host.endswith(".localhost"):
            raise Invalid(f"webhook host {host!r} is internal", ErrorCode.WEBHOOK_URL_REFUSED)
        literal = _ip_literal(host)
        if literal is not None and refused_address(literal):
            raise Invalid(f"webhook address {host} is not public", ErrorCode.WEBHOOK_URL_REFUSED)
    return WebhookUrl(url=url, host=host, port=port or _default_port(parts))


def _default_port(parts: SplitResult) -> int:
    return 443 if parts.scheme.lower() == "https" else 80


def _ip_literal(host: str) -> IpAddress | None:
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None


def refused_address(address: IpAddress) -> bool:
    """True for every address a webhook may not reach: loopback, private, link-local,
    multicast, reserved, unspecified, CGNAT, cloud metadata, and IPv4-mapped/6to4/Teredo
    IPv6 forms of those."""
    if isinstance(address, ipaddress.IPv6Address):
        embedded = address.ipv4_mapped or address.sixtofour
        if embedded is None and address.teredo is not None:
            embedded = address.teredo[1]
        if embedded is not None and refused_address(embedded):
            return True
    if (
        address.is_loopback
        or address.is_private
        or address.is_link_local
        or address.is_multicast
        or address.is_reserved
        or address.is_unspecified
        or (isinstance(address, ipaddress.IPv6Address) and address.is_site_local)
    ):
        return True
    return any(address.version == net.version and address in net for net in _EXTRA_REFUSED)


def check_resolved(host: str, addresses: Iterable[str]) -> None:
    """Refuse a host when any address it resolves to is internal (not just the first: an
    attacker's DNS can answer with a public and a private address)."""
    found = False
    for text in addresses:
        found = True
        address = _ip_literal(text.split("%", 1)[0])  # drop an IPv6 zone id
        if address is None or refused_address(address):
            raise Invalid(
                f"webhook host {host!r} resolves to a non-public address",
                ErrorCode.WEBHOOK_URL_REFUSED,
            )
    if not found:
        raise Invalid(f"webhook host {host!r} does not resolve", ErrorCode.WEBHOOK_URL_REFUSED)


def parse_events(raw: object) -> tuple[str, ...]:
    """The legacy client's `events` list; absent means every event."""
    if raw is None:
        return (EVENT_MESSAGE_CREATED,)
    if not isinstance(raw, list) or not all(isinstance(e, str) for e in raw):
        raise Invalid("events must be a list of event names")
    unknown = sorted(set(raw) - KNOWN_EVENTS)
    if unknown:
        raise Invalid(f"unknown webhook events: {', '.join(unknown)[:200]}")
    return tuple(dict.fromkeys(raw)) or (EVENT_MESSAGE_CREATED,)


def new_secret(random_bytes: bytes) -> str:
    """`whsec_` + the url-safe base64 of 32 random bytes (the SDK signs with it as is)."""
    assert len(random_bytes) == SECRET_RANDOM_BYTES
    return SECRET_PREFIX + base64.urlsafe_b64encode(random_bytes).rstrip(b"=").decode()


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """agentim-wire §0.9: lowercase hex HMAC-SHA256 of `b"<ts>." + body`, keyed by the
    secret's UTF-8 bytes."""
    return hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()


def backoff_cap_secs(attempt: int, *, base: float, maximum: float) -> float:
    """The upper bound of the delay after failed attempt number `attempt` (1-based)."""
    exponent = min(max(attempt - 1, 0), 62)  # 2**62 already exceeds any sane maximum
    return float(min(maximum, base * (2**exponent)))


def retry_delay_secs(attempt: int, *, base: float, maximum: float, unit_random: float) -> float:
    """Full jitter (AWS architecture blog, "Exponential Backoff And Jitter"): a uniform delay
    in [0, cap), so receivers that failed together do not all retry together.
    `unit_random` is in [0, 1)."""
    return backoff_cap_secs(attempt, base=base, maximum=maximum) * unit_random


def shorten_error(text: str) -> str:
    text = " ".join(text.split())
    if len(text) <= LAST_ERROR_MAX_CHARS:
        return text
    return text[: LAST_ERROR_MAX_CHARS - 1] + "…"


def ai_payload(item: InboxItem, now_s: int) -> dict[str, Any]:
    """seeds/000's callback body: `type`, the `message` with `from_ai_id`, `content` and a
    unix `timestamp`, and the push's own unix `timestamp`. Beyond the seed: `to_ai_id` or
    `group_id` (where it was sent), the delivery `seq`, and the signature when signed."""
    message = item.message
    view = ai_message_fields(message)
    if message.signature is not None:
        view["sender_public_key"] = message.signer_public_key
    return {"type": "message", "message": view, "seq": item.seq, "timestamp": now_s}
