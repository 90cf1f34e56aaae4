"""trigger log Merkle tree (issue 18): the stored hashes of its complete subtrees, built here over
the entries already logged, and the checkpoints warden issued

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    from warden.store.merkle import rebuild

    op.create_table(
        "merkle_hashes",
        sa.Column("id", ID, primary_key=True, autoincrement=False),
        sa.Column("hash", sa.LargeBinary(32), nullable=False),
    )
    op.create_table(
        "log_checkpoints",
        sa.Column("id", ID, primary_key=True),
        sa.Column("tree_size", sa.BigInteger(), nullable=False),
        sa.Column("root_hash", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("key_id", sa.String(16)),
    )
    # The tree over the entries logged before it existed, leaf by leaf in seq order.
    conn = op.get_bind()
    rows = conn.execute(sa.text("SELECT content FROM triggers ORDER BY seq"))
    rebuild(conn, (content for (content,) in rows))


def downgrade() -> None:
    op.drop_table("log_checkpoints")
    op.drop_table("merkle_hashes")
