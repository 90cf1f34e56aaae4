"""The space a trend is fitted in, per scale: log for durations and compute (they grow
exponentially), logit for fractions and percentages (bounded by 0 and 1), linear for points and
Elo. Pure: the transform of a value into that space and back."""

from __future__ import annotations

import math
from typing import Literal

Kind = Literal["log", "logit", "linear"]

KINDS: dict[str, Kind] = {
    "minutes": "log",
    "hours": "log",
    "seconds": "log",
    "flop": "log",
    "fraction": "logit",
    "percent": "logit",
    "points": "linear",
    "elo": "linear",
}


def kind_of(scale: str | None) -> Kind | None:
    return None if scale is None else KINDS.get(scale)


def transform(value: float, kind: Kind, scale: str) -> float | None:
    """The value in the fit's space, or None where the transform is undefined."""
    if not math.isfinite(value):
        return None
    if kind == "linear":
        return value
    if kind == "log":
        return math.log(value) if value > 0 else None
    p = value / 100 if scale == "percent" else value
    return math.log(p / (1 - p)) if 0 < p < 1 else None


def inverse(y: float, kind: Kind, scale: str) -> float:
    if kind == "linear":
        return y
    if kind == "log":
        return math.exp(min(y, 700.0))
    p = 1 / (1 + math.exp(-max(min(y, 700.0), -700.0)))
    return p * 100 if scale == "percent" else p


def why_undefined(kind: Kind) -> str:
    return (
        "at or below 0 (log undefined)" if kind == "log" else "not inside (0, 1) (logit undefined)"
    )
