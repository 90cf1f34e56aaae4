"""assessments (for since_assessment), vendor_reported on observations, feed cursors

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-28
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("observations", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("vendor_reported", sa.Boolean(), nullable=False, server_default=sa.false())
        )
    with op.batch_alter_table("feeds", schema=None) as batch_op:
        batch_op.add_column(sa.Column("cursor", sa.JSON()))
    op.create_table(
        "assessments",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True),
        sa.Column("model", sa.String(200), nullable=False, index=True),
        sa.Column("assessed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("by", sa.String(200), nullable=False),
        sa.Column("compute", sa.Float()),
        sa.Column("note", sa.Text(), nullable=False, server_default=""),
        sa.Column("trigger_seq", sa.BigInteger(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("assessments")
    with op.batch_alter_table("feeds", schema=None) as batch_op:
        batch_op.drop_column("cursor")
    with op.batch_alter_table("observations", schema=None) as batch_op:
        batch_op.drop_column("vendor_reported")
