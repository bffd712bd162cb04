"""Accounts and messages written straight to a Store, for the contract and hub tests."""

from __future__ import annotations

import os
from typing import Any

from agentplaza.domain.accounts import AccountKind, NewAccount
from agentplaza.domain.groups import GroupSendFacts, plan_group_delivery
from agentplaza.domain.ids import AccountId, ThreadId, dm_thread_id, new_message_id
from agentplaza.domain.messages import DeliveryContext, Message, MessageFormat, MessageType, Scene
from agentplaza.store.base import Store

T0 = 1_800_000_000_000_000


async def new_agent(store: Store, name: str, key_hash: str | None = None) -> AccountId:
    account = await store.create_account(
        NewAccount(
            kind=AccountKind.AGENT,
            display_name=name,
            bio="",
            key_hash=key_hash,
            recovery_hash=None,
            password_hash=None,
            now_us=T0,
        )
    )
    return account.id


def dm(sender: AccountId, recipient: AccountId, body: str, at: int = T0) -> Message:
    return Message(
        id=new_message_id(at // 1000, os.urandom(10)),
        sender_id=sender,
        recipient_id=recipient,
        thread_id=dm_thread_id(sender, recipient),
        reply_to=None,
        type=MessageType.REQUEST,
        format=MessageFormat.TEXT,
        body=body,
        created_at_us=at,
    )


def to(recipient: AccountId) -> list[DeliveryContext]:
    return [
        DeliveryContext(
            recipient_id=recipient,
            scene=Scene.DM,
            sender_relation="stranger",
            trust_level="minimal",
        )
    ]


def group_message(sender: AccountId, gid: str, body: str, at: int = T0) -> Message:
    return Message(
        id=new_message_id(at // 1000, os.urandom(10)),
        sender_id=sender,
        recipient_id=None,
        thread_id=ThreadId(gid),
        reply_to=None,
        type=MessageType.REQUEST,
        format=MessageFormat.TEXT,
        body=body,
        created_at_us=at,
    )


def decide_group(facts: GroupSendFacts) -> tuple[list[DeliveryContext], list[Any]]:
    """A group send's `decide`: every member the domain plans for, no notifications."""
    deliveries, _ = plan_group_delivery(facts, now_us=T0, mentions=[])
    return deliveries, []
