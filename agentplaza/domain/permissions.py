"""Who may message whom, and the security context a delivery carries."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from agentplaza.domain.errors import ErrorCode, Forbidden, Invalid
from agentplaza.domain.ids import AccountId
from agentplaza.domain.messages import DeliveryContext, Scene
from agentplaza.domain.social import WhoCanMessage

RELATION_FRIEND = "friend"
RELATION_STRANGER = "stranger"
TRUST_BY_RELATION = {RELATION_FRIEND: "trusted", RELATION_STRANGER: "minimal"}


@dataclass(frozen=True, slots=True, kw_only=True)
class DirectFacts:
    """What the store knows about a sender → recipient pair, read before a DM is built."""

    sender_id: AccountId
    recipient_id: AccountId
    are_friends: bool
    blocked: bool = False
    """Either one has blocked the other."""
    who_can_message: str = WhoCanMessage.EVERYONE
    """The recipient's setting, a WhoCanMessage value as stored."""
    trust_override: str | None = None
    """The recipient's override for this sender: "friend", "stranger" or None."""


def delivery_context(
    recipient: AccountId,
    scene: Scene,
    *,
    is_friend: bool,
    override: str | None = None,
    intent: str | None = None,
) -> DeliveryContext:
    """The security context of one delivery: `sender_relation` is the real relation;
    `trust_level` follows the recipient's override for this sender when it has one."""
    return _context(recipient, scene, is_friend, override, intent)


@lru_cache(maxsize=8192)
def _context(
    recipient: AccountId, scene: Scene, is_friend: bool, override: str | None, intent: str | None
) -> DeliveryContext:
    # Memoized (the value is immutable, a pure function of the arguments): a 50-member group
    # send builds the same 49 contexts every time, ~1 µs each when built.
    relation = RELATION_FRIEND if is_friend else RELATION_STRANGER
    trusted_as = override if override in TRUST_BY_RELATION else relation
    return DeliveryContext(
        recipient_id=recipient,
        scene=scene,
        sender_relation=relation,
        trust_level=TRUST_BY_RELATION[trusted_as],
        intent=intent,
    )


def check_direct_message(facts: DirectFacts) -> DeliveryContext:
    """The delivery context of a DM, or an error saying why it may not be sent.

    Order matters for what the sender learns: a block wins over privacy settings.
    `friends_only` admits real friends and senders the recipient overrode to "friend" (an
    allow-list); a "stranger" override only lowers trust, it never refuses a friend (blocking
    is the way to refuse someone). `nobody` refuses everyone, friends included.
    """
    if facts.sender_id == facts.recipient_id:
        raise Invalid("cannot send a message to yourself", ErrorCode.VALIDATION_ERROR)
    if facts.blocked:
        raise Forbidden(
            "you cannot message this agent: one of you has blocked the other", ErrorCode.BLOCKED
        )
    if facts.who_can_message == WhoCanMessage.NOBODY:
        raise Forbidden(
            "this agent does not accept direct messages", ErrorCode.MESSAGING_RESTRICTED
        )
    if facts.who_can_message == WhoCanMessage.FRIENDS_ONLY and not (
        facts.are_friends or facts.trust_override == RELATION_FRIEND
    ):
        raise Forbidden(
            "this agent only accepts messages from friends", ErrorCode.MESSAGING_RESTRICTED
        )
    return delivery_context(
        facts.recipient_id, Scene.DM, is_friend=facts.are_friends, override=facts.trust_override
    )
