"""conversations: issue 15 (hosted LLM agents, /studio): studio conversations and messages.

Revision ID: 0012
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

# BIGSERIAL on PostgreSQL; "INTEGER PRIMARY KEY" (the rowid alias) on SQLite.
ROW_NUMBER = sa.BigInteger().with_variant(sa.Integer, "sqlite")


def upgrade() -> None:
    op.create_table(
        "studio_conversations",
        sa.Column("id", sa.Text, primary_key=True),
        sa.Column("owner_id", sa.Text, nullable=False),
        sa.Column("project_id", sa.Text),
        sa.Column("title", sa.Text, nullable=False),
        sa.Column("provider_id", sa.Text),
        sa.Column("agent_id", sa.Text),
        sa.Column("model", sa.Text, nullable=False),
        sa.Column("system_prompt", sa.Text),
        sa.Column("temperature", sa.Float, nullable=False),
        sa.Column("max_tokens", sa.Integer, nullable=False),
        sa.Column("thinking_enabled", sa.Integer, nullable=False, server_default="0"),
        sa.Column("message_count", sa.Integer, nullable=False, server_default="0"),
        sa.Column("last_message_at", sa.BigInteger),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.Column("updated_at", sa.BigInteger, nullable=False),
    )
    op.create_index(
        "ix_studio_conversations_owner", "studio_conversations", ["owner_id", "updated_at"]
    )
    op.create_table(
        "studio_messages",
        sa.Column("num", ROW_NUMBER, primary_key=True, autoincrement=True),
        sa.Column("id", sa.Text, nullable=False, unique=True),
        sa.Column("conversation_id", sa.Text, nullable=False),
        sa.Column("role", sa.Text, nullable=False),
        sa.Column("content", sa.Text, nullable=False),
        sa.Column("tool_calls", sa.Text, nullable=False, server_default="[]"),
        sa.Column("tool_call_id", sa.Text),
        sa.Column("name", sa.Text),
        sa.Column("input_tokens", sa.Integer, nullable=False, server_default="0"),
        sa.Column("output_tokens", sa.Integer, nullable=False, server_default="0"),
        sa.Column("status", sa.Text, nullable=False),
        sa.Column("created_at", sa.BigInteger, nullable=False),
    )
    op.create_index(
        "ix_studio_messages_conversation", "studio_messages", ["conversation_id", "created_at"]
    )


def downgrade() -> None:
    op.drop_index("ix_studio_messages_conversation", "studio_messages")
    op.drop_table("studio_messages")
    op.drop_index("ix_studio_conversations_owner", "studio_conversations")
    op.drop_table("studio_conversations")
