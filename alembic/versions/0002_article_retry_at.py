"""article retry_at: when an article's latest task began or is due

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22 20:13:49.106430
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # A nullable column: a plain ALTER TABLE on both databases, no table copy.
    op.add_column(
        "articles", sa.Column("retry_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True)
    )


def downgrade() -> None:
    # Not batch mode: on SQLite that copies the table and drops the old one, which the
    # foreign keys pointing at articles refuse. DROP COLUMN exists since SQLite 3.35.
    op.execute("ALTER TABLE articles DROP COLUMN retry_at")
