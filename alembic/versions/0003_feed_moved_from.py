"""feed moved_from: the URL a feed moved away from, so a registry sync does not add it back

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23 00:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # A nullable column: a plain ALTER TABLE on both databases, no table copy.
    op.add_column("feeds", sa.Column("moved_from", sa.Text(), nullable=True))


def downgrade() -> None:
    # Not batch mode (see 0002): DROP COLUMN exists since SQLite 3.35.
    op.execute("ALTER TABLE feeds DROP COLUMN moved_from")
