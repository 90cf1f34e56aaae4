"""the leadership epoch on every trigger and feed-run row (issue 19)

`triggers.epoch` and `feed_runs.epoch`: the leadership epoch (fencing token) each row was
written under (warden.store.engine.write_epoch), so that who decided what, under which leader,
can be read back after a failover. Nullable: SQLite stores have no election (one process), and
rows written before this revision were not recorded under any: they stay NULL rather than get
an epoch guessed for them. The epoch is not part of a trigger's hashed content, so every entry
verifies as before.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None

TABLES = ("triggers", "feed_runs")


def upgrade() -> None:
    # Plain ALTERs: a nullable column without a default is added in place on SQLite and
    # PostgreSQL alike (no table rewrite, old rows read NULL).
    for table in TABLES:
        op.add_column(table, sa.Column("epoch", sa.BigInteger(), nullable=True))


def downgrade() -> None:
    # SQLite 3.35 and later drop an unindexed column in place, as PostgreSQL does.
    for table in TABLES:
        op.drop_column(table, "epoch")
