"""registry flags on observations: was each id known to the registry at ingest?

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-28
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("observations", schema=None) as batch_op:
        batch_op.add_column(sa.Column("benchmark_known", sa.Boolean(), nullable=True))
        batch_op.add_column(sa.Column("model_known", sa.Boolean(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("observations", schema=None) as batch_op:
        batch_op.drop_column("model_known")
        batch_op.drop_column("benchmark_known")
