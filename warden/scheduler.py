"""Schedules: feed runs and periodic evaluation. The only module that imports apscheduler."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.background import BackgroundScheduler

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

    def start(self) -> None:
        self._scheduler.start()

    def shutdown(self) -> None:
        """Stop scheduling and wait for running jobs to finish."""
        if self._scheduler.running:
            self._scheduler.shutdown(wait=True)


def _guarded(job_id: str, func: Callable[[], object]) -> Callable[[], None]:
    def run() -> None:
        try:
            func()
        except Exception:
            log.exception("job %s failed", job_id)

    return run
