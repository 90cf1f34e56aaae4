"""several replicas on PostgreSQL (issue 19): the leadership epoch and the replicas

`leadership` holds one row, the current epoch: each new leader increments it, and every write
of a leader-only job checks the epoch it started under (warden/store/leader.py), so a stalled
ex-leader's late transaction fails instead of writing. `replicas` lists the daemons sharing the
store, with their heartbeats (`warden status`).

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "leadership",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("epoch", sa.BigInteger(), nullable=False),
        sa.Column("leader", sa.String(200)),
        sa.Column("since", sa.DateTime(timezone=True)),
    )
    op.create_table(
        "replicas",
        sa.Column("id", sa.String(200), primary_key=True),
        sa.Column("host", sa.String(200), nullable=False),
        sa.Column("pid", sa.Integer(), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("heartbeat_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("leader_epoch", sa.BigInteger()),
    )
    op.execute(sa.text("INSERT INTO leadership (id, epoch) VALUES (1, 0)"))


def downgrade() -> None:
    op.drop_table("replicas")
    op.drop_table("leadership")
