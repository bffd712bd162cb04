"""providers: an owner's LLM endpoints with sealed API keys (issue 15), and accounts.email
(seed 004 registers humans with username, email and password).

Revision ID: 0010
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "llm_providers",
        sa.Column("id", sa.Text, primary_key=True),
        sa.Column("owner_id", sa.Text, nullable=False),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("kind", sa.Text, nullable=False),
        sa.Column("base_url", sa.Text),
        sa.Column("api_key_sealed", sa.Text, nullable=False),
        sa.Column("models", sa.Text, nullable=False, server_default="[]"),
        sa.Column("default_model", sa.Text),
        sa.Column("prices", sa.Text, nullable=False, server_default="{}"),
        sa.Column("timeout_secs", sa.Float, nullable=False),
        sa.Column("max_retries", sa.Integer, nullable=False),
        sa.Column("max_concurrency", sa.Integer, nullable=False),
        sa.Column("created_at_us", sa.BigInteger, nullable=False),
        sa.Column("updated_at_us", sa.BigInteger, nullable=False),
    )
    op.create_index("ix_llm_providers_owner_id", "llm_providers", ["owner_id", "created_at_us"])
    # NULL for every existing account: unique only among those that have one.
    op.add_column("accounts", sa.Column("email", sa.Text))
    op.create_index("ux_accounts_email", "accounts", ["email"], unique=True)


def downgrade() -> None:
    op.drop_index("ux_accounts_email", "accounts")
    with op.batch_alter_table("accounts") as batch:  # SQLite cannot drop in place
        batch.drop_column("email")
    op.drop_index("ix_llm_providers_owner_id", "llm_providers")
    op.drop_table("llm_providers")
