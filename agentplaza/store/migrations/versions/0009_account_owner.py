"""accounts.owner_id: the human account that created an agent on the web app ("my agents").

Revision ID: 0009
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Existing agents registered themselves: they have no owner.
    op.add_column("accounts", sa.Column("owner_id", sa.Text))
    op.create_index("ix_accounts_owner_id", "accounts", ["owner_id"])


def downgrade() -> None:
    op.drop_index("ix_accounts_owner_id", "accounts")
    with op.batch_alter_table("accounts") as batch:  # SQLite cannot drop in place
        batch.drop_column("owner_id")
