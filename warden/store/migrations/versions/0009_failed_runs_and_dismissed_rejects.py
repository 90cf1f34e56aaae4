"""failed evaluation runs (an Inspect log that ended in error or was cancelled) as a table of
their own instead of open rejects; who dismissed a reject and why

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-08
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
RUN_REASONS = ("run_error", "run_cancelled")


def upgrade() -> None:
    op.create_table(
        "failed_runs",
        sa.Column("id", ID, primary_key=True),
        sa.Column("feed", sa.String(64), nullable=False),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("content_hash", sa.String(64), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("identity", sa.String(64), nullable=False),
        sa.UniqueConstraint("feed", "identity", name="uq_failed_runs_feed_identity"),
    )
    with op.batch_alter_table("rejects", schema=None) as batch_op:
        batch_op.add_column(sa.Column("dismissed_by", sa.String(200)))
        batch_op.add_column(sa.Column("dismiss_reason", sa.Text()))
    # The failed runs recorded as rejects until now move to their table (open or not: they
    # were never bad input).
    op.execute(
        "INSERT INTO failed_runs (feed, source, content_hash, status, message, created_at, "
        "identity) SELECT feed, source, content_hash, CASE reason WHEN 'run_error' THEN 'error' "
        "ELSE 'cancelled' END, message, created_at, identity FROM rejects "
        "WHERE reason IN ('run_error', 'run_cancelled')"
    )
    op.execute("DELETE FROM rejects WHERE reason IN ('run_error', 'run_cancelled')")


def downgrade() -> None:
    op.execute(
        "INSERT INTO rejects (feed, source, content_hash, reason, message, record, field, "
        "created_at, identity) SELECT feed, source, content_hash, CASE status WHEN 'error' THEN "
        "'run_error' ELSE 'run_cancelled' END, message, NULL, 'status', created_at, identity "
        "FROM failed_runs"
    )
    with op.batch_alter_table("rejects", schema=None) as batch_op:
        batch_op.drop_column("dismiss_reason")
        batch_op.drop_column("dismissed_by")
    op.drop_table("failed_runs")
