"""Moments, likes, comments. Visibility is decided by domain/moments.py inside each transaction.

Deleting a moment keeps a tombstone row (content erased) so its id is never reused and links
to it answer 404; its likes and comments go with it. Every index on the live rows is partial
(`WHERE deleted_at IS NULL`, store/schema.py), and every query here repeats that predicate so
the planner can use them.

Functions that act on one moment take a `decide` callable (domain/moments.py: check_visible,
check_delete_moment, check_delete_comment) and call it on the facts read in the same
transaction; whatever it raises aborts the transaction and reaches the caller unchanged.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any

from agentplaza.domain.errors import ErrorCode, NotFound
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
from agentplaza.store.engine import Txn

# Larger than any row number, so "before the newest" needs no special case (cf. MAX_POSITION).
NO_CURSOR = 2**62

MOMENT_COLUMNS = (
    "m.num, m.id, m.author_id, m.content, m.visibility, m.media, m.like_count, m.comment_count,"
    " m.created_at, a.display_name,"
    " EXISTS (SELECT 1 FROM moment_likes l WHERE l.moment_id = m.id AND l.account_id = ?),"
    " a.deleted_at IS NULL"
)
"""Columns of a MomentRow (FROM moments m JOIN accounts a); the one parameter is the viewer
(for `liked_by_me`)."""

COMMENT_COLUMNS = "c.num, c.id, c.moment_id, c.author_id, c.content, c.created_at, a.display_name"

Decide = Callable[[MomentFacts | None], MomentFacts]
"""Facts (None: no live moment) → the facts, or an AgentplazaError saying why not."""


def moment_row_from(row: Any) -> MomentRow:
    return MomentRow(
        num=row[0],
        moment=Moment(
            id=row[1],
            author_id=AccountId(row[2]),
            content=row[3],
            visibility=Visibility(row[4]),
            media=tuple(json.loads(row[5])),
            like_count=row[6],
            comment_count=row[7],
            created_at_us=row[8],
        ),
        display_name=row[9],
        liked_by_me=bool(row[10]),
        author_live=bool(row[11]),
    )


def comment_row_from(row: Any) -> CommentRow:
    return CommentRow(
        num=row[0],
        comment=Comment(
            id=row[1],
            moment_id=row[2],
            author_id=AccountId(row[3]),
            content=row[4],
            created_at_us=row[5],
        ),
        display_name=row[6],
    )


def insert_moment_txn(txn: Txn, moment: Moment) -> int:
    """Store a new moment (durable on return); returns its row number (the page cursor)."""
    row = txn.execute(
        "INSERT INTO moments (id, author_id, content, visibility, media, like_count,"
        " comment_count, created_at) VALUES (?, ?, ?, ?, ?, 0, 0, ?) RETURNING num",
        (
            moment.id,
            moment.author_id,
            moment.content,
            moment.visibility.value,
            json.dumps(list(moment.media), separators=(",", ":")),
            moment.created_at_us,
        ),
    ).fetchone()
    return int(row[0])


def moment_facts_txn(
    txn: Txn, viewer: AccountId, moment_id: str, *, lock: bool = False
) -> MomentFacts | None:
    """The facts about a live moment of a live account, or None. `lock` (in write
    transactions) holds the moment row on PostgreSQL until commit, so a concurrent like,
    comment or delete of it waits instead of interleaving between check and write."""
    suffix = txn.caps.lock_suffix("m") if lock else ""
    row = txn.execute(
        "SELECT m.author_id, m.visibility,"
        " EXISTS (SELECT 1 FROM friendships f"
        " WHERE f.account_id = ? AND f.friend_id = m.author_id),"
        " EXISTS (SELECT 1 FROM blocks b WHERE (b.account_id = ? AND b.blocked_id = m.author_id)"
        " OR (b.account_id = m.author_id AND b.blocked_id = ?))"
        " FROM moments m JOIN accounts a ON a.id = m.author_id AND a.deleted_at IS NULL"
        f" WHERE m.id = ? AND m.deleted_at IS NULL{suffix}",
        (viewer, viewer, viewer, moment_id),
    ).fetchone()
    if row is None:
        return None
    return MomentFacts(
        viewer_id=viewer,
        moment_id=moment_id,
        author_id=AccountId(row[0]),
        visibility=Visibility(row[1]),
        are_friends=bool(row[2]) and row[0] != viewer,
        blocked=bool(row[3]),
    )


def get_moment_row_txn(txn: Txn, viewer: AccountId, moment_id: str) -> MomentRow | None:
    row = txn.execute(
        f"SELECT {MOMENT_COLUMNS} FROM moments m JOIN accounts a ON a.id = m.author_id"
        " WHERE m.id = ? AND m.deleted_at IS NULL",
        (viewer, moment_id),
    ).fetchone()
    return moment_row_from(row) if row else None


def read_moment_txn(txn: Txn, viewer: AccountId, moment_id: str, decide: Decide) -> MomentRow:
    """One live moment as `viewer` sees it, after `decide` allowed it."""
    decide(moment_facts_txn(txn, viewer, moment_id))
    row = get_moment_row_txn(txn, viewer, moment_id)
    if row is None or not row.author_live:  # moments leave with their author's account
        raise NotFound("no such moment", ErrorCode.MOMENT_NOT_FOUND)
    return row


# The public branch's filter: neither the viewer nor the author has blocked the other
# (parameters: viewer, viewer).
NOT_BLOCKED = (
    " AND NOT EXISTS (SELECT 1 FROM blocks b WHERE b.account_id = ? AND b.blocked_id = author_id)"
    " AND NOT EXISTS (SELECT 1 FROM blocks b WHERE b.account_id = author_id AND b.blocked_id = ?)"
)


def feed_txn(txn: Txn, viewer: AccountId, *, before_num: int | None, limit: int) -> list[MomentRow]:
    """At most `limit` moments below `before_num`, newest first: the viewer's own, their
    friends' friends-only ones and the public ones of authors with no block between them
    and the viewer (one indexed query; no offset).

    One statement: a union of three branches, each an index range read backwards from the
    cursor and cut at `limit`, so the cost does not grow with the table nor with how few of
    its rows the viewer may see:
      own      ix_moments_author_num             author_id = viewer: <= limit entries
      public   ix_moments_visibility_num         visibility = 'public': <= limit entries
               minus authors blocked either way (two primary-key probes of `blocks` per
               row; a block ends the friendship, so the friends branch needs no filter)
      friends  ix_moments_author_visibility_num  one range per friend. With LATERAL
               (PostgreSQL): <= limit entries per friend. Without (SQLite): it reads the
               friends' friends-only moments below the cursor and keeps the newest `limit`.
    UNION, not UNION ALL: an own public moment is found by two branches. Rows of deleted
    accounts come back flagged (`author_live`) rather than filtered, so the caller's page
    size and cursor stay exact. See docs/moments.md for the plans on both engines."""
    before = before_num if before_num is not None else NO_CURSOR
    if txn.caps.lateral:
        friends_branch = (
            "SELECT x.num FROM friendships f CROSS JOIN LATERAL (SELECT m.num FROM moments m"
            " WHERE m.author_id = f.friend_id AND m.visibility = 'friends'"
            " AND m.deleted_at IS NULL AND m.num < ? ORDER BY m.num DESC LIMIT ?) x"
            " WHERE f.account_id = ?"
        )
        friends_params: tuple[Any, ...] = (before, limit, viewer)
    else:
        friends_branch = (
            "SELECT m.num FROM friendships f JOIN moments m ON m.author_id = f.friend_id"
            " WHERE f.account_id = ? AND m.visibility = 'friends' AND m.deleted_at IS NULL"
            " AND m.num < ? ORDER BY m.num DESC LIMIT ?"
        )
        friends_params = (viewer, before, limit)
    sql = (
        f"SELECT {MOMENT_COLUMNS} FROM (SELECT num FROM ("
        "SELECT num FROM (SELECT num FROM moments WHERE author_id = ? AND deleted_at IS NULL"
        " AND num < ? ORDER BY num DESC LIMIT ?) own"
        " UNION SELECT num FROM (SELECT num FROM moments WHERE visibility = 'public'"
        f" AND deleted_at IS NULL AND num < ?{NOT_BLOCKED} ORDER BY num DESC LIMIT ?) pub"
        f" UNION SELECT num FROM ({friends_branch}) fr"
        # Cut to `limit` before fetching columns: joined whole, PostgreSQL preferred a merge
        # join that walked the whole primary key backwards.
        ") branches ORDER BY num DESC LIMIT ?) page"
        " JOIN moments m ON m.num = page.num JOIN accounts a ON a.id = m.author_id"
        " ORDER BY m.num DESC"
    )
    params = (viewer, viewer, before, limit, before, viewer, viewer, limit, *friends_params, limit)
    return [moment_row_from(r) for r in txn.execute(sql, params).fetchall()]


def author_moments_txn(
    txn: Txn,
    viewer: AccountId,
    author: AccountId,
    visible: Callable[[bool, bool], Sequence[Visibility]],
    *,
    before_num: int | None,
    limit: int,
) -> list[MomentRow] | None:
    """`author`'s moments whose visibility is in `visible(are_friends, blocked)` (blocked:
    either one has blocked the other; domain.moments.visible_to), newest first; None when
    there is no such (live) account."""
    row = txn.execute(
        "SELECT EXISTS (SELECT 1 FROM friendships f WHERE f.account_id = ? AND f.friend_id = ?),"
        " EXISTS (SELECT 1 FROM blocks b WHERE (b.account_id = ? AND b.blocked_id = ?)"
        " OR (b.account_id = ? AND b.blocked_id = ?))"
        " FROM accounts WHERE id = ? AND deleted_at IS NULL",
        (viewer, author, viewer, author, author, viewer, author),
    ).fetchone()
    if row is None:
        return None
    visibilities = [v.value for v in visible(bool(row[0]) and viewer != author, bool(row[1]))]
    if not visibilities:
        return []
    marks = ", ".join("?" * len(visibilities))
    rows = txn.execute(
        f"SELECT {MOMENT_COLUMNS} FROM moments m JOIN accounts a ON a.id = m.author_id"
        f" WHERE m.author_id = ? AND m.visibility IN ({marks}) AND m.deleted_at IS NULL"
        " AND m.num < ? ORDER BY m.num DESC LIMIT ?",
        (viewer, author, *visibilities, before_num if before_num is not None else NO_CURSOR, limit),
    ).fetchall()
    return [moment_row_from(r) for r in rows]


def delete_moment_txn(
    txn: Txn, viewer: AccountId, moment_id: str, *, now_us: int, decide: Decide
) -> None:
    """Tombstone the moment (content erased) and delete its likes and comments, atomically."""
    decide(moment_facts_txn(txn, viewer, moment_id, lock=True))
    # A tombstone: the id stays taken, the content goes now (the author asked for it gone).
    txn.execute(
        "UPDATE moments SET deleted_at = ?, content = '', media = '[]', like_count = 0,"
        " comment_count = 0 WHERE id = ? AND deleted_at IS NULL",
        (now_us, moment_id),
    )
    txn.execute("DELETE FROM moment_likes WHERE moment_id = ?", (moment_id,))
    txn.execute("DELETE FROM moment_comments WHERE moment_id = ?", (moment_id,))


def set_like_txn(
    txn: Txn, viewer: AccountId, moment_id: str, *, liked: bool, now_us: int, decide: Decide
) -> LikeResult:
    """Like (`liked`) or unlike, idempotently. The like row and `like_count` change in one
    transaction, so the count equals the number of likes under any concurrency: the count
    moves by ±1 with the insert/delete of the (moment, account) primary key, so two racing
    likes by one account conflict on the key and only one of them counts."""
    facts = decide(moment_facts_txn(txn, viewer, moment_id, lock=True))
    if liked:
        changed = (
            txn.execute(
                "INSERT INTO moment_likes (moment_id, account_id, created_at) VALUES (?, ?, ?)"
                " ON CONFLICT (moment_id, account_id) DO NOTHING",
                (moment_id, viewer, now_us),
            ).rowcount
            > 0
        )
    else:
        changed = (
            txn.execute(
                "DELETE FROM moment_likes WHERE moment_id = ? AND account_id = ?",
                (moment_id, viewer),
            ).rowcount
            > 0
        )
    if changed:
        row = txn.execute(
            "UPDATE moments SET like_count = like_count + ? WHERE id = ? RETURNING like_count",
            (1 if liked else -1, moment_id),
        ).fetchone()
    else:
        row = txn.execute("SELECT like_count FROM moments WHERE id = ?", (moment_id,)).fetchone()
    return LikeResult(facts=facts, changed=changed, like_count=int(row[0]))


def add_comment_txn(txn: Txn, comment: Comment, decide: Decide) -> tuple[CommentRow, MomentFacts]:
    """Store the comment and bump `comment_count` in one transaction."""
    facts = decide(moment_facts_txn(txn, comment.author_id, comment.moment_id, lock=True))
    num = txn.execute(
        "INSERT INTO moment_comments (id, moment_id, author_id, content, created_at)"
        " VALUES (?, ?, ?, ?, ?) RETURNING num",
        (comment.id, comment.moment_id, comment.author_id, comment.content, comment.created_at_us),
    ).fetchone()[0]
    txn.execute(
        "UPDATE moments SET comment_count = comment_count + 1 WHERE id = ?", (comment.moment_id,)
    )
    name = txn.execute(
        "SELECT display_name FROM accounts WHERE id = ?", (comment.author_id,)
    ).fetchone()
    return CommentRow(num=int(num), comment=comment, display_name=name[0] if name else ""), facts


def list_comments_txn(
    txn: Txn,
    viewer: AccountId,
    moment_id: str,
    *,
    after_num: int | None,
    limit: int,
    decide: Decide,
) -> list[CommentRow]:
    """At most `limit` live comments of a visible moment after `after_num`, oldest first,
    leaving out those of authors the viewer has blocked or who blocked the viewer (as the
    feed leaves out their moments)."""
    decide(moment_facts_txn(txn, viewer, moment_id))
    rows = txn.execute(
        f"SELECT {COMMENT_COLUMNS} FROM moment_comments c JOIN accounts a ON a.id = c.author_id"
        " WHERE c.moment_id = ? AND c.deleted_at IS NULL AND c.num > ?"
        " AND NOT EXISTS (SELECT 1 FROM blocks b WHERE (b.account_id = ? AND b.blocked_id ="
        " c.author_id) OR (b.account_id = c.author_id AND b.blocked_id = ?))"
        " ORDER BY c.num LIMIT ?",
        (moment_id, after_num if after_num is not None else 0, viewer, viewer, limit),
    ).fetchall()
    return [comment_row_from(r) for r in rows]


def delete_comment_txn(
    txn: Txn,
    viewer: AccountId,
    moment_id: str,
    comment_id: str,
    *,
    now_us: int,
    decide: Callable[[MomentFacts | None, AccountId | None], None],
) -> None:
    """Tombstone the comment and decrement `comment_count` in one transaction.
    `decide(facts, comment_author)` gets None for a comment that is not live on the moment."""
    facts = moment_facts_txn(txn, viewer, moment_id, lock=True)
    row = txn.execute(
        "SELECT author_id FROM moment_comments WHERE id = ? AND moment_id = ?"
        " AND deleted_at IS NULL",
        (comment_id, moment_id),
    ).fetchone()
    decide(facts, AccountId(row[0]) if row else None)
    # The moment row is locked (PostgreSQL) or the writer is alone (SQLite), so no one else
    # deletes the comment in between; the guard keeps the count exact regardless.
    deleted = txn.execute(
        "UPDATE moment_comments SET deleted_at = ?, content = '' WHERE id = ?"
        " AND deleted_at IS NULL",
        (now_us, comment_id),
    ).rowcount
    if deleted:
        txn.execute(
            "UPDATE moments SET comment_count = comment_count - 1 WHERE id = ?", (moment_id,)
        )
