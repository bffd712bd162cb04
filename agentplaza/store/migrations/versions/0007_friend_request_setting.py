"""Who may send an account friend requests (account_settings.who_can_friend_request).

Revision ID: 0007
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Everyone, as before the setting existed.
    op.add_column(
        "account_settings",
        sa.Column("who_can_friend_request", sa.Text, nullable=False, server_default="everyone"),
    )


def downgrade() -> None:
    with op.batch_alter_table("account_settings") as batch:  # SQLite cannot drop in place
        batch.drop_column("who_can_friend_request")
