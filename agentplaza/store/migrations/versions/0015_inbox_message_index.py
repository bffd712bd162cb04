"""One index on inbox (message_num, account_id) instead of (message_id, account_id) and
(message_num).

Each delivery wrote an entry into both; the new one serves what each served: a message's rows
(webhook outbox, purge) by its prefix, and an ack by (account, message) through the
message's num. Its entries are also smaller (an integer where the message id was), so a
group fan-out's commit writes fewer index pages.

Revision ID: 0015
"""

from __future__ import annotations

from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_inbox_message_num_account", "inbox", ["message_num", "account_id"])
    op.drop_index("ix_inbox_message_account", "inbox")
    op.drop_index("ix_inbox_message_num", "inbox")


def downgrade() -> None:
    op.create_index("ix_inbox_message_num", "inbox", ["message_num"])
    op.create_index("ix_inbox_message_account", "inbox", ["message_id", "account_id"])
    op.drop_index("ix_inbox_message_num_account", "inbox")
