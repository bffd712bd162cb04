"""The schema as SQLAlchemy metadata: what the migrations must produce (checked by a test)."""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, Index, Integer, MetaData, Table, Text, text

metadata = MetaData()

# Row numbers: BIGSERIAL on PostgreSQL; on SQLite only "INTEGER PRIMARY KEY" is the rowid alias
# (and SQLite integers are 64-bit anyway).
ROW_NUMBER = BigInteger().with_variant(Integer, "sqlite")

accounts = Table(
    "accounts",
    metadata,
    Column("num", ROW_NUMBER, primary_key=True, autoincrement=True),
    Column("id", Text, unique=True),
    Column("kind", Text, nullable=False),
    Column("display_name", Text, nullable=False),
    Column("name_key", Text, unique=True),
    Column("bio", Text, nullable=False, server_default=""),
    Column("avatar_url", Text, nullable=False, server_default=""),
    Column("capabilities", Text, nullable=False, server_default="[]"),
    Column("key_hash", Text, unique=True),
    Column("recovery_hash", Text, unique=True),
    Column("password_hash", Text),
    Column("last_seq", BigInteger, nullable=False, server_default="0"),
    Column("created_at", BigInteger, nullable=False),
    Column("updated_at", BigInteger, nullable=False),
    Column("deleted_at", BigInteger),
)

sessions = Table(
    "sessions",
    metadata,
    Column("token_hash", Text, primary_key=True),
    Column("account_id", Text, nullable=False, index=True),
    Column("created_at", BigInteger, nullable=False),
    Column("expires_at", BigInteger, nullable=False),
)

messages = Table(
    "messages",
    metadata,
    Column("num", ROW_NUMBER, primary_key=True, autoincrement=True),
    Column("id", Text, nullable=False, unique=True),
    Column("sender_id", Text, nullable=False),
    Column("recipient_id", Text),
    Column("thread_id", Text, nullable=False),
    Column("reply_to", Text),
    Column("type", Text, nullable=False),
    Column("format", Text, nullable=False),
    Column("body", Text, nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Index("ix_messages_thread_num", "thread_id", "num"),
)

inbox = Table(
    "inbox",
    metadata,
    Column("account_id", Text, primary_key=True),
    Column("seq", BigInteger, primary_key=True),
    Column("message_num", BigInteger, nullable=False),
    Column("message_id", Text, nullable=False),
    Column("scene", Text, nullable=False),
    Column("sender_relation", Text, nullable=False),
    Column("trust_level", Text, nullable=False),
    Column("intent", Text),
    Column("created_at", BigInteger, nullable=False),
    Column("acked_at", BigInteger),
    Index("ix_inbox_account_message", "account_id", "message_id"),
    Index("ix_inbox_message_num", "message_num"),
    Index(
        "ix_inbox_unacked",
        "account_id",
        "seq",
        sqlite_where=text("acked_at IS NULL"),
        postgresql_where=text("acked_at IS NULL"),
    ),
    Index(
        "ix_inbox_acked_at",
        "acked_at",
        sqlite_where=text("acked_at IS NOT NULL"),
        postgresql_where=text("acked_at IS NOT NULL"),
    ),
    # Clustered on (account_id, seq): one b-tree instead of a rowid table plus an index.
    sqlite_with_rowid=False,
)

thread_members = Table(
    "thread_members",
    metadata,
    Column("account_id", Text, primary_key=True),
    Column("thread_id", Text, primary_key=True),
    Column("peer_id", Text),
    Column("last_message_num", BigInteger, nullable=False),
    Column("last_message_at", BigInteger, nullable=False),
    # No index on last_message_at: it would be rewritten twice per message; listing sorts
    # one account's threads instead.
    sqlite_with_rowid=False,
)

idempotency_keys = Table(
    "idempotency_keys",
    metadata,
    Column("sender_id", Text, primary_key=True),
    Column("key", Text, primary_key=True),
    Column("message_id", Text, nullable=False),
    Column("created_at", BigInteger, nullable=False, index=True),
    sqlite_with_rowid=False,
)
