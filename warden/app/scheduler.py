"""Schedules: feed runs and periodic evaluation. The only module that imports apscheduler."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.cron import CronTrigger

log = logging.getLogger(__name__)


Guard = Callable[[str, Callable[[], object]], Callable[[], object]]


class Schedules:
    def __init__(self, workers: int = 8, guard: Guard | None = None) -> None:
        """`guard` wraps every job (the daemon's: a store outage makes jobs wait, not fail)."""
        self._scheduler = BackgroundScheduler(
            executors={"default": ThreadPoolExecutor(workers)}, timezone=UTC
        )
        self._guard = guard

    def guard(self, guard: Guard) -> None:
        """Wrap the jobs added from now on with `guard`."""
        self._guard = guard

    def _job(self, job_id: str, func: Callable[[], object]) -> Callable[[], None]:
        return _guarded(job_id, func if self._guard is None else self._guard(job_id, func))

    def every(
        self, job_id: str, seconds: float, func: Callable[[], object], *, start_now: bool = True
    ) -> None:
        """Run `func` every `seconds`; never two runs of the same job at once, and missed runs
        are coalesced into one."""
        first: dict[str, datetime] = {"next_run_time": datetime.now(UTC)} if start_now else {}
        self._scheduler.add_job(
            self._job(job_id, func),
            "interval",
            seconds=seconds,
            id=job_id,
            max_instances=1,
            coalesce=True,
            misfire_grace_time=None,
            **first,
        )

    def cron(self, job_id: str, expression: str, func: Callable[[], object]) -> None:
        """Run `func` on a crontab schedule (five fields, UTC), with the same guarantees as
        `every`."""
        self._scheduler.add_job(
            self._job(job_id, func),
            CronTrigger.from_crontab(expression, timezone=UTC),
            id=job_id,
            max_instances=1,
            coalesce=True,
            misfire_grace_time=None,
        )

    def next_run(self, job_id: str) -> datetime | None:
        job = self._scheduler.get_job(job_id)
        return None if job is None else job.next_run_time

    def start(self, *, paused: bool = False) -> None:
        """Start; `paused`: run nothing until `resume` (a follower's leader-only jobs)."""
        self._scheduler.start(paused=paused)

    def pause(self) -> None:
        """Run no more jobs until `resume`; the ones running finish."""
        if self._scheduler.running:
            self._scheduler.pause()

    def resume(self) -> None:
        """Run the jobs again; runs missed meanwhile are coalesced into one, at once."""
        if self._scheduler.running:
            self._scheduler.resume()

    def shutdown(self) -> None:
        """Stop scheduling and wait for running jobs to finish."""
        if self._scheduler.running:
            self._scheduler.shutdown(wait=True)


def cron_problem(expression: str) -> str | None:
    """Why `expression` is not a five-field crontab schedule, or None."""
    try:
        CronTrigger.from_crontab(expression, timezone=UTC)
    except ValueError as exc:
        return str(exc)
    return None


def expected_interval_seconds(every: float, cron: str | None) -> float:
    """The longest a feed's schedule leaves between two runs: `every`, or the widest gap
    between a cron schedule's runs over five weeks (a weekday-only schedule leaves a weekend).
    Operators' stale-feed alerts judge each feed by it."""
    if cron is None:
        return every
    trigger = CronTrigger.from_crontab(cron, timezone=UTC)
    start = datetime(2026, 1, 5, tzinfo=UTC)  # a Monday: any fixed time gives the same gaps
    fire = trigger.get_next_fire_time(None, start)
    widest = 0.0
    for _ in range(5000):
        if fire is None or fire > start + timedelta(days=35):
            break
        later = trigger.get_next_fire_time(fire, fire + timedelta(seconds=1))
        if later is None:
            break
        widest = max(widest, (later - fire).total_seconds())
        fire = later
    return widest or every


def _guarded(job_id: str, func: Callable[[], object]) -> Callable[[], None]:
    def run() -> None:
        try:
            func()
        except Exception:
            log.exception("job %s failed", job_id)

    return run
