"""Webhook registrations and the durable outbox.

Revision ID: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

# BIGSERIAL on PostgreSQL, the rowid alias on SQLite (see store/schema.py::ROW_NUMBER).
ROW_NUMBER = sa.BigInteger().with_variant(sa.Integer, "sqlite")
PENDING = "delivered_at IS NULL AND failed_at IS NULL"


def upgrade() -> None:
    op.create_table(
        "webhooks",
        sa.Column("account_id", sa.Text, primary_key=True),
        sa.Column("id", sa.Text, nullable=False, unique=True),
        sa.Column("url", sa.Text, nullable=False),
        sa.Column("secret", sa.Text, nullable=False),
        sa.Column("events", sa.Text, nullable=False, server_default="message.created"),
        sa.Column("payload_format", sa.Text, nullable=False, server_default="agentim"),
        sa.Column("active", sa.Integer, nullable=False, server_default="1"),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.Column("delivered", sa.BigInteger, nullable=False, server_default="0"),
        sa.Column("failed", sa.BigInteger, nullable=False, server_default="0"),
        sa.Column("last_error", sa.Text),
        sa.Column("last_failure_at", sa.BigInteger),
        sa.Column("last_success_at", sa.BigInteger),
    )
    op.create_table(
        "webhook_outbox",
        sa.Column("id", ROW_NUMBER, primary_key=True, autoincrement=True),
        sa.Column("account_id", sa.Text, nullable=False),
        sa.Column("message_id", sa.Text, nullable=False),
        sa.Column("seq", sa.BigInteger, nullable=False),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("next_attempt_at", sa.BigInteger, nullable=False),
        sa.Column("lease_until", sa.BigInteger),
        sa.Column("delivered_at", sa.BigInteger),
        sa.Column("failed_at", sa.BigInteger),
        sa.Column("last_status", sa.Integer),
        sa.Column("last_error", sa.Text),
    )
    op.create_index(
        "ix_webhook_outbox_due",
        "webhook_outbox",
        ["next_attempt_at"],
        sqlite_where=sa.text(PENDING),
        postgresql_where=sa.text(PENDING),
    )
    op.create_index(
        "ix_webhook_outbox_pending",
        "webhook_outbox",
        ["account_id", "seq"],
        sqlite_where=sa.text(PENDING),
        postgresql_where=sa.text(PENDING),
    )
    op.create_index(
        "ix_webhook_outbox_account_failed", "webhook_outbox", ["account_id", "failed_at"]
    )


def downgrade() -> None:
    op.drop_table("webhook_outbox")
    op.drop_table("webhooks")
