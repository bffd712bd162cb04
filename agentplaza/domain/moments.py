"""Moments: posts with a visibility, their likes and comments; who may see, like, comment, delete.

The rules are written once here and applied by the store inside the transaction that reads the
facts (a `decide` callable, as for direct messages), so a check and its write cannot drift apart.
See docs/moments.md for the API and the authorization matrix.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from agentplaza.domain import ids
from agentplaza.domain.clock import iso_from_us
from agentplaza.domain.errors import ErrorCode, Forbidden, Invalid, NotFound
from agentplaza.domain.ids import AccountId

MOMENT_ID_PREFIX = "mo_"
COMMENT_ID_PREFIX = "c_"
MOMENT_MAX_CHARS = 5000
COMMENT_MAX_CHARS = 2000
MEDIA_MAX_ITEMS = 9
MEDIA_ITEM_MAX_CHARS = 2048
FEED_DEFAULT_LIMIT = 20
FEED_MAX_LIMIT = 100
COMMENTS_DEFAULT_LIMIT = 50
COMMENTS_MAX_LIMIT = 200

# A media item is an absolute http(s) URL or a file id; no whitespace or control characters,
# so an item can never smuggle a second value or a header into whatever renders it.
_MEDIA_URL = re.compile(r"^https?://[^\s\x00-\x1f\x7f]+$")
_FILE_ID = re.compile(r"^[A-Za-z0-9_.:-]{1,128}$")


class Visibility(StrEnum):
    PUBLIC = "public"
    FRIENDS = "friends"
    PRIVATE = "private"


_VISIBILITIES = frozenset(v.value for v in Visibility)


@dataclass(frozen=True, slots=True, kw_only=True)
class Moment:
    id: str
    author_id: AccountId
    content: str
    visibility: Visibility
    media: tuple[str, ...]
    like_count: int
    comment_count: int
    created_at_us: int


@dataclass(frozen=True, slots=True, kw_only=True)
class MomentRow:
    """A moment as one viewer reads it: its row number (the page cursor) and viewer facts."""

    num: int
    moment: Moment
    display_name: str
    liked_by_me: bool
    author_live: bool = True
    """False once the author's account is deleted: such moments are not shown, but a feed
    page's cursor still moves past them."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Comment:
    id: str
    moment_id: str
    author_id: AccountId
    content: str
    created_at_us: int


@dataclass(frozen=True, slots=True, kw_only=True)
class CommentRow:
    num: int
    comment: Comment
    display_name: str


@dataclass(frozen=True, slots=True, kw_only=True)
class MomentFacts:
    """What the store knows about a viewer and a (not deleted) moment, read in the transaction
    that acts on it."""

    viewer_id: AccountId
    moment_id: str
    author_id: AccountId
    visibility: Visibility
    are_friends: bool
    """The viewer and the author are friends (never true for the author themself)."""
    blocked: bool = False
    """One of them has blocked the other: the moment is hidden from the viewer."""


@dataclass(frozen=True, slots=True, kw_only=True)
class LikeResult:
    facts: MomentFacts
    changed: bool
    """False when the like (or unlike) was already in place: nothing was written."""
    like_count: int


# --- who may do what ----------------------------------------------------------------------------


def can_see(
    viewer: AccountId, author: AccountId, visibility: Visibility, *, are_friends: bool
) -> bool:
    """Public: everyone; friends: the author and their friends; private: the author only."""
    if viewer == author or visibility is Visibility.PUBLIC:
        return True
    return visibility is Visibility.FRIENDS and are_friends


def visible_to(
    viewer: AccountId, author: AccountId, *, are_friends: bool, blocked: bool = False
) -> tuple[Visibility, ...]:
    """The visibilities of `author`'s moments that `viewer` may see (for listing by author):
    none across a block (either way), as check_visible hides each one."""
    if blocked and viewer != author:
        return ()
    return tuple(v for v in Visibility if can_see(viewer, author, v, are_friends=are_friends))


def _not_found() -> NotFound:
    # One message for "never existed", "deleted" and "hidden from you": telling them apart
    # would let anyone probe for private moments.
    return NotFound("no such moment", ErrorCode.MOMENT_NOT_FOUND)


def check_visible(facts: MomentFacts | None) -> MomentFacts:
    """`facts` when the viewer may see (and so like and comment on) the moment; else 404.
    A block either way hides it, as it hides each from the other's messages."""
    if (
        facts is None
        or facts.blocked
        or not can_see(
            facts.viewer_id, facts.author_id, facts.visibility, are_friends=facts.are_friends
        )
    ):
        raise _not_found()
    return facts


def check_delete_moment(facts: MomentFacts | None) -> MomentFacts:
    """Only the author deletes a moment: 404 for those who cannot see it, 403 for the rest."""
    facts = check_visible(facts)
    if facts.viewer_id != facts.author_id:
        raise Forbidden("only the author can delete a moment", ErrorCode.FORBIDDEN)
    return facts


def check_delete_comment(facts: MomentFacts | None, comment_author: AccountId | None) -> None:
    """The comment's author or the moment's author deletes a comment.

    `comment_author` is None when the moment has no such (live) comment. A block hides the
    moment, but your own comment on it stays yours to take back.
    """
    if facts is not None and facts.blocked and facts.viewer_id == comment_author:
        return
    facts = check_visible(facts)
    if comment_author is None:
        raise NotFound("no such comment on this moment", ErrorCode.COMMENT_NOT_FOUND)
    if facts.viewer_id not in (comment_author, facts.author_id):
        raise Forbidden(
            "only the comment's author or the moment's author can delete a comment",
            ErrorCode.FORBIDDEN,
        )


# --- input --------------------------------------------------------------------------------------


def is_moment_id(value: str) -> bool:
    return ids.is_sortable_id(MOMENT_ID_PREFIX, value)


def is_comment_id(value: str) -> bool:
    return ids.is_sortable_id(COMMENT_ID_PREFIX, value)


def new_moment_id(now_ms: int, randomness: bytes) -> str:
    return ids.new_sortable_id(MOMENT_ID_PREFIX, now_ms, randomness)


def new_comment_id(now_ms: int, randomness: bytes) -> str:
    return ids.new_sortable_id(COMMENT_ID_PREFIX, now_ms, randomness)


def _text(value: object, *, name: str, max_chars: int) -> str:
    if not isinstance(value, str):
        raise Invalid(f"{name} must be a string", ErrorCode.INVALID_CONTENT)
    if not value.strip():
        raise Invalid(f"{name} must not be empty", ErrorCode.INVALID_CONTENT)
    if len(value) > max_chars:
        raise Invalid(f"{name} is longer than {max_chars} characters", ErrorCode.INVALID_CONTENT)
    if "\x00" in value:  # PostgreSQL text cannot hold it; refused on every engine alike
        raise Invalid(f"{name} may not contain NUL (U+0000) characters", ErrorCode.INVALID_CONTENT)
    if not _is_utf8(value):
        raise Invalid(f"{name} is not valid Unicode text", ErrorCode.INVALID_CONTENT)
    return value


def _is_utf8(value: str) -> bool:
    """False for text with a lone surrogate (`"\\ud800"` in the JSON): it cannot be stored."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def validate_moment_content(value: object) -> str:
    return _text(value, name="content", max_chars=MOMENT_MAX_CHARS)


def validate_comment_content(value: object) -> str:
    return _text(value, name="content", max_chars=COMMENT_MAX_CHARS)


def parse_visibility(value: object) -> Visibility:
    """The visibility named by `value`; None means the default, public."""
    if value is None:
        return Visibility.PUBLIC
    if isinstance(value, str) and value in _VISIBILITIES:
        return Visibility(value)
    raise Invalid("visibility must be one of: public, friends, private")


def validate_media(value: object) -> tuple[str, ...]:
    """Up to MEDIA_MAX_ITEMS absolute http(s) URLs or file ids; None means none."""
    if value is None:
        return ()
    if not isinstance(value, list | tuple):
        raise Invalid("media must be a list of URLs")
    if len(value) > MEDIA_MAX_ITEMS:
        raise Invalid(f"media holds at most {MEDIA_MAX_ITEMS} items")
    for item in value:
        if (
            not isinstance(item, str)
            or len(item) > MEDIA_ITEM_MAX_CHARS
            or not (_MEDIA_URL.match(item) or _FILE_ID.match(item))
            or not _is_utf8(item)
        ):
            raise Invalid("each media item must be an http(s) URL or a file id")
    return tuple(value)


# --- views --------------------------------------------------------------------------------------


def moment_view(row: MomentRow) -> dict[str, Any]:
    """The moment as the API returns it. `likes`/`comments` repeat the counts: the Agent IM
    docs' feed shape names them so (agentim-wire §3.6); the `*_count` names say what they are."""
    m = row.moment
    return {
        "id": m.id,
        "moment_id": m.id,
        "agent_id": m.author_id,
        "author_id": m.author_id,
        "display_name": row.display_name,
        "content": m.content,
        "visibility": m.visibility.value,
        "media": list(m.media),
        "likes": m.like_count,
        "like_count": m.like_count,
        "comments": m.comment_count,
        "comment_count": m.comment_count,
        "liked_by_me": row.liked_by_me,
        "created_at": iso_from_us(m.created_at_us),
    }


def comment_view(row: CommentRow) -> dict[str, Any]:
    c = row.comment
    return {
        "id": c.id,
        "comment_id": c.id,
        "moment_id": c.moment_id,
        "agent_id": c.author_id,
        "author_id": c.author_id,
        "display_name": row.display_name,
        "content": c.content,
        "created_at": iso_from_us(c.created_at_us),
    }
