"""The shared data model (warden/sinks/render.py) on real trigger contents of every kind, and
the promise that no sink's rendering raises, whatever a trigger's content holds."""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from typing import Any

import pytest

from tests.support.triggers import KINDS, MITIGATIONS, RUNBOOK, SOURCE_URL
from warden.core.notification import Notification, summary
from warden.delivery.sinks import alertmanager, email, pagerduty, slack
from warden.delivery.sinks.render import duration, http_url, view, when


@pytest.mark.parametrize("kind", KINDS)
def test_every_kind_renders_with_its_facts(
    notifications: dict[str, Notification], kind: str
) -> None:
    n = notifications[kind]
    a = view(n)
    t = n.trigger
    assert a.status == t["to"] and a.previous == t["from"]
    assert a.headline.startswith(f"{a.status_text}: {t['title']} - ")
    assert a.summary == summary(t)  # the payload's summary line, for every kind
    assert a.measurements and all(m.text for m in a.measurements)
    assert a.threshold == t["threshold"] and a.subject == t["subject"]
    assert a.seq == n.trigger_seq and a.key == n.idempotency_key
    assert a.severity in ("info", "warning", "critical")


def test_single_condition_value_with_uncertainty_against_both_levels(
    notifications: dict[str, Notification],
) -> None:
    a = view(notifications["firing"])
    (m,) = a.measurements
    assert m.text == "cyber_ctf accuracy = 0.8 ± 0.05 (n=200) (trigger >= 0.5, warning >= 0.4)"
    assert a.change == "inactive -> firing" and a.status_text == "FIRING"
    assert a.mitigations == tuple(MITIGATIONS) and a.safeguards == ("ASL-3", "SL-3")
    assert a.runbook == RUNBOOK and a.evidence_url == SOURCE_URL
    assert a.reason == "0.8 ± 0.05: lower 0.95 bound 0.702002 >= 0.5"
    assert a.at == "2025-03-02 09:30:00 UTC"
    assert ("ticket-url", "TICKET-1") in a.annotations and ("team", "red") in a.labels
    (e,) = a.evidence
    assert (e.model, e.series, e.value, e.url) == (
        "acme/m1",
        "cyber_ctf/accuracy",
        "0.8 ± 0.05 (n=200)",
        SOURCE_URL,
    )


def test_a_local_source_is_no_link_and_no_stderr_shows_none(
    notifications: dict[str, Notification],
) -> None:
    a = view(notifications["warning"])
    assert a.measurements[0].value == "0.45" and a.evidence_url is None
    assert a.evidence[0].source == "/data/logs/run.json" and a.evidence[0].url is None
    assert a.status_text == "EARLY WARNING" and "trigger level is near" in a.meaning


def test_nodata_and_error_say_the_alert_is_not_resolved(
    notifications: dict[str, Notification],
) -> None:
    nodata, error = view(notifications["nodata"]), view(notifications["error"])
    assert nodata.measurements[0].value == "no data" and nodata.evidence == ()
    assert "NOT resolved" in nodata.meaning and "NOT resolved" in error.meaning
    assert nodata.acknowledged == "by alice at 2025-03-02 09:30:00 UTC: looking into it"
    assert error.reason.startswith("evaluation failed: RuntimeError")
    assert (nodata.status_text, error.status_text) == ("NO DATA", "EVALUATION ERROR")


def test_combination_measures_each_condition(notifications: dict[str, Notification]) -> None:
    a = view(notifications["combination"])
    assert [m.text for m in a.measurements] == [
        "cyber_ctf accuracy = 0.8 ± 0.05 (n=200) (trigger >= 0.5, warning >= 0.4)",
        "autonomy hours = 9.5 ± 1.5 (n=40) (trigger >= 8)",
    ]
    assert a.summary.endswith(
        "2 of 2 met (all): cyber_ctf/accuracy 0.8 >= 0.5; autonomy/hours 9.5 >= 8"
        " [provenance not stated]"
    )


def test_frontier_names_its_best_model(notifications: dict[str, Notification]) -> None:
    a = view(notifications["frontier"])
    assert a.subject_text == "frontier (best model: acme/m3)"
    assert a.measurements[0].text == (
        "cyber_ctf accuracy = 0.9 ± 0.01 (n=500) (trigger >= 0.5, warning >= 0.3)"
    )


def test_reassessment_and_feed_silence_measure_in_their_units(
    notifications: dict[str, Notification],
) -> None:
    days = view(notifications["since_assessment"]).measurements[0]
    assert (days.value, days.trigger, days.warning) == ("200 days", ">= 182 days", ">= 150 days")
    ratio = view(notifications["compute_ratio"]).measurements[0]
    assert (ratio.value, ratio.trigger) == ("5 x", ">= 4 x")
    silent = view(notifications["feed_silence"])
    assert silent.subject_text == "feed lab-feed"
    assert silent.measurements[0].text == (
        "time since feed lab-feed last succeeded = 3 h (trigger >= 1 h)"
    )


def test_helpers() -> None:
    assert [duration(s) for s in (59, 3600, 3660, 90000, None)] == [
        "59 s",
        "1 h",
        "1 h 1 min",
        "1 d 1 h",
        "?",
    ]
    assert when("2026-01-01T10:00:00+02:00") == "2026-01-01 08:00:00 UTC"
    assert when("yesterday") == "yesterday"
    assert http_url("https://x.org/a b") is None and http_url("file:///etc/passwd") is None
    assert http_url("javascript:alert(1)") is None and http_url("http://x.org/") == "http://x.org/"


# The fields e-mail headers are made of (whole messages are slow to build: the other fields
# only reach the bodies, rendered for every case).
HEADER_FIELDS = frozenset({"to", "threshold", "subject", "title", "at", "condition", "reason"})


def _renders(n: Notification, whole_email: bool = True) -> None:
    """Every sink's rendering of `n` (pure, no I/O)."""
    a = view(n)
    slack.message(n)
    email.text_body(a)
    email.html_body(a)
    if whole_email:
        email.build(n, "Warden <warden@example.org>", ["oncall@example.org"]).as_bytes()
    pagerduty.event(n, "k" * 32, "warden", None)
    alertmanager.alert(n, datetime.now(UTC), 3600)


WRONG: tuple[Any, ...] = (None, float("nan"), "text", [1, "x", None], {"x": 1})
# One of each shape of condition and content (the keys are the same in every kind).
SHAPES = ("firing", "nodata", "combination", "frontier", "since_assessment", "feed_silence")


@pytest.mark.parametrize("kind", SHAPES)
def test_no_sink_raises_on_any_field_missing_or_of_any_type(
    notifications: dict[str, Notification], kind: str
) -> None:
    n = notifications[kind]
    for key in n.trigger:
        damaged = copy.deepcopy(n.trigger)
        del damaged[key]
        whole = key in HEADER_FIELDS
        _renders(
            Notification(n.idempotency_key, n.sink, n.trigger_seq, n.trigger_hash, damaged), whole
        )
        for value in WRONG:
            damaged[key] = value
            _renders(
                Notification(n.idempotency_key, n.sink, n.trigger_seq, n.trigger_hash, damaged),
                whole,
            )
    _renders(Notification(n.idempotency_key, n.sink, n.trigger_seq, n.trigger_hash, {}))


def test_evidence_and_condition_entries_of_the_wrong_shape_still_render(
    notifications: dict[str, Notification],
) -> None:
    for kind in ("firing", "combination"):
        n = notifications[kind]
        t = copy.deepcopy(n.trigger)
        for field in ("evidence", "mitigations", "safeguards"):
            t[field] = [None, 3, {"value": "x", "stderr": [], "n": "many"}, "text"]
        if "of" in t["condition"]:
            t["condition"]["of"] = [None, {"op": 1}, {}]
        t["acknowledged"] = {"by": None, "at": 5}
        _renders(Notification(n.idempotency_key, n.sink, n.trigger_seq, n.trigger_hash, t))
