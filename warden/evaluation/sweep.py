"""The periodic sweep: which thresholds a periodic evaluation must look at again.

After each ingest the daemon evaluates the thresholds it touched, so the periodic evaluation
exists for what changes with time alone, and as a safety net. It re-evaluates:

- everything on its first run (at start, so nothing that arrived while warden was down, or
  was ingested but not evaluated before a crash, is missed) and after a catalog reload;
- thresholds that read a series with observations newer than the last sweep saw (an ingest
  whose own evaluation did not happen: a crash, a failed evaluation);
- thresholds whose verdict or state can change with the clock: `stale_after` (theirs, or that
  of a feed whose observations they read), a duration `for`, `keep_firing_for`, `projected`,
  `since_assessment`, feed silence;
- thresholds whose last evaluation failed.

A threshold outside these has the verdict it had: same evidence, same rule, same result.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence

from sqlalchemy import Connection

from warden.catalog.conditions import Reassessment, SilentFeed
from warden.catalog.thresholds import Catalog, Threshold
from warden.store import observations as obs_rows


def timed(t: Threshold) -> bool:
    """Whether the clock alone can change this threshold's verdict or state."""
    return bool(
        t.stale_after
        or t.for_seconds
        or t.keep_firing_for
        or t.projected  # the projection's window moves with the clock
        or isinstance(t.when, Reassessment | SilentFeed)
    )


class Sweep:
    def __init__(self) -> None:
        self.watermark: int | None = None  # the newest observation id the last sweep saw
        self.stale_fed: set[tuple[str, str]] = set()  # series fed by feeds with stale_after
        self.failed: set[str] = set()

    def due(
        self, conn: Connection, catalog: Catalog, stale_feeds: Collection[str]
    ) -> tuple[list[Threshold], int]:
        """The thresholds to evaluate now, and the watermark to keep once that succeeded."""
        top = obs_rows.newest_id(conn)
        if self.watermark is None:
            self.stale_fed = obs_rows.pairs_since(conn, 0, stale_feeds) if stale_feeds else set()
            return list(catalog.thresholds), top
        changed: set[tuple[str, str]] = set()
        if top > self.watermark:
            changed = obs_rows.pairs_since(conn, self.watermark)
            if stale_feeds:
                self.stale_fed |= obs_rows.pairs_since(conn, self.watermark, stale_feeds)
        chosen = [
            t
            for t in catalog.thresholds
            if timed(t)
            or t.id in self.failed
            or not changed.isdisjoint(t.pairs)
            or not self.stale_fed.isdisjoint(t.pairs)
        ]
        return chosen, top

    def done(self, watermark: int, failed: Sequence[str]) -> None:
        self.watermark = watermark
        self.failed = set(failed)

    def reset(self) -> None:
        """Evaluate everything next time (after a catalog reload)."""
        self.watermark = None
