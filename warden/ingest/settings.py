"""Ingest settings (the `ingest:` section of the config file): which observation times are
believable.

An observation dated in the future would stay the newest for ever and hide every later real
one; one dated before there were models to evaluate is a unit or parsing error. Both are
rejected with a reason (files, feeds and pushes alike), and evaluation reads nothing dated
beyond the allowed clock skew, so a bad time already in a store cannot hide a crossing either.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from pydantic import Field

from warden.core.config import Duration, Strict

# Evaluation results carry machine-made times (a run's end); five minutes covers clocks that
# disagree a little. A date without a time is taken at its midnight UTC: never in the future.
MAX_CLOCK_SKEW_SECONDS = 300.0
EARLIEST = date(1950, 1, 1)


class IngestSettings(Strict):
    # An observed_at further than this into the future is rejected (seconds or "5m").
    max_clock_skew: Duration = Field(MAX_CLOCK_SKEW_SECONDS, ge=0)
    # An observed_at before this date is rejected.
    earliest: date = EARLIEST

    def bounds(self) -> TimeBounds:
        return TimeBounds(self.max_clock_skew, self.earliest)


class TimeBounds:
    """The believable observation times, relative to a clock."""

    def __init__(self, max_clock_skew: float = MAX_CLOCK_SKEW_SECONDS, earliest: date = EARLIEST):
        self.max_clock_skew = max_clock_skew
        self.earliest = datetime(earliest.year, earliest.month, earliest.day, tzinfo=UTC)

    def latest(self, now: datetime) -> datetime:
        return now + timedelta(seconds=self.max_clock_skew)

    def problem(self, observed_at: datetime, now: datetime) -> str | None:
        """Why `observed_at` is not believable at `now`, or None."""
        if observed_at > self.latest(now):
            return (
                f"observed_at {observed_at.isoformat()} is in the future (now "
                f"{now.isoformat(timespec='seconds')}, clock skew allowed "
                f"{self.max_clock_skew:g} s: ingest.max_clock_skew)"
            )
        if observed_at < self.earliest:
            return (
                f"observed_at {observed_at.isoformat()} is before "
                f"{self.earliest.date().isoformat()} (ingest.earliest)"
            )
        return None


DEFAULT_BOUNDS = TimeBounds()
