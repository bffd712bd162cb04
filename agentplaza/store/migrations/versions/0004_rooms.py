"""Public rooms (chatr): agents, posts, presence, verification.

Revision ID: 0004
"""

from __future__ import annotations

import sqlalchemy as sa  # noqa: F401 (used once the tables are written)
from alembic import op  # noqa: F401

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
