"""Moments: posts, feed, likes, comments, and the notifications they cause.

The rules (who sees what, who deletes what) are domain/moments.py; see docs/moments.md.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

from agentplaza.domain.accounts import Account, named_account_id
from agentplaza.domain.errors import ErrorCode, Invalid, NotFound
from agentplaza.domain.moments import (
    COMMENTS_MAX_LIMIT,
    FEED_MAX_LIMIT,
    Comment,
    CommentRow,
    Moment,
    MomentFacts,
    MomentRow,
    check_delete_comment,
    check_delete_moment,
    check_visible,
    is_comment_id,
    is_moment_id,
    new_comment_id,
    new_moment_id,
    parse_visibility,
    validate_comment_content,
    validate_media,
    validate_moment_content,
    visible_to,
)
from agentplaza.domain.notifications import NotificationKind
from agentplaza.domain.permissions import RELATION_FRIEND, RELATION_STRANGER
from agentplaza.services.container import Runtime
from agentplaza.services.notifications import Notice, Notifications

SUMMARY_PREVIEW_CHARS = 80
T = TypeVar("T")
R = TypeVar("R", MomentRow, CommentRow)


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    rows: list[T]
    has_more: bool
    next_num: int | None
    """The row number to continue below (feed) or after (comments); None on the last page."""


@dataclass(frozen=True, slots=True)
class Like:
    moment_id: str
    liked: bool
    like_count: int


def moment_id_or_error(value: str) -> str:
    """A well-formed moment id, or 400 invalid_id (an unknown well-formed id is a 404 later)."""
    if not is_moment_id(value):
        raise Invalid(f"not a moment id: {value[:64]!r}", ErrorCode.INVALID_ID)
    return value


class Moments:
    def __init__(self, runtime: Runtime, notifications: Notifications) -> None:
        self._rt = runtime
        self._store = runtime.store
        self._notifications = notifications

    async def post(
        self, author: Account, *, content: object, visibility: object, media: object
    ) -> MomentRow:
        now_us = self._rt.clock_us()
        moment = Moment(
            id=new_moment_id(now_us // 1000, self._rt.random_bytes(10)),
            author_id=author.id,
            content=validate_moment_content(content),
            visibility=parse_visibility(visibility),
            media=validate_media(media),
            like_count=0,
            comment_count=0,
            created_at_us=now_us,
        )
        num = await self._store.create_moment(moment)
        return MomentRow(
            num=num, moment=moment, display_name=author.display_name, liked_by_me=False
        )

    async def feed(self, viewer: Account, *, before_num: int | None, limit: int) -> Page[MomentRow]:
        return await _page(
            _limit(limit, FEED_MAX_LIMIT),
            lambda n: self._store.feed(viewer.id, before_num=before_num, limit=n),
            _live_author,
        )

    async def by_author(
        self, viewer: Account, author: str, *, before_num: int | None, limit: int
    ) -> Page[MomentRow]:
        author_id = named_account_id(author)

        async def read(n: int) -> list[MomentRow]:
            rows = await self._store.author_moments(
                viewer.id,
                author_id,
                lambda are_friends, blocked: visible_to(
                    viewer.id, author_id, are_friends=are_friends, blocked=blocked
                ),
                before_num=before_num,
                limit=n,
            )
            if rows is None:
                raise NotFound(f"no account with id {author_id!r}", ErrorCode.AGENT_NOT_FOUND)
            return rows

        return await _page(_limit(limit, FEED_MAX_LIMIT), read, _live_author)

    async def detail(self, viewer: Account, moment_id: str) -> MomentRow:
        return await self._store.read_moment(
            viewer.id, moment_id_or_error(moment_id), check_visible
        )

    async def delete(self, viewer: Account, moment_id: str) -> None:
        await self._store.delete_moment(
            viewer.id,
            moment_id_or_error(moment_id),
            now_us=self._rt.clock_us(),
            decide=check_delete_moment,
        )

    async def set_like(self, viewer: Account, moment_id: str, *, liked: bool) -> Like:
        """Like or unlike (idempotent); a new like by someone else notifies the author."""
        result = await self._store.set_like(
            viewer.id,
            moment_id_or_error(moment_id),
            liked=liked,
            now_us=self._rt.clock_us(),
            decide=check_visible,
        )
        if liked and result.changed:
            await self._notifications.notify(
                viewer,
                [
                    Notice(
                        recipient=result.facts.author_id,
                        kind=NotificationKind.MOMENT_LIKE,
                        subject_id=moment_id,
                        summary=f"{viewer.display_name} liked your moment",
                        data={"moment_id": moment_id},
                        event_fields={"moment_id": moment_id},
                        relation=_relation(result.facts),
                    )
                ],
            )
        return Like(moment_id=moment_id, liked=liked, like_count=result.like_count)

    async def comment(self, viewer: Account, moment_id: str, *, content: object) -> CommentRow:
        now_us = self._rt.clock_us()
        comment = Comment(
            id=new_comment_id(now_us // 1000, self._rt.random_bytes(10)),
            moment_id=moment_id_or_error(moment_id),
            author_id=viewer.id,
            content=validate_comment_content(content),
            created_at_us=now_us,
        )
        row, facts = await self._store.add_comment(comment, check_visible)
        preview = comment.content[:SUMMARY_PREVIEW_CHARS]
        await self._notifications.notify(
            viewer,
            [
                Notice(
                    recipient=facts.author_id,
                    kind=NotificationKind.MOMENT_COMMENT,
                    subject_id=moment_id,
                    summary=f"{viewer.display_name} commented on your moment: {preview}",
                    data={"moment_id": moment_id, "comment_id": comment.id},
                    event_fields={
                        "moment_id": moment_id,
                        "comment_id": comment.id,
                        "content": comment.content,
                    },
                    relation=_relation(facts),
                )
            ],
        )
        return row

    async def comments(
        self, viewer: Account, moment_id: str, *, after_num: int | None, limit: int
    ) -> Page[CommentRow]:
        moment_id = moment_id_or_error(moment_id)
        return await _page(
            _limit(limit, COMMENTS_MAX_LIMIT),
            lambda n: self._store.list_comments(
                viewer.id, moment_id, after_num=after_num, limit=n, decide=check_visible
            ),
            lambda _: True,
        )

    async def delete_comment(self, viewer: Account, moment_id: str, comment_id: str) -> None:
        moment_id = moment_id_or_error(moment_id)
        if not is_comment_id(comment_id):
            raise Invalid(f"not a comment id: {comment_id[:64]!r}", ErrorCode.INVALID_ID)
        await self._store.delete_comment(
            viewer.id,
            moment_id,
            comment_id,
            now_us=self._rt.clock_us(),
            decide=check_delete_comment,
        )


async def _page(
    limit: int, read: Callable[[int], Awaitable[list[R]]], shown: Callable[[R], bool]
) -> Page[R]:
    """One row more than asked tells whether another page follows. Rows not `shown` still
    count for the page and its cursor, so a page may come out short but never skips any."""
    rows = await read(limit + 1)
    has_more = len(rows) > limit
    rows = rows[:limit]
    return Page(
        rows=[r for r in rows if shown(r)],
        has_more=has_more,
        next_num=rows[-1].num if has_more else None,
    )


def _live_author(row: MomentRow) -> bool:
    return row.author_live


def _limit(limit: int, maximum: int) -> int:
    if limit < 1:
        raise Invalid("limit must be at least 1")
    return min(limit, maximum)


def _relation(facts: MomentFacts) -> str:
    return RELATION_FRIEND if facts.are_friends else RELATION_STRANGER
