"""Feed health as alerts: a feed with a `stale_after` that has not succeeded for that long
raises an alert of its own, routed, logged and notified like a threshold's.

Each such feed gets a built-in threshold `warden.feed.<feed>.silent` (domain `operations`,
level `early_warning`, severity `warning`) whose one subject is the feed. Its evidence going
stale already makes the thresholds that read it `nodata`; this alert says why.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Protocol

from warden.catalog.thresholds import Catalog, Threshold

SOURCE = {
    "title": "Prometheus, Alerting practices: batch jobs (alert when a job has not succeeded "
    "recently enough)",
    "url": "https://prometheus.io/docs/practices/alerting/#batch-jobs",
}


class WatchedFeed(Protocol):
    """A configured feed, as far as its health is concerned."""

    @property
    def id(self) -> str: ...

    @property
    def stale_after(self) -> float | None: ...


def threshold_id(feed: str) -> str:
    return f"warden.feed.{re.sub(r'[^a-z0-9_-]+', '_', feed)}.silent"


def silent_feed_thresholds(feeds: Iterable[WatchedFeed]) -> tuple[Threshold, ...]:
    return tuple(
        Threshold.model_validate(
            {
                "id": threshold_id(f.id),
                "title": f"Feed {f.id} has not succeeded within its stale_after",
                "domain": "operations",
                "level": "early_warning",
                "sources": [SOURCE],
                "when": {"feed": f.id, "op": ">=", "value": f.stale_after},
                "then": {
                    "severity": "warning",
                    "mitigations": [
                        f"Check `warden feeds` and the feed's source; until it succeeds again, "
                        f"thresholds reading feed {f.id} see its evidence as stale (nodata).",
                    ],
                    "labels": {"feed": f.id},
                },
            }
        )
        for f in feeds
        if f.stale_after
    )


def with_feed_health(catalog: Catalog, feeds: Iterable[WatchedFeed]) -> Catalog:
    """`catalog` plus the feeds' silence thresholds."""
    return Catalog(
        catalog.thresholds + silent_feed_thresholds(feeds), catalog.files, catalog.registry
    )
