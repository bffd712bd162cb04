"""The Store's moments, likes, comments: the interface (MomentStore) and its implementation over
store/queries/moments.py (MomentTxnStore, mixed into TxnStore).

Methods that act on one moment take a `decide` callable (domain/moments.py: check_visible,
check_delete_moment, check_delete_comment) and call it on the facts read in the same
transaction; whatever it raises aborts the transaction and reaches the caller unchanged.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol

from agentplaza.domain.ids import AccountId
from agentplaza.domain.moments import (
    Comment,
    CommentRow,
    LikeResult,
    Moment,
    MomentFacts,
    MomentRow,
    Visibility,
)
from agentplaza.store.queries import moments as q_moments
from agentplaza.store.runner import TxnRunner

Decide = Callable[[MomentFacts | None], MomentFacts]
"""Facts (None: no live moment) → the facts, or an AgentplazaError saying why not."""


class MomentStore(Protocol):
    async def create_moment(self, moment: Moment) -> int:
        """Store a new moment (durable on return); returns its row number (the page cursor)."""

    async def read_moment(self, viewer: AccountId, moment_id: str, decide: Decide) -> MomentRow:
        """One live moment as `viewer` sees it, after `decide` allowed it."""

    async def feed(
        self, viewer: AccountId, *, before_num: int | None, limit: int
    ) -> list[MomentRow]:
        """At most `limit` moments below `before_num`, newest first: the viewer's own, their
        friends' friends-only ones and the public ones of authors with no block between them
        and the viewer (one indexed query; no offset)."""

    async def author_moments(
        self,
        viewer: AccountId,
        author: AccountId,
        visible: Callable[[bool, bool], Sequence[Visibility]],
        *,
        before_num: int | None,
        limit: int,
    ) -> list[MomentRow] | None:
        """`author`'s moments whose visibility is in `visible(are_friends, blocked)` (blocked:
        either one has blocked the other), newest first; None when there is no such (live)
        account."""

    async def delete_moment(
        self, viewer: AccountId, moment_id: str, *, now_us: int, decide: Decide
    ) -> None:
        """Tombstone the moment (content erased) and delete its likes and comments, atomically."""

    async def set_like(
        self, viewer: AccountId, moment_id: str, *, liked: bool, now_us: int, decide: Decide
    ) -> LikeResult:
        """Like (`liked`) or unlike, idempotently. The like row and `like_count` change in one
        transaction, so the count equals the number of likes under any concurrency."""

    async def add_comment(self, comment: Comment, decide: Decide) -> tuple[CommentRow, MomentFacts]:
        """Store the comment and bump `comment_count` in one transaction."""

    async def list_comments(
        self,
        viewer: AccountId,
        moment_id: str,
        *,
        after_num: int | None,
        limit: int,
        decide: Decide,
    ) -> list[CommentRow]:
        """At most `limit` live comments after `after_num`, oldest first."""

    async def delete_comment(
        self,
        viewer: AccountId,
        moment_id: str,
        comment_id: str,
        *,
        now_us: int,
        decide: Callable[[MomentFacts | None, AccountId | None], None],
    ) -> None:
        """Tombstone the comment and decrement `comment_count` in one transaction.
        `decide(facts, comment_author)` gets None for a comment that is not live on the moment."""


class MomentTxnStore(TxnRunner):
    async def create_moment(self, moment: Moment) -> int:
        return await self._write(q_moments.insert_moment_txn, moment)

    async def read_moment(self, viewer: AccountId, moment_id: str, decide: Decide) -> MomentRow:
        return await self._read(q_moments.read_moment_txn, viewer, moment_id, decide)

    async def feed(
        self, viewer: AccountId, *, before_num: int | None, limit: int
    ) -> list[MomentRow]:
        return await self._read(q_moments.feed_txn, viewer, before_num, limit)

    async def author_moments(
        self,
        viewer: AccountId,
        author: AccountId,
        visible: Callable[[bool, bool], Sequence[Visibility]],
        *,
        before_num: int | None,
        limit: int,
    ) -> list[MomentRow] | None:
        return await self._read(
            q_moments.author_moments_txn, viewer, author, visible, before_num, limit
        )

    async def delete_moment(
        self, viewer: AccountId, moment_id: str, *, now_us: int, decide: Decide
    ) -> None:
        await self._write(q_moments.delete_moment_txn, viewer, moment_id, now_us, decide)

    async def set_like(
        self, viewer: AccountId, moment_id: str, *, liked: bool, now_us: int, decide: Decide
    ) -> LikeResult:
        return await self._write(q_moments.set_like_txn, viewer, moment_id, liked, now_us, decide)

    async def add_comment(self, comment: Comment, decide: Decide) -> tuple[CommentRow, MomentFacts]:
        return await self._write(q_moments.add_comment_txn, comment, decide)

    async def list_comments(
        self,
        viewer: AccountId,
        moment_id: str,
        *,
        after_num: int | None,
        limit: int,
        decide: Decide,
    ) -> list[CommentRow]:
        return await self._read(
            q_moments.list_comments_txn, viewer, moment_id, after_num, limit, decide
        )

    async def delete_comment(
        self,
        viewer: AccountId,
        moment_id: str,
        comment_id: str,
        *,
        now_us: int,
        decide: Callable[[MomentFacts | None, AccountId | None], None],
    ) -> None:
        await self._write(
            q_moments.delete_comment_txn, viewer, moment_id, comment_id, now_us, decide
        )
