"""What the feeds say about the model ids the registry did not know: one sighting per id and
feed, with the attributes of its first observation (organisation, release date, parameters, ...),
for `warden registry suggest`."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, func, select

from warden.store.schema import observations


def unmapped_models(conn: Connection) -> list[tuple[str, str, int, dict[str, Any]]]:
    """(raw model id, feed, observations, attributes of the first one) for every model id
    stored unmapped, ordered by id and feed. One attributes row per id and feed, so the cost is
    the number of unmapped ids, not of their observations."""
    o = observations
    firsts = (
        select(o.c.subject, o.c.feed, func.min(o.c.id).label("first"), func.count().label("n"))
        .where(o.c.model_known.is_(False))
        .group_by(o.c.subject, o.c.feed)
        .subquery()
    )
    q = (
        select(firsts.c.subject, firsts.c.feed, firsts.c.n, o.c.attributes)
        .join(o, o.c.id == firsts.c.first)
        .order_by(firsts.c.subject, firsts.c.feed)
    )
    out = []
    for subject, feed, n, attributes in conn.execute(q):
        out.append(
            (str(subject), str(feed), int(n), attributes if isinstance(attributes, dict) else {})
        )
    return out
