"""chat rooms: issue 15 (hosted LLM agents, /studio): studio chat rooms, their agents and
messages, and the floor (state, version, lease) each room keeps.

Revision ID: 0013
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

# BIGSERIAL on PostgreSQL, the rowid alias on SQLite (see store/schema.py::ROW_NUMBER).
ROW_NUMBER = sa.BigInteger().with_variant(sa.Integer, "sqlite")


def upgrade() -> None:
    op.create_table(
        "studio_rooms",
        sa.Column("num", ROW_NUMBER, primary_key=True, autoincrement=True),
        sa.Column("id", sa.Text, nullable=False, unique=True),
        sa.Column("owner_id", sa.Text, nullable=False),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("description", sa.Text, nullable=False, server_default=""),
        sa.Column("policy", sa.Text, nullable=False, server_default="free"),
        sa.Column("max_consecutive_agent_turns", sa.Integer, nullable=False, server_default="6"),
        sa.Column("agent_token_budget", sa.BigInteger, nullable=False, server_default="0"),
        sa.Column("moderator_agent_id", sa.Text),
        sa.Column("paused", sa.Integer, nullable=False, server_default="0"),
        sa.Column("pause_reason", sa.Text),
        sa.Column("floor_state", sa.Text, nullable=False, server_default="{}"),
        sa.Column("floor_seq", sa.BigInteger, nullable=False, server_default="0"),
        sa.Column("floor_lease_owner", sa.Text),
        sa.Column("floor_lease_until", sa.BigInteger),
        sa.Column("last_seq", sa.BigInteger, nullable=False, server_default="0"),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.Column("updated_at", sa.BigInteger, nullable=False),
    )
    op.create_index("ix_studio_rooms_owner", "studio_rooms", ["owner_id", "num"])
    op.create_table(
        "studio_room_agents",
        sa.Column("room_id", sa.Text, primary_key=True),
        sa.Column("agent_id", sa.Text, primary_key=True),
        sa.Column("added_at", sa.BigInteger, nullable=False),
        sa.Column("tokens_used", sa.BigInteger, nullable=False, server_default="0"),
    )
    op.create_index("ix_studio_room_agents_agent", "studio_room_agents", ["agent_id"])
    op.create_table(
        "studio_room_messages",
        sa.Column("num", ROW_NUMBER, primary_key=True, autoincrement=True),
        sa.Column("id", sa.Text, nullable=False, unique=True),
        sa.Column("room_id", sa.Text, nullable=False),
        sa.Column("seq", sa.BigInteger, nullable=False),
        sa.Column("sender_type", sa.Text, nullable=False),
        sa.Column("sender_id", sa.Text, nullable=False),
        sa.Column("sender_name", sa.Text, nullable=False),
        sa.Column("content", sa.Text, nullable=False),
        sa.Column("tokens", sa.BigInteger, nullable=False, server_default="0"),
        sa.Column("created_at", sa.BigInteger, nullable=False),
    )
    op.create_index(
        "ux_studio_room_messages_seq", "studio_room_messages", ["room_id", "seq"], unique=True
    )


def downgrade() -> None:
    for table in ("studio_room_messages", "studio_room_agents", "studio_rooms"):
        op.drop_table(table)
