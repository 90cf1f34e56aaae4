"""outbox: the alert each notification is about (delivery in order per alert and sink), when its
retries were last re-driven (the age bound of its retries counts from then), who holds its
lease (a restarted daemon takes back its own at once), and the group it is sent with; and when
warden started watching each threshold (evidence older than that is history, not news)

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.add_column(sa.Column("alert", sa.String(400)))
        batch_op.add_column(sa.Column("retry_since_at", sa.DateTime(timezone=True)))
        batch_op.add_column(sa.Column("claim_owner", sa.String(200)))
        batch_op.add_column(sa.Column("group_key", sa.String(400)))
        batch_op.create_index("ix_outbox_alert", ["sink", "alert", "status", "id"])
    op.create_table(
        "watched",
        sa.Column("threshold", sa.String(200), primary_key=True),
        sa.Column("since_at", sa.DateTime(timezone=True), nullable=False),
    )
    # Rows queued before this revision: their alert from the trigger they notify of.
    outbox = sa.table(
        "outbox", sa.column("id"), sa.column("trigger_seq"), sa.column("alert", sa.String)
    )
    triggers = sa.table("triggers", sa.column("seq"), sa.column("threshold"), sa.column("subject"))
    conn = op.get_bind()
    rows = conn.execute(
        sa.select(outbox.c.id, triggers.c.threshold, triggers.c.subject).join(
            triggers, triggers.c.seq == outbox.c.trigger_seq
        )
    ).all()
    for row_id, threshold, subject in rows:
        conn.execute(
            sa.update(outbox).where(outbox.c.id == row_id).values(alert=f"{threshold} {subject}")
        )


def downgrade() -> None:
    op.drop_table("watched")
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_column("group_key")
        batch_op.drop_index("ix_outbox_alert")
        batch_op.drop_column("claim_owner")
        batch_op.drop_column("retry_since_at")
        batch_op.drop_column("alert")
