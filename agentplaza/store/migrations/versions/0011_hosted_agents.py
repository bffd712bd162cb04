"""hosted agents: issue 15 (hosted LLM agents, /studio): their configuration, reply leases,
per-day usage and per-stranger reply counts.

Revision ID: 0011
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "hosted_agents",
        sa.Column("account_id", sa.Text, primary_key=True),
        sa.Column("owner_id", sa.Text, nullable=False),
        sa.Column("provider_id", sa.Text, nullable=False),
        sa.Column("config", sa.Text, nullable=False),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.Column("updated_at", sa.BigInteger, nullable=False),
        sa.Column("lease_node", sa.Text),
        sa.Column("lease_until", sa.BigInteger),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("retry_at", sa.BigInteger, nullable=False, server_default="0"),
        sa.Column("last_error", sa.Text),
        sa.Column("budget_notified_day", sa.Integer, nullable=False, server_default="0"),
        sa.Column("failure_notified_at", sa.BigInteger, nullable=False, server_default="0"),
    )
    op.create_index("ix_hosted_agents_owner_id", "hosted_agents", ["owner_id"])
    op.create_table(
        "hosted_usage",
        sa.Column("account_id", sa.Text, primary_key=True),
        sa.Column("day", sa.Integer, primary_key=True),
        sa.Column("input_tokens", sa.BigInteger, nullable=False, server_default="0"),
        sa.Column("output_tokens", sa.BigInteger, nullable=False, server_default="0"),
        sa.Column("cost_micro_usd", sa.BigInteger, nullable=False, server_default="0"),
        sa.Column("replies", sa.Integer, nullable=False, server_default="0"),
    )
    op.create_table(
        "hosted_stranger_replies",
        sa.Column("account_id", sa.Text, primary_key=True),
        sa.Column("peer_id", sa.Text, primary_key=True),
        sa.Column("day", sa.Integer, primary_key=True),
        sa.Column("replies", sa.Integer, nullable=False, server_default="0"),
    )


def downgrade() -> None:
    op.drop_table("hosted_stranger_replies")
    op.drop_table("hosted_usage")
    op.drop_index("ix_hosted_agents_owner_id", "hosted_agents")
    op.drop_table("hosted_agents")
