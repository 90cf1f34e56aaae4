"""observation variants (issue 14)

Runs of one model at several settings (Epoch's `_xhigh` / `_high` / `_16K` effort suffixes, an
agent scaffold) are one subject with a `variant`, not subjects of their own: a series is
(benchmark, metric, subject, variant), and the series index groups by it.

Backfill, for the rows whose connector is known and whose variant can be told from what the row
kept (the rest keep variant ""):

- Epoch's benchmarking hub rows (the only rows with a `setting` attribute, whichever feed read
  them): `setting` becomes `variant` (with the row's `scaffold`, if any, after it, as the
  connector now writes it); a subject still spelled with the suffix (a model the registry did
  not know) loses it, the full spelling is kept as `model_version`, and a `raw_model` with the
  suffix is shortened the same way, as a new ingest of the row would store it.
- SWE-bench rows (feeds of connector `swebench`): the `scaffold` attribute (the entry's system).
- Any row whose attributes already name a `variant` (a text): that.

Content keys are unchanged, so re-reading a feed after the upgrade adds nothing. Downgrade drops
the column and restores the index; the attributes keep their new names.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-07
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

WIDTH = 200  # the column's width (subject's too)
PAGE = 2000
SERIES_COLUMNS = ["benchmark", "metric", "subject", "observed_at DESC", "key", "value", "id"]
TAIL = ["stderr", "n", "feed"]

_observations = sa.table(
    "observations",
    sa.column("id", sa.BigInteger()),
    sa.column("feed", sa.String()),
    sa.column("subject", sa.String()),
    sa.column("attributes", sa.JSON()),
    sa.column("variant", sa.String()),
)
_feeds = sa.table("feeds", sa.column("id", sa.String()), sa.column("connector", sa.String()))


def _index(with_variant: bool) -> list[Any]:
    names = [*SERIES_COLUMNS[:3], *(["variant"] if with_variant else []), *SERIES_COLUMNS[3:]]
    return [sa.text(c) if " " in c else c for c in [*names, *TAIL]]


def upgrade() -> None:
    # Plain ALTERs, not a batch: SQLite adds a column with a default in place, and a batch
    # that copied the table could not carry the index on an expression (`observed_at DESC`).
    op.add_column(
        "observations",
        sa.Column("variant", sa.String(length=WIDTH), nullable=False, server_default=""),
    )
    op.drop_index("ix_observations_series", table_name="observations")
    op.create_index("ix_observations_series", "observations", _index(True))
    _backfill(op.get_bind())


def downgrade() -> None:
    op.drop_index("ix_observations_series", table_name="observations")
    with op.batch_alter_table("observations", schema=None) as batch_op:
        batch_op.drop_column("variant")  # SQLite copies the table: no expression index then
    op.create_index("ix_observations_series", "observations", _index(False))


def _backfill(conn: sa.Connection) -> None:
    connectors = {
        feed: connector
        for feed, connector in conn.execute(sa.select(_feeds.c.id, _feeds.c.connector))
        if connector == "swebench"
    }
    o = _observations
    text = sa.cast(o.c.attributes, sa.Text)
    candidates = sa.or_(
        o.c.feed.in_(list(connectors)),
        text.like('%"setting"%'),
        text.like('%"variant"%'),
    )
    update = (
        sa.update(o)
        .where(o.c.id == sa.bindparam("b_id"))
        .values(
            subject=sa.bindparam("b_subject"),
            variant=sa.bindparam("b_variant"),
            attributes=sa.bindparam("b_attributes", type_=sa.JSON()),
        )
    )
    last = 0
    while True:
        rows = conn.execute(
            sa.select(o.c.id, o.c.feed, o.c.subject, o.c.attributes)
            .where(candidates, o.c.id > last)
            .order_by(o.c.id)
            .limit(PAGE)
        ).all()
        if not rows:
            return
        last = rows[-1][0]
        changes = []
        for id_, feed, subject, attributes in rows:
            found = _variant(connectors.get(feed), subject, dict(attributes or {}))
            if found is not None:
                new_subject, variant, new_attributes = found
                changes.append(
                    {
                        "b_id": id_,
                        "b_subject": new_subject,
                        "b_variant": variant,
                        "b_attributes": new_attributes,
                    }
                )
        if changes:
            conn.execute(update, changes)


def _variant(
    connector: str | None, subject: str, attrs: dict[str, Any]
) -> tuple[str, str, dict[str, Any]] | None:
    """(subject, variant, attributes) of one row, or None when it has no variant to give."""
    given = attrs.get("variant")
    setting = attrs.get("setting")
    scaffold = attrs.get("scaffold")
    if isinstance(given, str) and given:
        return subject, given[:WIDTH], attrs
    if isinstance(setting, str) and setting:
        del attrs["setting"]
        raw = attrs.get("raw_model", subject)
        suffix = f"_{setting}"
        if isinstance(raw, str) and raw.endswith(suffix) and len(raw) > len(suffix):
            base = raw[: -len(suffix)]
            attrs["model_version"] = raw
            if "raw_model" in attrs:
                attrs["raw_model"] = base
            if subject == raw:
                subject = base
        parts = [setting, scaffold] if isinstance(scaffold, str) and scaffold else [setting]
        variant = "; ".join(parts)[:WIDTH]
    elif connector == "swebench" and isinstance(scaffold, str) and scaffold:
        variant = scaffold[:WIDTH]
    else:
        return None
    attrs["variant"] = variant
    return subject, variant, attrs
