"""feed run failure reasons and resolved rejects

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-28
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("feed_runs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("error_reason", sa.String(32)))
    with op.batch_alter_table("rejects", schema=None) as batch_op:
        batch_op.add_column(sa.Column("resolved_at", sa.DateTime(timezone=True)))


def downgrade() -> None:
    with op.batch_alter_table("rejects", schema=None) as batch_op:
        batch_op.drop_column("resolved_at")
    with op.batch_alter_table("feed_runs", schema=None) as batch_op:
        batch_op.drop_column("error_reason")
