"""accounts.name_skeleton: display names that look alike cannot both be taken (UTS #39).

Backfill: live accounts oldest first, each gets the skeleton of its current name
(domain/names.py::name_skeleton, Unicode data pinned in domain/unicode/names.json) unless an
older account already holds it; the younger of two look-alike names keeps its name but no
skeleton (NULL, which the unique index allows any number of times) until it is renamed. So the
migration never fails on existing collisions, the older name stays protected, and no account
is renamed behind its owner's back. Names the new character rules would refuse are kept too:
the rules apply to new names and renames.

Revision ID: 0008
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from agentplaza.domain.names import name_skeleton

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

BATCH = 1000


def upgrade() -> None:
    op.add_column("accounts", sa.Column("name_skeleton", sa.Text))
    conn = op.get_bind()
    taken: set[str] = set()
    last = 0
    while True:
        rows = conn.execute(
            sa.text(
                "SELECT num, display_name FROM accounts WHERE deleted_at IS NULL AND num > :last"
                " ORDER BY num LIMIT :n"
            ),
            {"last": last, "n": BATCH},
        ).fetchall()
        if not rows:
            break
        updates = []
        for num, display_name in rows:
            key = name_skeleton(display_name)
            if key not in taken:
                taken.add(key)
                updates.append({"num": num, "key": key})
        if updates:
            conn.execute(
                sa.text("UPDATE accounts SET name_skeleton = :key WHERE num = :num"), updates
            )
        last = rows[-1][0]
    op.create_index("ux_accounts_name_skeleton", "accounts", ["name_skeleton"], unique=True)


def downgrade() -> None:
    op.drop_index("ux_accounts_name_skeleton", "accounts")
    with op.batch_alter_table("accounts") as batch:  # SQLite cannot drop a column in place
        batch.drop_column("name_skeleton")
