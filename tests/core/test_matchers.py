"""Matchers with RE2 semantics, as Alertmanager's: anchored at both ends, no backreferences, and
linear-time matching, so a pathological pattern typed into a silence cannot stall anything."""

from __future__ import annotations

import threading

import pytest

from warden.core.matchers import Matchers, compile_pattern


def test_patterns_are_anchored_at_both_ends() -> None:
    m = Matchers(match={"domain": "cyber"}, match_re={"level": "crit.*"})
    assert m.matches({"domain": "cyber", "level": "critical"})
    assert not m.matches({"domain": "cyber", "level": "not critical"})
    assert not m.matches({"domain": "bio", "level": "critical"})
    assert not m.matches({"domain": "cyber"})  # a missing label is the empty string


def test_a_pathological_pattern_matches_a_long_label_at_once() -> None:
    m = Matchers(match_re={"subject": "(a+)+$"})
    label = "a" * 100_000 + "!"
    done: list[bool] = []
    worker = threading.Thread(target=lambda: done.append(m.matches({"subject": label})))
    worker.start()
    worker.join(timeout=10)  # Python's re would take longer than the age of the universe
    assert done == [False]
    assert m.matches({"subject": "a" * 100_000})


@pytest.mark.parametrize(
    ("pattern", "why"),
    [("(", "missing )"), ("(a)\\1", "invalid escape"), ("(?=a)", "invalid perl operator")],
)
def test_patterns_re2_cannot_run_are_refused_with_its_reason(pattern: str, why: str) -> None:
    with pytest.raises(ValueError, match="not a regular expression") as err:
        Matchers(match_re={"subject": pattern})
    assert "match_re.subject" in str(err.value) and why in str(err.value)
    with pytest.raises(ValueError, match="RE2 syntax"):
        compile_pattern(pattern)
