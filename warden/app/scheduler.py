"""Schedules: feed runs and periodic evaluation. The only module that imports apscheduler."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.cron import CronTrigger

log = logging.getLogger(__name__)


class Schedules:
    def __init__(self, workers: int = 8) -> None:
        self._scheduler = BackgroundScheduler(
            executors={"default": ThreadPoolExecutor(workers)}, timezone=UTC
        )

    def every(
        self, job_id: str, seconds: float, func: Callable[[], object], *, start_now: bool = True
    ) -> None:
        """Run `func` every `seconds`; never two runs of the same job at once, and missed runs
        are coalesced into one."""
        first: dict[str, datetime] = {"next_run_time": datetime.now(UTC)} if start_now else {}
        self._scheduler.add_job(
            _guarded(job_id, func),
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
            _guarded(job_id, func),
            CronTrigger.from_crontab(expression, timezone=UTC),
            id=job_id,
            max_instances=1,
            coalesce=True,
            misfire_grace_time=None,
        )

    def next_run(self, job_id: str) -> datetime | None:
        job = self._scheduler.get_job(job_id)
        return None if job is None else job.next_run_time

    def start(self) -> None:
        self._scheduler.start()

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


def _guarded(job_id: str, func: Callable[[], object]) -> Callable[[], None]:
    def run() -> None:
        try:
            func()
        except Exception:
            log.exception("job %s failed", job_id)

    return run
