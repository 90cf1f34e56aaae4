"""Dispatch settings (the `dispatch:` section of the config file, and each sink's own
`retry_for` / `backoff_max` overrides).

A notification is retried until it is delivered, a sink answers that it never will be (a
permanent failure), or it has been retried for `retry_for` (default 24 hours: an outage of a
sink for hours loses nothing). `max_attempts` bounds the count too, when set (off by default).
"""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import Field

from warden.core.config import Duration, Strict

DAY = 86400.0


@dataclass(frozen=True)
class RetryPolicy:
    """How one sink's notifications are retried."""

    retry_for_seconds: float
    backoff_initial_seconds: float
    backoff_max_seconds: float
    max_attempts: int | None = None


class DispatchSettings(Strict):
    # Keep retrying a notification at least this long after it was queued (seconds or "24h").
    retry_for: Duration = Field(DAY, gt=0)
    # Give up after this many attempts, too (none: only `retry_for` bounds the retries).
    max_attempts: int | None = Field(None, ge=1)
    backoff_initial_seconds: float = Field(1.0, gt=0)
    # The longest wait between two attempts (seconds or "5m").
    backoff_max_seconds: Duration = Field(300.0, gt=0)
    lease_seconds: float = Field(60.0, gt=0)

    def policy(
        self, retry_for: float | None = None, backoff_max: float | None = None
    ) -> RetryPolicy:
        """The retry policy of a sink, with its own overrides."""
        return RetryPolicy(
            retry_for_seconds=retry_for or self.retry_for,
            backoff_initial_seconds=self.backoff_initial_seconds,
            backoff_max_seconds=backoff_max or self.backoff_max_seconds,
            max_attempts=self.max_attempts,
        )
