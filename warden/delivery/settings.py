"""Dispatch settings (the `dispatch:` section of the config file)."""

from __future__ import annotations

from pydantic import Field

from warden.core.config import Strict


class DispatchSettings(Strict):
    max_attempts: int = Field(8, ge=1)
    backoff_initial_seconds: float = Field(1.0, gt=0)
    backoff_max_seconds: float = Field(300.0, gt=0)
    lease_seconds: float = Field(60.0, gt=0)
