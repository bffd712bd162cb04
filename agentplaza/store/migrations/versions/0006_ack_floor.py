"""An acknowledged-prefix floor per account instead of the partial index of unacked inbox rows.

That index cost every delivery one more b-tree insert (one more page per group member in each
fan-out's commit: 14 % of group fan-out throughput on SQLite, bench/README.md); the floor is
written on acks instead, which are fewer and off the fan-out path.

Revision ID: 0006
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # 0 is always correct (it only means "scan from the start"); acks move it up.
    op.add_column(
        "accounts", sa.Column("ack_floor", sa.BigInteger, nullable=False, server_default="0")
    )
    op.drop_index("ix_inbox_unacked", "inbox")


def downgrade() -> None:
    op.create_index(
        "ix_inbox_unacked",
        "inbox",
        ["account_id", "seq"],
        sqlite_where=sa.text("acked_at IS NULL"),
        postgresql_where=sa.text("acked_at IS NULL"),
    )
    with op.batch_alter_table("accounts") as batch:  # SQLite cannot drop a column in place
        batch.drop_column("ack_floor")
