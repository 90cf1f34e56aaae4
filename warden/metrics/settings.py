"""Metrics settings (the `metrics:` section of the config file)."""

from __future__ import annotations

from pydantic import Field

from warden.core.config import Strict


class MetricsSettings(Strict):
    # Which models' per-model series are exported: those in the registry, or every model.
    subjects: str = Field("registry", pattern="^(registry|all)$")
    # At most this many per-model threshold x subject pairs per scrape (alerting ones always).
    max_subjects: int = Field(10_000, ge=0)
