"""Routing on its own, without a store: which routes take an alert (first match, `continue`),
where a resolution goes, what silences and inhibition hold back, and which thresholds or routes a
catalog can never reach. The same rules on real stores and sinks: tests/alerting/test_actions.py."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tests.support.factories import threshold
from warden.alerting.routing import (
    DEFAULT_INHIBIT,
    InhibitSettings,
    Router,
    RouteSettings,
    family,
    labels,
)
from warden.core.matchers import Matchers, Silence

NOW = datetime(2026, 4, 1, tzinfo=UTC)
CRITICAL = threshold(id="cyber.ctf.critical", domain="cyber", level="critical")
EARLY = threshold(
    id="cyber.ctf.early_warning",
    domain="cyber",
    level="early_warning",
    then={"severity": "warning", "labels": {"team": "red"}},
)
BIO = threshold(id="bio.vct.high", domain="bio", level="high")


def route(sinks: list[str], **kw: object) -> RouteSettings:
    return RouteSettings.model_validate({"sinks": sinks, **kw})


def silence(sid: int, start: datetime, end: datetime, **match: str) -> Silence:
    return Silence(sid, Matchers(match=match), start, end, "ops", "drill")


def test_labels_carry_the_threshold_its_subject_state_and_family() -> None:
    got = labels(EARLY, "acme/m1", "warning")
    assert got["threshold"] == "cyber.ctf.early_warning"
    assert (got["subject"], got["state"], got["severity"]) == ("acme/m1", "warning", "warning")
    assert (got["level"], got["domain"], got["family"]) == ("early_warning", "cyber", "cyber.ctf")
    assert got["team"] == "red" and got["alert"] == "threshold"
    assert family("a.b.c") == "a.b"


def test_the_first_matching_route_takes_the_alert_unless_it_continues() -> None:
    router = Router(
        [
            route(["pager"], match={"severity": "critical"}),
            route(["chat"], match={"domain": "cyber"}),
        ],
        sinks=["pager", "chat"],
    )
    assert router.matching(labels(CRITICAL, "m", "firing")) == [0]
    assert router.matching(labels(EARLY, "m", "warning")) == [1]
    assert router.matching(labels(BIO, "m", "firing")) == [0]
    going_on = Router(
        [
            route(["pager"], match={"severity": "critical"}, **{"continue": True}),
            route(["chat"], match={"domain": "cyber"}),
        ],
        sinks=["pager", "chat"],
    )
    decision = going_on.decide(labels(CRITICAL, "m", "firing"), [], [], NOW)
    assert decision.sinks == ("pager", "chat") and decision.routes == (0, 1)


def test_without_routes_every_sink_takes_every_alert() -> None:
    router = Router([], sinks=["a", "b"])
    assert router.decide(labels(BIO, "m", "firing"), [], [], NOW).sinks == ("a", "b")
    assert Router([], sinks=[]).decide(labels(BIO, "m", "firing"), [], [], NOW).sinks == ()


def test_a_route_that_does_not_send_resolved_is_left_out_of_resolutions() -> None:
    router = Router(
        [
            route(["pager"], match={"severity": "critical"}, send_resolved=False,
                  **{"continue": True}),
            route(["chat"], match_re={"domain": "cy.*"}),
        ],
        sinks=["pager", "chat"],
    )  # fmt: skip
    assert router.decide(labels(CRITICAL, "m", "resolved"), [], [], NOW).sinks == ("chat",)
    assert router.decide(labels(CRITICAL, "m", "firing"), [], [], NOW).sinks == ("pager", "chat")


def test_an_active_silence_holds_back_the_notification_and_says_which() -> None:
    router = Router([], sinks=["chat"])
    alert = labels(CRITICAL, "acme/m1", "firing")
    active = silence(7, NOW - timedelta(hours=1), NOW + timedelta(hours=1), subject="acme/m1")
    pending = silence(8, NOW + timedelta(hours=1), NOW + timedelta(hours=2), subject="acme/m1")
    ended = silence(9, NOW - timedelta(hours=2), NOW, subject="acme/m1")
    other = silence(10, NOW - timedelta(hours=1), NOW + timedelta(hours=1), subject="other")
    decision = router.decide(alert, [active, pending, ended, other], [], NOW)
    assert decision.sinks == () and decision.silenced_by == (7,)
    assert decision.record()["silenced_by"] == [7]
    assert router.decide(alert, [pending, ended, other], [], NOW).sinks == ("chat",)


def test_a_firing_critical_alert_inhibits_the_early_warning_of_its_family_and_subject() -> None:
    router = Router([], sinks=["chat"], inhibit=DEFAULT_INHIBIT)
    warning = labels(EARLY, "acme/m1", "warning")
    firing = [labels(CRITICAL, "acme/m1", "firing")]
    decision = router.decide(warning, [], firing, NOW)
    assert decision.sinks == () and decision.inhibited_by == "cyber.ctf.critical (acme/m1)"
    # Another subject, or another family: not inhibited.
    assert router.decide(labels(EARLY, "other", "warning"), [], firing, NOW).sinks == ("chat",)
    assert router.decide(warning, [], [labels(BIO, "acme/m1", "firing")], NOW).sinks == ("chat",)
    # An alert never inhibits itself.
    assert router.inhibitor(labels(CRITICAL, "acme/m1", "firing"), firing) is None


def test_inhibition_compares_the_labels_its_rule_names() -> None:
    rule = InhibitSettings(
        source=Matchers(match={"severity": "critical"}),
        target=Matchers(match={"severity": "warning"}),
        equal=["team"],
    )
    router = Router([], sinks=["chat"], inhibit=[rule])
    red = labels(EARLY, "m", "warning")
    assert router.inhibitor(red, [{**labels(BIO, "x", "firing"), "team": "red"}]) is not None
    assert router.inhibitor(red, [{**labels(BIO, "x", "firing"), "team": "blue"}]) is None


def test_a_resolution_goes_only_to_the_sinks_that_were_told_of_the_alert() -> None:
    router = Router([], sinks=["pager", "chat"])
    decision = router.decide(labels(BIO, "m", "resolved"), [], [], NOW).announced_to(["chat"])
    assert decision.sinks == ("chat",) and decision.unannounced == ("pager",)
    assert decision.record()["unannounced"] == ["pager"]


def test_thresholds_no_route_takes_and_routes_no_threshold_reaches_are_found() -> None:
    router = Router(
        [
            route(["pager"], match={"domain": "cyber"}),
            route(["chat"], match={"domain": "cyebr"}),  # a typo: reaches nothing
            route(["boss"], match={"subject": "acme/m1", "domain": "bio"}),
        ],
        sinks=["pager", "chat", "boss"],
    )
    assert router.unrouted([CRITICAL, EARLY, BIO]) == []
    assert router.unrouted([threshold(id="misalignment.x.high", domain="misalignment")]) == [
        "misalignment.x.high"
    ]
    assert router.unused([CRITICAL, EARLY, BIO]) == [1]


@pytest.mark.parametrize("pattern", ["(", "[a-", "*x"])
def test_a_route_with_a_pattern_that_does_not_compile_is_refused(pattern: str) -> None:
    with pytest.raises(ValueError, match="not a regular expression"):
        route(["chat"], match_re={"domain": pattern})
