"""Who may message whom, and the security context a delivery carries."""

from __future__ import annotations

from dataclasses import dataclass

from agentplaza.domain.errors import ErrorCode, Invalid
from agentplaza.domain.ids import AccountId
from agentplaza.domain.messages import DeliveryContext, Scene

RELATION_FRIEND = "friend"
RELATION_STRANGER = "stranger"
TRUST_BY_RELATION = {RELATION_FRIEND: "trusted", RELATION_STRANGER: "minimal"}


@dataclass(frozen=True, slots=True, kw_only=True)
class DirectFacts:
    """What the store knows about a sender → recipient pair, read before a DM is built."""

    sender_id: AccountId
    recipient_id: AccountId
    are_friends: bool


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
    """The delivery context of a DM, or an error saying why it may not be sent."""
    if facts.sender_id == facts.recipient_id:
        raise Invalid("cannot send a message to yourself", ErrorCode.VALIDATION_ERROR)
    return delivery_context(facts.recipient_id, Scene.DM, is_friend=facts.are_friends)
