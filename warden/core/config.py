"""The strict base of every pydantic model that crosses a boundary (config, catalog and registry
YAML, connector and sink options), and durations as people write them ("30m", "6h", "2d")."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict


class Strict(BaseModel):
    """Unknown keys are errors, values are frozen; a field with an alias (`continue`) also
    answers to its Python name."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def seconds(value: Any, field: str = "duration") -> Any:
    """A duration field's value before validation: "30m", "6h", "2d" as seconds; anything else
    as given, for the field's own checks."""
    return parse_duration(value, field) if isinstance(value, str) else value


def duration_text(seconds: float) -> str:
    """`seconds` as the largest whole unit that `parse_duration` reads back: 21600 as '6h'."""
    for unit, size in sorted(_UNITS.items(), key=lambda u: -u[1]):
        if seconds >= size and seconds % size == 0:
            return f"{seconds / size:g}{unit}"
    return f"{seconds:g}s"


def _duration(value: Any) -> Any:
    try:
        return seconds(value)
    except ValueError:  # the field's location and value are in pydantic's error
        raise ValueError("expected seconds, or a duration such as '30m', '6h', '2d'") from None


# A duration option: seconds, or a duration such as "30m", "6h", "2d".
Duration = Annotated[float, BeforeValidator(_duration)]


def parse_duration(text: str, field: str) -> float:
    """Seconds in a duration such as '30m', '6h', '2d'."""
    number, unit = text.strip()[:-1], text.strip()[-1:]
    try:
        seconds = float(number) * _UNITS[unit]
    except (KeyError, ValueError) as exc:
        what = "a count of observations, or a duration" if field == "for" else "a duration"
        raise ValueError(f"{field}: {what} such as '30m', '6h', '2d' (got {text!r})") from exc
    if not 0 < seconds < float("inf"):
        raise ValueError(f"{field}: the duration must be positive (got {text!r})")
    return seconds
