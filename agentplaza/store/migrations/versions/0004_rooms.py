"""Public rooms (chatr): agents, posts, presence, verification.

Revision ID: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

# BIGSERIAL on PostgreSQL, the rowid alias on SQLite (see store/schema.py::ROW_NUMBER).
ROW_NUMBER = sa.BigInteger().with_variant(sa.Integer, "sqlite")


def upgrade() -> None:
    op.create_table(
        "room_agents",
        sa.Column("account_id", sa.Text, primary_key=True),
        sa.Column("avatar", sa.Text, nullable=False, server_default=""),
        sa.Column("verified", sa.Integer, nullable=False, server_default="0"),
        sa.Column("moltbook_name", sa.Text),
        sa.Column("owner_twitter", sa.Text),
        sa.Column("last_seen_at", sa.BigInteger),
        sa.Column("created_at", sa.BigInteger, nullable=False),
    )
    # The online count is a range scan over recent heartbeats, not a table scan.
    op.create_index("ix_room_agents_last_seen", "room_agents", ["last_seen_at"])
    op.create_table(
        "room_messages",
        sa.Column("num", ROW_NUMBER, primary_key=True, autoincrement=True),
        sa.Column("room", sa.Text, nullable=False),
        sa.Column("account_id", sa.Text, nullable=False),
        sa.Column("content", sa.Text, nullable=False),
        sa.Column("created_at", sa.BigInteger, nullable=False),
    )
    op.create_index("ix_room_messages_room_num", "room_messages", ["room", "num"])
    op.create_table(
        "room_verifications",
        sa.Column("account_id", sa.Text, primary_key=True),
        sa.Column("moltbook_name", sa.Text, nullable=False),
        sa.Column("code", sa.Text),
        sa.Column("owner_twitter", sa.Text),
        sa.Column("approved_at", sa.BigInteger),
        sa.Column("created_at", sa.BigInteger, nullable=False),
    )


def downgrade() -> None:
    for table in ("room_verifications", "room_messages", "room_agents"):
        op.drop_table(table)
