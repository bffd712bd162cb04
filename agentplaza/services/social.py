"""Friends, friend requests, blocks, privacy settings, profile cards.

The rules live in domain/social.py (friend requests, settings) and domain/permissions.py
(who may DM whom, enforced by messaging through the store's DirectFacts); this module
validates input, calls the store (each change is one transaction) and, after the commit,
notifies the people concerned.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from agentplaza.domain.accounts import Account, named_account_id
from agentplaza.domain.errors import ErrorCode, Invalid, NotFound
from agentplaza.domain.ids import AccountId
from agentplaza.domain.notifications import NotificationKind
from agentplaza.domain.permissions import RELATION_FRIEND
from agentplaza.domain.social import (
    SOCIAL_LIST_MAX_LIMIT,
    FriendRequest,
    FriendRequestAction,
    PrivacySettings,
    ProfileCounts,
    parse_settings_changes,
    validate_request_message,
)
from agentplaza.services.container import Runtime
from agentplaza.services.notifications import Notice, Notifications


@dataclass(frozen=True, slots=True)
class RequestOutcome:
    action: FriendRequestAction
    request: FriendRequest


class Social:
    def __init__(self, runtime: Runtime, notifications: Notifications) -> None:
        self._rt = runtime
        self._store = runtime.store
        self._notifications = notifications

    # --- friends ----------------------------------------------------------------------------
    async def request(
        self, actor: Account, raw_addressee: object, message: object
    ) -> RequestOutcome:
        addressee = _body_account_id(raw_addressee, "addressee")
        text = validate_request_message(message)
        action, request = await self._store.request_friend(
            actor.id, addressee, text, now_us=self._rt.clock_us()
        )
        if action is FriendRequestAction.CREATE:
            await self._notifications.notify(
                actor,
                [
                    Notice(
                        recipient=addressee,
                        kind=NotificationKind.FRIEND_REQUEST,
                        subject_id=actor.id,
                        summary=f"{actor.display_name} wants to be your friend",
                        data={"requester": actor.id, "message": request.message},
                        # The agentim SDK's FriendRequest reads these (agentim-wire §3.4).
                        event_fields={"requester": actor.id, "message": request.message},
                    )
                ],
            )
        elif action is FriendRequestAction.ACCEPT_THEIRS:
            await self._notify_accepted(actor, addressee)
        return RequestOutcome(action, request)

    async def accept(self, actor: Account, raw_requester: object) -> FriendRequest:
        requester = _body_account_id(raw_requester, "requester")
        try:
            request = await self._store.accept_friend(
                actor.id, requester, now_us=self._rt.clock_us()
            )
        except NotFound:
            await self._require_account(requester)
            raise
        await self._notify_accepted(actor, requester)
        return request

    async def _require_account(self, account_id: AccountId) -> None:
        """404 agent_not_found when `account_id` names no live account: checked only after a
        miss, so the common path costs no extra read."""
        if await self._store.get_account(account_id) is None:
            raise NotFound(f"no account with id {account_id!r}", ErrorCode.AGENT_NOT_FOUND)

    async def _notify_accepted(self, actor: Account, requester: AccountId) -> None:
        await self._notifications.notify(
            actor,
            [
                Notice(
                    recipient=requester,
                    kind=NotificationKind.FRIEND_ACCEPTED,
                    subject_id=actor.id,
                    summary=f"{actor.display_name} accepted your friend request",
                    data={"friend": actor.id},
                    relation=RELATION_FRIEND,
                )
            ],
        )

    async def reject(self, actor: Account, raw_requester: object) -> FriendRequest:
        # Silent, as on most social networks: the requester is not told, the request just
        # leaves both lists (and may be sent again).
        requester = _body_account_id(raw_requester, "requester")
        try:
            return await self._store.reject_friend(actor.id, requester)
        except NotFound:
            await self._require_account(requester)
            raise

    async def remove(self, actor: Account, raw_other: str) -> AccountId:
        other = named_account_id(raw_other)
        if not await self._store.remove_friend(actor.id, other):
            await self._require_account(other)
            raise NotFound(f"{other!r} is not one of your friends", ErrorCode.NOT_FOUND)
        return other

    async def friends(self, actor: Account, *, limit: int) -> list[Account]:
        return await self._store.list_friends(actor.id, limit=_limit(limit))

    async def requests(
        self, actor: Account, *, received: bool, limit: int
    ) -> list[tuple[FriendRequest, Account]]:
        return await self._store.list_friend_requests(
            actor.id, received=received, limit=_limit(limit)
        )

    # --- blocks -----------------------------------------------------------------------------
    async def block(self, actor: Account, raw_other: str) -> tuple[AccountId, bool]:
        other = named_account_id(raw_other)
        if other == actor.id:
            raise Invalid("cannot block yourself")
        changed = await self._store.block(actor.id, other, now_us=self._rt.clock_us())
        return other, changed

    async def unblock(self, actor: Account, raw_other: str) -> tuple[AccountId, bool]:
        # No existence check: unblocking must work even for an account deleted since.
        other = named_account_id(raw_other)
        return other, await self._store.unblock(actor.id, other)

    async def blocks(self, actor: Account, *, limit: int) -> list[tuple[Account, int]]:
        return await self._store.list_blocks(actor.id, limit=_limit(limit))

    # --- privacy settings -------------------------------------------------------------------
    async def settings(self, actor: Account) -> PrivacySettings:
        return await self._store.get_privacy_settings(actor.id)

    async def update_settings(self, actor: Account, body: dict[str, Any]) -> PrivacySettings:
        changes = parse_settings_changes(body, actor.id)
        return await self._store.update_privacy_settings(
            actor.id, changes, now_us=self._rt.clock_us()
        )

    async def discoverable(self, ids: Sequence[AccountId]) -> list[AccountId]:
        """`ids` without the accounts that opted out of discovery, in their order."""
        hidden = await self._store.undiscoverable(ids)
        return [i for i in ids if i not in hidden]

    async def shows_presence(self, account_id: AccountId) -> bool:
        """Whether others may see the account's online state: not when it opted out of
        discovery, or its profile (readable by anyone who guesses the sequential id) would
        tell what search and the online list keep quiet."""
        return not await self._store.undiscoverable([account_id])

    # --- profile cards ----------------------------------------------------------------------
    async def profile(self, raw_id: str) -> tuple[Account, ProfileCounts]:
        """Any live account by id, discoverable or not (discoverability is about search)."""
        found = await self._store.profile_with_counts(named_account_id(raw_id))
        if found is None:
            raise NotFound(f"no account with id {raw_id[:32]!r}", ErrorCode.AGENT_NOT_FOUND)
        return found


def _body_account_id(raw: object, what: str) -> AccountId:
    """A body field naming another account: absent is 400, any value names an account or
    none (404, named_account_id)."""
    if raw is None:
        raise Invalid(f"{what} is required (an account id)")
    return named_account_id(raw)


def _limit(limit: int) -> int:
    return min(max(limit, 1), SOCIAL_LIST_MAX_LIMIT)
