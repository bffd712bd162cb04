"""The inbox keyed by (message_num, account_id, seq), with a unique index on (account_id, seq).

SQLite stores a WITHOUT ROWID table in primary key order. Keyed by (account_id, seq), a
50-member group send wrote each member's row into a page of its own, and split one now and
then: 78 of the 90 pages its commit wrote to the WAL (bench/wal_frames.py). Keyed by message
first, the rows of one send share a page or two; the unique index keeps an account's inbox in
seq order with entries a fifth of a row's size: 72 pages per commit, and 7 % less server CPU
per group delivery at one sender (bench/README.md, sixth round). On SQLite the table is rebuilt
(rows copied in the new order: ~4 s per million rows); on PostgreSQL, whose heap has no such
order, only the primary key and the indexes change (ix_inbox_message_num_account is the new
key's prefix).

Revision ID: 0016
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None

COLUMNS = (
    "account_id, seq, message_num, message_id, scene, sender_relation, trust_level, intent,"
    " created_at, acked_at"
)


def _rebuild_sqlite(key: tuple[str, ...]) -> None:
    """Copy SQLite's inbox into a table clustered on `key`, in that order, and drop the old
    one (its indexes go with it)."""
    op.create_table(
        "inbox_rebuilt",
        sa.Column("account_id", sa.Text, nullable=False),
        sa.Column("seq", sa.BigInteger, nullable=False),
        sa.Column("message_num", sa.BigInteger, nullable=False),
        sa.Column("message_id", sa.Text, nullable=False),
        sa.Column("scene", sa.Text, nullable=False),
        sa.Column("sender_relation", sa.Text, nullable=False),
        sa.Column("trust_level", sa.Text, nullable=False),
        sa.Column("intent", sa.Text),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.Column("acked_at", sa.BigInteger),
        sa.PrimaryKeyConstraint(*key),
        sqlite_with_rowid=False,
    )
    op.execute(
        f"INSERT INTO inbox_rebuilt ({COLUMNS}) SELECT {COLUMNS} FROM inbox"
        f" ORDER BY {', '.join(key)}"
    )
    op.drop_table("inbox")
    op.rename_table("inbox_rebuilt", "inbox")
    op.create_index(
        "ix_inbox_acked_at",
        "inbox",
        ["acked_at"],
        sqlite_where=sa.text("acked_at IS NOT NULL"),
    )


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        _rebuild_sqlite(("message_num", "account_id", "seq"))
    else:
        op.drop_constraint("inbox_pkey", "inbox", type_="primary")
        op.create_primary_key("inbox_pkey", "inbox", ["message_num", "account_id", "seq"])
        op.drop_index("ix_inbox_message_num_account", "inbox")
    op.create_index("ux_inbox_account_seq", "inbox", ["account_id", "seq"], unique=True)


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        _rebuild_sqlite(("account_id", "seq"))
    else:
        op.drop_index("ux_inbox_account_seq", "inbox")
        op.drop_constraint("inbox_pkey", "inbox", type_="primary")
        op.create_primary_key("inbox_pkey", "inbox", ["account_id", "seq"])
    op.create_index("ix_inbox_message_num_account", "inbox", ["message_num", "account_id"])
