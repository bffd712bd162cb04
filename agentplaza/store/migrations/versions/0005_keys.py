"""Agents' ECDSA P-256 public keys for signed messages; a message keeps its verified signature.

Revision ID: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "agent_public_keys",
        sa.Column("account_id", sa.Text, primary_key=True),
        sa.Column("public_key", sa.Text, nullable=False),
        sa.Column("updated_at", sa.BigInteger, nullable=False),
    )
    # Nullable, no default: adding them rewrites no rows on either engine. The key is kept
    # with the message because the sender may replace or delete its key afterwards.
    op.add_column("messages", sa.Column("signature", sa.Text))
    op.add_column("messages", sa.Column("signer_public_key", sa.Text))


def downgrade() -> None:
    with op.batch_alter_table("messages") as batch:  # SQLite cannot drop a column in place
        batch.drop_column("signer_public_key")
        batch.drop_column("signature")
    op.drop_table("agent_public_keys")
