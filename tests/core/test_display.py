"""Numbers as people read them (warden/core/display.py): rounded to their significance, with
the unit of their scale; times to the second."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from warden.core.display import display, level, number, timestamp, value_scale


@pytest.mark.parametrize(
    ("value", "scale", "shown"),
    [
        (0.8363999999999999, "fraction", "83.64%"),  # 1.2 x 0.697 as a float
        (0.8363999999999999, None, "0.8364"),
        (0.8, "fraction", "80%"),
        (0.221, "fraction", "22.1%"),
        (0.0005, "fraction", "0.05%"),
        (0.0, "fraction", "0%"),
        (1.0, "fraction", "100%"),
        (41.4, "percent", "41.4%"),
        (480, "minutes", "480 min"),
        (239.9, "minutes", "239.9 min"),
        (8, "hours", "8 h"),
        (30, "seconds", "30 s"),
        (2.5e24, "flop", "2.5e24 FLOP"),
        (1e25, "flop", "1e25 FLOP"),
        (1.2345678e26, "flop", "1.235e26 FLOP"),
        (182, "days", "182 days"),
        (5.0, "ratio", "5 x"),
        (1234.567, "elo", "1235"),
        (1.5, "points", "1.5"),
        (123456, None, "123456"),  # whole numbers below a million keep every digit
        (1.5e-5, None, "1.5e-5"),
        (-0.25, None, "-0.25"),
        (0.30000000000000004, None, "0.3"),
        (None, "fraction", "no data"),
    ],
)
def test_display_rounds_to_significance_and_names_the_unit(
    value: float | None, scale: str | None, shown: str
) -> None:
    assert display(value, scale) == shown


def test_an_unknown_scale_shows_the_bare_rounded_number() -> None:
    assert display(0.12345678, "furlongs") == "0.1235"
    assert number(float("inf")) == "inf" and number(2 / 3) == "0.6667"


def test_levels_carry_the_operator_and_unit() -> None:
    assert level(">=", 0.8363999999999999, "fraction") == ">= 83.64%"
    assert level(">", 1e25, "flop") == "> 1e25 FLOP"
    assert level(">=", None, "minutes") == ">= ?"


def test_the_value_scale_of_each_kind_of_condition() -> None:
    scales = {"metr_time_horizon/p50_minutes": "minutes"}
    cond = {"benchmark": "metr_time_horizon", "metric": "p50_minutes", "op": ">=", "value": 480}
    assert value_scale(cond, scales) == "minutes"
    assert value_scale(cond, None) is None  # a trigger written before scales were recorded
    assert value_scale({"since": "days", "op": ">=", "value": 182}, {}) == "days"
    assert value_scale({"since": "compute_ratio", "op": ">=", "value": 4}, {}) == "ratio"
    assert value_scale({"feed": "lab", "op": ">=", "value": 3600}, {}) == "seconds"
    assert value_scale("nonsense", {"x": 1}) is None


def test_timestamps_are_utc_to_the_second() -> None:
    at = datetime(2026, 1, 2, 3, 4, 5, 987654, tzinfo=timezone(timedelta(hours=2)))
    assert timestamp(at) == "2026-01-02 01:04:05 UTC"
    assert timestamp(datetime(2026, 1, 2, 3, 4, 5, 1)) == "2026-01-02 03:04:05 UTC"
    assert timestamp(datetime(2026, 1, 2, tzinfo=UTC)) == "2026-01-02 00:00:00 UTC"
