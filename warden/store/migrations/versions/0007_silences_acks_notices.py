"""silences, acknowledgements on alert states, and notices (repeats and escalations)

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-28
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "silences",
        sa.Column("id", ID, primary_key=True),
        sa.Column("matchers", sa.JSON(), nullable=False),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ends_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(200), nullable=False),
        sa.Column("comment", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expired_at", sa.DateTime(timezone=True)),
        sa.Column("expired_by", sa.String(200)),
    )
    with op.batch_alter_table("alert_states", schema=None) as batch_op:
        batch_op.add_column(sa.Column("acked_by", sa.String(200)))
        batch_op.add_column(sa.Column("acked_at", sa.DateTime(timezone=True)))
        batch_op.add_column(sa.Column("ack_note", sa.Text()))
    op.create_table(
        "notices",
        sa.Column("threshold", sa.String(200), primary_key=True),
        sa.Column("subject", sa.String(200), primary_key=True),
        sa.Column("route", sa.Integer(), primary_key=True),
        sa.Column("last_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("repeats", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("escalated_at", sa.DateTime(timezone=True)),
    )


def downgrade() -> None:
    op.drop_table("notices")
    with op.batch_alter_table("alert_states", schema=None) as batch_op:
        batch_op.drop_column("ack_note")
        batch_op.drop_column("acked_at")
        batch_op.drop_column("acked_by")
    op.drop_table("silences")
