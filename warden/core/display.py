"""Numbers as people read them: rounded to their significance, with their unit.

`display(value, scale)` is the one place a value, a margin or a threshold level becomes text for
a person (every sink, every CLI table): `display(0.8363999999999999, "fraction") == "83.64%"`,
`display(480, "minutes") == "480 min"`, `display(2.5e24, "flop") == "2.5e24 FLOP"`. A scale is a
registry metric's canonical scale (`fraction`, `percent`, `minutes`, `hours`, `seconds`,
`points`, `flop`, `elo`) or one of warden's own (`days` since an assessment, a compute `ratio`);
an unknown or missing scale shows the bare number. Values keep SIGNIFICANT significant digits
(trailing zeros dropped); a number too large or too small to read in positional notation is
written `2.5e24`. JSON and CSV keep the raw numbers: this is for text only.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

SIGNIFICANT = 4
# Positional notation inside these bounds, `1.5e-05` / `2.5e24` outside.
SMALL, LARGE = 1e-4, 1e6

# scale -> (factor applied before showing, unit written after the number)
UNITS: dict[str, tuple[float, str]] = {
    "fraction": (100.0, "%"),
    "percent": (1.0, "%"),
    "minutes": (1.0, " min"),
    "hours": (1.0, " h"),
    "seconds": (1.0, " s"),
    "flop": (1.0, " FLOP"),
    "days": (1.0, " days"),
    "ratio": (1.0, " x"),
}


def number(value: float, digits: int = SIGNIFICANT) -> str:
    """`value` to `digits` significant digits, without trailing zeros: `0.8364`, `480`,
    `123456` (whole numbers below LARGE keep every digit), `2.5e24`, `1.5e-05`."""
    if not math.isfinite(value):
        return str(value)
    if value == 0:
        return "0"
    magnitude = abs(value)
    if SMALL <= magnitude < LARGE:
        decimals = max(0, digits - 1 - math.floor(math.log10(magnitude)))
        text = f"{round(value, decimals):.{decimals}f}"
        if "." in text:
            text = text.rstrip("0").rstrip(".")
        return "0" if text in ("-0", "") else text
    mantissa, _, exponent = f"{value:.{digits - 1}e}".partition("e")
    if "." in mantissa:
        mantissa = mantissa.rstrip("0").rstrip(".")
    return f"{mantissa}e{int(exponent)}"


def display(value: float | None, scale: str | None = None) -> str:
    """`value` in `scale` for people: `83.64%`, `480 min`, `2.5e24 FLOP`; "no data" for None."""
    if value is None or isinstance(value, bool):
        return "no data"
    factor, unit = UNITS.get(scale or "", (1.0, ""))
    return number(value * factor) + unit


def level(op: str, value: float | None, scale: str | None = None) -> str:
    """A trigger or warning level: `>= 83.64%`; `>= ?` when the level is unknown."""
    return f"{op} {'?' if value is None else display(value, scale)}"


def value_scale(condition: Any, scales: Any) -> str | None:
    """The scale of the value a trigger of `condition` (a threshold's `when`, as the trigger log
    keeps it) reports: its benchmark metric's scale from `scales` (`{"bench/metric": scale}`),
    `days` or `ratio` for a re-assessment rule, `seconds` for a feed's silence; else None."""
    if not isinstance(condition, Mapping):
        return None
    if "since" in condition:
        return "days" if condition.get("since") == "days" else "ratio"
    if "feed" in condition:
        return "seconds"
    return series_scale(scales, condition.get("benchmark"), condition.get("metric"))


def series_scale(scales: Any, benchmark: Any, metric: Any) -> str | None:
    """The scale of one benchmark metric in a trigger's `scales`, or None."""
    if not isinstance(scales, Mapping):
        return None
    found = scales.get(f"{benchmark}/{metric}")
    return found if isinstance(found, str) else None


def timestamp(at: datetime) -> str:
    """A time for people: UTC, to the second, `2026-01-01 00:00:00 UTC`."""
    if at.tzinfo is None:
        at = at.replace(tzinfo=UTC)
    return at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
