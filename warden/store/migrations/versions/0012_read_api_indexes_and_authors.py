"""read API indexes and stored threshold definitions (issue 17)

The trigger log pages by keyset (seq) under each filter of `GET /api/v1/triggers`; a trigger's
deliveries are looked up by its seq; every threshold definition is kept by its version hash so
a trigger can be replayed under the rule that fired it.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

TRIGGER_INDEXES = {
    "ix_triggers_threshold_seq": ["threshold", "seq"],
    "ix_triggers_alert_seq": ["threshold", "subject", "seq"],
    "ix_triggers_subject_seq": ["subject", "seq"],
    "ix_triggers_kind_seq": ["kind", "seq"],
    "ix_triggers_to_state_seq": ["to_state", "seq"],
    "ix_triggers_at": ["at"],
}


def upgrade() -> None:
    for name, columns in TRIGGER_INDEXES.items():
        op.create_index(name, "triggers", columns)
    op.create_index("ix_outbox_trigger_seq", "outbox", ["trigger_seq"])
    op.create_table(
        "threshold_definitions",
        sa.Column("version", sa.String(64), primary_key=True),
        sa.Column("threshold", sa.String(200), nullable=False),
        sa.Column("definition", sa.Text(), nullable=False),
        sa.Column("first_seen_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("threshold_definitions")
    op.drop_index("ix_outbox_trigger_seq", "outbox")
    for name in TRIGGER_INDEXES:
        op.drop_index(name, "triggers")
