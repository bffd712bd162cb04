"""Social graph, groups, moments, files, notifications; the inbox ack index message-first.

Revision ID: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

# BIGSERIAL on PostgreSQL, the rowid alias on SQLite (see store/schema.py::ROW_NUMBER).
ROW_NUMBER = sa.BigInteger().with_variant(sa.Integer, "sqlite")
TABLES = (
    "notifications",
    "file_grants",
    "files",
    "moment_comments",
    "moment_likes",
    "moments",
    "group_members",
    "groups",
    "blocks",
    "trust_overrides",
    "friendships",
    "friend_requests",
    "account_settings",
)


def _pair(name: str, first: str, second: str) -> None:
    """A (first, second) relation with a creation time, clustered on its key."""
    op.create_table(
        name,
        sa.Column(first, sa.Text, primary_key=True),
        sa.Column(second, sa.Text, primary_key=True),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sqlite_with_rowid=False,
    )


def upgrade() -> None:
    # Acks look rows up by (account, message) either way; with the message first, the rows of
    # a group message's fan-out share one leaf page of this index instead of one per member.
    op.drop_index("ix_inbox_account_message", "inbox")
    op.create_index("ix_inbox_message_account", "inbox", ["message_id", "account_id"])
    op.create_table(
        "account_settings",
        sa.Column("account_id", sa.Text, primary_key=True),
        sa.Column("who_can_message", sa.Text, nullable=False, server_default="everyone"),
        sa.Column("discoverable", sa.Integer, nullable=False, server_default="1"),
        sa.Column("updated_at", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "friend_requests",
        sa.Column("requester_id", sa.Text, primary_key=True),
        sa.Column("addressee_id", sa.Text, primary_key=True),
        sa.Column("message", sa.Text, nullable=False, server_default=""),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sqlite_with_rowid=False,
    )
    op.create_index(
        "ix_friend_requests_addressee", "friend_requests", ["addressee_id", "created_at"]
    )
    _pair("friendships", "account_id", "friend_id")
    op.create_table(
        "trust_overrides",
        sa.Column("account_id", sa.Text, primary_key=True),
        sa.Column("other_id", sa.Text, primary_key=True),
        sa.Column("relation", sa.Text, nullable=False),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sqlite_with_rowid=False,
    )
    _pair("blocks", "account_id", "blocked_id")
    op.create_table(
        "groups",
        sa.Column("num", ROW_NUMBER, primary_key=True, autoincrement=True),
        sa.Column("id", sa.Text, nullable=False, unique=True),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("description", sa.Text, nullable=False, server_default=""),
        sa.Column("avatar_url", sa.Text, nullable=False, server_default=""),
        sa.Column("announcement", sa.Text, nullable=False, server_default=""),
        sa.Column("announcement_at", sa.BigInteger),
        sa.Column("is_public", sa.Integer, nullable=False, server_default="0"),
        sa.Column("owner_id", sa.Text, nullable=False),
        sa.Column("member_count", sa.Integer, nullable=False, server_default="0"),
        sa.Column("last_message_num", sa.BigInteger),
        sa.Column("last_message_at", sa.BigInteger),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.Column("updated_at", sa.BigInteger, nullable=False),
        sa.Column("deleted_at", sa.BigInteger),
    )
    op.create_table(
        "group_members",
        sa.Column("group_id", sa.Text, primary_key=True),
        sa.Column("account_id", sa.Text, primary_key=True),
        sa.Column("role", sa.Text, nullable=False),
        sa.Column("muted_until", sa.BigInteger),
        sa.Column("joined_at", sa.BigInteger, nullable=False),
        sqlite_with_rowid=False,
    )
    op.create_index("ix_group_members_account", "group_members", ["account_id"])
    op.create_table(
        "moments",
        sa.Column("num", ROW_NUMBER, primary_key=True, autoincrement=True),
        sa.Column("id", sa.Text, nullable=False, unique=True),
        sa.Column("author_id", sa.Text, nullable=False),
        sa.Column("content", sa.Text, nullable=False),
        sa.Column("visibility", sa.Text, nullable=False),
        sa.Column("media", sa.Text, nullable=False, server_default="[]"),
        sa.Column("like_count", sa.Integer, nullable=False, server_default="0"),
        sa.Column("comment_count", sa.Integer, nullable=False, server_default="0"),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.Column("deleted_at", sa.BigInteger),
    )
    # Partial (live moments only) so a feed's index range holds nothing it must skip; each
    # index serves one branch of the feed query (store/queries/moments.py::feed_txn).
    for name, columns in (
        ("ix_moments_author_num", ["author_id", "num"]),
        ("ix_moments_visibility_num", ["visibility", "num"]),
        ("ix_moments_author_visibility_num", ["author_id", "visibility", "num"]),
    ):
        op.create_index(
            name,
            "moments",
            columns,
            sqlite_where=sa.text("deleted_at IS NULL"),
            postgresql_where=sa.text("deleted_at IS NULL"),
        )
    _pair("moment_likes", "moment_id", "account_id")
    op.create_table(
        "moment_comments",
        sa.Column("num", ROW_NUMBER, primary_key=True, autoincrement=True),
        sa.Column("id", sa.Text, nullable=False, unique=True),
        sa.Column("moment_id", sa.Text, nullable=False),
        sa.Column("author_id", sa.Text, nullable=False),
        sa.Column("content", sa.Text, nullable=False),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.Column("deleted_at", sa.BigInteger),
    )
    op.create_index(
        "ix_moment_comments_moment_num",
        "moment_comments",
        ["moment_id", "num"],
        sqlite_where=sa.text("deleted_at IS NULL"),
        postgresql_where=sa.text("deleted_at IS NULL"),
    )
    op.create_table(
        "files",
        sa.Column("num", ROW_NUMBER, primary_key=True, autoincrement=True),
        sa.Column("id", sa.Text, nullable=False, unique=True),
        sa.Column("owner_id", sa.Text, nullable=False),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("content_type", sa.Text, nullable=False),
        sa.Column("size", sa.BigInteger, nullable=False),
        sa.Column("sha256", sa.Text, nullable=False),
        sa.Column("storage_key", sa.Text, nullable=False),
        sa.Column("public", sa.Integer, nullable=False, server_default="0"),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.Column("deleted_at", sa.BigInteger),
    )
    op.create_index("ix_files_owner", "files", ["owner_id"])
    _pair("file_grants", "file_id", "grantee_id")
    op.create_table(
        "notifications",
        sa.Column("num", ROW_NUMBER, primary_key=True, autoincrement=True),
        sa.Column("id", sa.Text, nullable=False, unique=True),
        sa.Column("account_id", sa.Text, nullable=False),
        sa.Column("kind", sa.Text, nullable=False),
        sa.Column("actor_id", sa.Text),
        sa.Column("subject_id", sa.Text),
        sa.Column("summary", sa.Text, nullable=False, server_default=""),
        sa.Column("data", sa.Text, nullable=False, server_default="{}"),
        sa.Column("message_id", sa.Text),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.Column("read_at", sa.BigInteger),
    )
    op.create_index("ix_notifications_account_num", "notifications", ["account_id", "num"])
    op.create_index(
        "ix_notifications_unread",
        "notifications",
        ["account_id"],
        sqlite_where=sa.text("read_at IS NULL"),
        postgresql_where=sa.text("read_at IS NULL"),
    )


def downgrade() -> None:
    for table in TABLES:
        op.drop_table(table)
    op.drop_index("ix_inbox_message_account", "inbox")
    op.create_index("ix_inbox_account_message", "inbox", ["account_id", "message_id"])
