"""who measured each observation (issue 20)

Every observation says who measured it: `vendor` (the model's developer: model cards, a lab's
own table), `independent` (Epoch, METR, HELM, leaderboards) or `own` (this deployment's runs and
pushes). A series is also per measurer, and the series index carries the column so that the
evaluator's read never touches the table.

Backfill, from what each row kept:

- rows whose attributes already name a `measured_by` (vendor, independent or own): that;
- rows `vendor_reported`: `vendor`;
- rows of feeds whose connector reads an independent evaluator's data (epoch_benchmarks,
  epoch_models, metr_horizons, helm, swebench): `independent`;
- the rest keep the default, `own`.

Content keys are unchanged, so re-reading a feed after the upgrade adds nothing. Downgrade drops
the column and restores the index.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-08
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

SERIES = ["benchmark", "metric", "subject", "variant", "observed_at DESC", "key", "value", "id"]
TAIL = ["stderr", "n", "feed"]
MEASURERS = ("vendor", "independent", "own")
INDEPENDENT_CONNECTORS = frozenset(
    {"epoch_benchmarks", "epoch_models", "metr_horizons", "helm", "swebench"}
)

_observations = sa.table(
    "observations",
    sa.column("id", sa.BigInteger()),
    sa.column("feed", sa.String()),
    sa.column("vendor_reported", sa.Boolean()),
    sa.column("attributes", sa.JSON()),
    sa.column("measured_by", sa.String()),
)
_feeds = sa.table("feeds", sa.column("id", sa.String()), sa.column("connector", sa.String()))


def _index(with_measurer: bool) -> list[Any]:
    names = [*SERIES, *TAIL, *(["measured_by"] if with_measurer else [])]
    return [sa.text(c) if " " in c else c for c in names]


def upgrade() -> None:
    # Plain ALTERs, as in 0011: SQLite adds a column with a default in place.
    op.add_column(
        "observations",
        sa.Column("measured_by", sa.String(length=16), nullable=False, server_default="own"),
    )
    op.drop_index("ix_observations_series", table_name="observations")
    op.create_index("ix_observations_series", "observations", _index(True))
    _backfill(op.get_bind())


def downgrade() -> None:
    op.drop_index("ix_observations_series", table_name="observations")
    with op.batch_alter_table("observations", schema=None) as batch_op:
        batch_op.drop_column("measured_by")
    op.create_index("ix_observations_series", "observations", _index(False))


def _backfill(conn: sa.Connection) -> None:
    o = _observations
    conn.execute(sa.update(o).where(o.c.vendor_reported.is_(True)).values(measured_by="vendor"))
    independent = [
        feed
        for feed, connector in conn.execute(sa.select(_feeds.c.id, _feeds.c.connector))
        if connector in INDEPENDENT_CONNECTORS
    ]
    if independent:
        conn.execute(
            sa.update(o)
            .where(o.c.feed.in_(independent), o.c.vendor_reported.is_(False))
            .values(measured_by="independent")
        )
    # Rows that name their measurer (pushes, mapped feeds) say it themselves.
    rows = conn.execute(
        sa.select(o.c.id, o.c.attributes).where(
            sa.cast(o.c.attributes, sa.Text).like('%"measured_by"%')
        )
    ).all()
    changes = [
        {"b_id": id_, "b_measured_by": given}
        for id_, attributes in rows
        if isinstance(attributes, dict) and (given := attributes.get("measured_by")) in MEASURERS
    ]
    if changes:
        conn.execute(
            sa.update(o)
            .where(o.c.id == sa.bindparam("b_id"))
            .values(measured_by=sa.bindparam("b_measured_by")),
            changes,
        )
