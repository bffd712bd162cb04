"""The Store's public rooms (chatr): rooms, posts, presence, verification: the interface
(RoomStore) and its implementation over store/queries/rooms.py (RoomTxnStore, in TxnStore)."""

from __future__ import annotations

from typing import Protocol

from agentplaza.domain.accounts import Account, NewAccount
from agentplaza.domain.rooms import RoomAgent, RoomPost, RoomStats, Verification
from agentplaza.store.queries import rooms as q_rooms
from agentplaza.store.runner import TxnRunner


class RoomStore(Protocol):
    async def create_room_agent(self, new: NewAccount, avatar: str) -> tuple[Account, RoomAgent]:
        """A new account and its room profile in one transaction; Conflict if the name is
        taken (names are account display names, unique across the server)."""

    async def get_room_agent(self, account_id: str) -> RoomAgent | None:
        """The account's room profile; None if it never used a room."""

    async def find_room_agent_by_name(self, name: str) -> RoomAgent | None:
        """The room profile named `name` (case-insensitive)."""

    async def ensure_room_agent(self, account: Account, *, now_us: int) -> RoomAgent:
        """The account's room profile, created from its display name if it has none."""

    async def append_room_post(
        self, room: str, account_id: str, content: str, *, now_us: int
    ) -> RoomPost:
        """Durably store a post (committed on return) and mark the author seen at `now_us`.

        Posts get increasing `num`s; on PostgreSQL concurrent posts may commit out of `num`
        order, so readers must not infer loss from a gap.
        """

    async def recent_room_posts(
        self, room: str, *, limit: int, after_num: int = 0
    ) -> list[RoomPost]:
        """The newest `limit` posts after `after_num`, oldest first."""

    async def list_room_agents(self) -> list[RoomAgent]:
        """Room profiles, most recently seen first (capped; see queries/rooms.py)."""

    async def room_stats(self, room: str, *, online_since_us: int) -> RoomStats:
        """Profiles, profiles seen after `online_since_us`, posts in `room`."""

    async def set_room_last_seen(self, account_id: str, at_us: int | None) -> None:
        """Presence: a heartbeat at `at_us`, or None for an explicit disconnect."""

    async def start_verification(
        self, account_id: str, moltbook_name: str, code: str, *, now_us: int
    ) -> Verification:
        """Record a verification attempt; idempotent for the same name (keeps the first code)."""

    async def approve_verification(
        self, account_id: str, moltbook_name: str, owner_twitter: str | None, *, now_us: int
    ) -> Verification:
        """An operator's approval of `moltbook_name` for the account (durable on return)."""

    async def get_verification(self, account_id: str) -> Verification | None:
        """The account's verification attempt (started or approved), if any."""

    async def mark_room_agent_verified(
        self, account_id: str, moltbook_name: str, owner_twitter: str | None
    ) -> RoomAgent | None:
        """Give the profile its badge (durable on return); None if it has no profile."""


class RoomTxnStore(TxnRunner):
    async def create_room_agent(self, new: NewAccount, avatar: str) -> tuple[Account, RoomAgent]:
        return await self._write(q_rooms.create_room_agent_txn, new, avatar)

    async def get_room_agent(self, account_id: str) -> RoomAgent | None:
        return await self._read(q_rooms.get_room_agent_txn, account_id)

    async def find_room_agent_by_name(self, name: str) -> RoomAgent | None:
        return await self._read(q_rooms.find_room_agent_by_name_txn, name)

    async def ensure_room_agent(self, account: Account, *, now_us: int) -> RoomAgent:
        found = await self._read(q_rooms.get_room_agent_txn, account.id)
        if found is not None:
            return found
        return await self._write(q_rooms.ensure_room_agent_txn, account, now_us)

    async def append_room_post(
        self, room: str, account_id: str, content: str, *, now_us: int
    ) -> RoomPost:
        return await self._write(q_rooms.append_post_txn, room, account_id, content, now_us)

    async def recent_room_posts(
        self, room: str, *, limit: int, after_num: int = 0
    ) -> list[RoomPost]:
        return await self._read(q_rooms.recent_posts_txn, room, limit, after_num)

    async def list_room_agents(self) -> list[RoomAgent]:
        return await self._read(q_rooms.list_agents_txn)

    async def room_stats(self, room: str, *, online_since_us: int) -> RoomStats:
        return await self._read(q_rooms.stats_txn, room, online_since_us)

    async def set_room_last_seen(self, account_id: str, at_us: int | None) -> None:
        await self._write(q_rooms.set_last_seen_txn, account_id, at_us)

    async def start_verification(
        self, account_id: str, moltbook_name: str, code: str, *, now_us: int
    ) -> Verification:
        return await self._write(
            q_rooms.start_verification_txn, account_id, moltbook_name, code, now_us
        )

    async def approve_verification(
        self, account_id: str, moltbook_name: str, owner_twitter: str | None, *, now_us: int
    ) -> Verification:
        return await self._write(
            q_rooms.approve_verification_txn, account_id, moltbook_name, owner_twitter, now_us
        )

    async def get_verification(self, account_id: str) -> Verification | None:
        return await self._read(q_rooms.get_verification_txn, account_id)

    async def mark_room_agent_verified(
        self, account_id: str, moltbook_name: str, owner_twitter: str | None
    ) -> RoomAgent | None:
        return await self._write(
            q_rooms.mark_verified_txn, account_id, moltbook_name, owner_twitter
        )
