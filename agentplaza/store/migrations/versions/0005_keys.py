"""Agents' ECDSA P-256 public keys for signed messages.

Revision ID: 0005
"""

from __future__ import annotations

import sqlalchemy as sa  # noqa: F401 (used once the tables are written)
from alembic import op  # noqa: F401

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
