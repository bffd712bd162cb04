"""Accounts, sessions, messages, inboxes, threads, idempotency keys.

Revision ID: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

# BIGSERIAL on PostgreSQL, the rowid alias on SQLite (see store/schema.py::ROW_NUMBER).
ROW_NUMBER = sa.BigInteger().with_variant(sa.Integer, "sqlite")


def upgrade() -> None:
    op.create_table(
        "accounts",
        sa.Column("num", ROW_NUMBER, primary_key=True, autoincrement=True),
        sa.Column("id", sa.Text, unique=True),
        sa.Column("kind", sa.Text, nullable=False),
        sa.Column("display_name", sa.Text, nullable=False),
        sa.Column("name_key", sa.Text, unique=True),
        sa.Column("bio", sa.Text, nullable=False, server_default=""),
        sa.Column("avatar_url", sa.Text, nullable=False, server_default=""),
        sa.Column("capabilities", sa.Text, nullable=False, server_default="[]"),
        sa.Column("key_hash", sa.Text, unique=True),
        sa.Column("recovery_hash", sa.Text, unique=True),
        sa.Column("password_hash", sa.Text),
        sa.Column("last_seq", sa.BigInteger, nullable=False, server_default="0"),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.Column("updated_at", sa.BigInteger, nullable=False),
        sa.Column("deleted_at", sa.BigInteger),
    )
    op.create_table(
        "sessions",
        sa.Column("token_hash", sa.Text, primary_key=True),
        sa.Column("account_id", sa.Text, nullable=False),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.Column("expires_at", sa.BigInteger, nullable=False),
    )
    op.create_index("ix_sessions_account_id", "sessions", ["account_id"])
    op.create_table(
        "messages",
        sa.Column("num", ROW_NUMBER, primary_key=True, autoincrement=True),
        sa.Column("id", sa.Text, nullable=False, unique=True),
        sa.Column("sender_id", sa.Text, nullable=False),
        sa.Column("recipient_id", sa.Text),
        sa.Column("thread_id", sa.Text, nullable=False),
        sa.Column("reply_to", sa.Text),
        sa.Column("type", sa.Text, nullable=False),
        sa.Column("format", sa.Text, nullable=False),
        sa.Column("body", sa.Text, nullable=False),
        sa.Column("created_at", sa.BigInteger, nullable=False),
    )
    op.create_index("ix_messages_thread_num", "messages", ["thread_id", "num"])
    op.create_table(
        "inbox",
        sa.Column("account_id", sa.Text, primary_key=True),
        sa.Column("seq", sa.BigInteger, primary_key=True),
        sa.Column("message_num", sa.BigInteger, nullable=False),
        sa.Column("message_id", sa.Text, nullable=False),
        sa.Column("scene", sa.Text, nullable=False),
        sa.Column("sender_relation", sa.Text, nullable=False),
        sa.Column("trust_level", sa.Text, nullable=False),
        sa.Column("intent", sa.Text),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.Column("acked_at", sa.BigInteger),
        sqlite_with_rowid=False,
    )
    op.create_index("ix_inbox_account_message", "inbox", ["account_id", "message_id"])
    op.create_index("ix_inbox_message_num", "inbox", ["message_num"])
    op.create_index(
        "ix_inbox_unacked",
        "inbox",
        ["account_id", "seq"],
        sqlite_where=sa.text("acked_at IS NULL"),
        postgresql_where=sa.text("acked_at IS NULL"),
    )
    op.create_index(
        "ix_inbox_acked_at",
        "inbox",
        ["acked_at"],
        sqlite_where=sa.text("acked_at IS NOT NULL"),
        postgresql_where=sa.text("acked_at IS NOT NULL"),
    )
    op.create_table(
        "thread_members",
        sa.Column("account_id", sa.Text, primary_key=True),
        sa.Column("thread_id", sa.Text, primary_key=True),
        sa.Column("peer_id", sa.Text),
        sa.Column("last_message_num", sa.BigInteger, nullable=False),
        sa.Column("last_message_at", sa.BigInteger, nullable=False),
        sqlite_with_rowid=False,
    )
    op.create_table(
        "idempotency_keys",
        sa.Column("sender_id", sa.Text, primary_key=True),
        sa.Column("key", sa.Text, primary_key=True),
        sa.Column("message_id", sa.Text, nullable=False),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sqlite_with_rowid=False,
    )
    op.create_index("ix_idempotency_keys_created_at", "idempotency_keys", ["created_at"])


def downgrade() -> None:
    for table in (
        "idempotency_keys",
        "thread_members",
        "inbox",
        "messages",
        "sessions",
        "accounts",
    ):
        op.drop_table(table)
