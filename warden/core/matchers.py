"""Label matchers, as in Alertmanager: equal labels (`match`) and regular expressions
(`match_re`), all of which must hold; and a silence, which mutes the alerts its matchers take
for a while. Routes, inhibitions and silences all match with these."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from functools import cached_property

from pydantic import Field, field_validator

from warden.core.config import Strict


class Matchers(Strict):
    """Equal labels (`match`) and regular expressions on labels (`match_re`), all of them."""

    match: dict[str, str] = Field(default_factory=dict)
    match_re: dict[str, str] = Field(default_factory=dict)

    @field_validator("match_re")
    @classmethod
    def _compiles(cls, value: dict[str, str]) -> dict[str, str]:
        for label, pattern in value.items():
            try:
                re.compile(pattern)
            except re.error as exc:
                raise ValueError(f"match_re.{label}: not a regular expression: {exc}") from exc
        return value

    @cached_property
    def _patterns(self) -> dict[str, re.Pattern[str]]:
        return {k: re.compile(v) for k, v in self.match_re.items()}

    def matches(self, labels: Mapping[str, str]) -> bool:
        return all(labels.get(k) == v for k, v in self.match.items()) and all(
            p.fullmatch(labels.get(k, "")) is not None for k, p in self._patterns.items()
        )


@dataclass(frozen=True)
class Silence:
    id: int
    matchers: Matchers
    starts_at: datetime
    ends_at: datetime
    created_by: str
    comment: str

    def active(self, now: datetime) -> bool:
        return self.starts_at <= now < self.ends_at
