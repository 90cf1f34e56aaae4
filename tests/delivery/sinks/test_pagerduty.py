"""The PagerDuty sink against a loopback stand-in for the Events API v2 that checks the event
schema (answering 400 "Event object is invalid" as PagerDuty does), on real triggers."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import pytest

from tests.support.sink_stub import Reply, Stub, serve
from tests.support.triggers import KINDS, MAIN, MINIMAL, MITIGATIONS, RUNBOOK, SOURCE_URL
from warden.core.errors import ConfigError, DeliveryError
from warden.core.notification import Notification
from warden.delivery.sinks.pagerduty import PagerDutySink, dedup_key

KEY = "R0UT1NGKEY0123456789abcdefSECRET"  # 32 characters, as PagerDuty's are
ACCEPTED = Reply(202, json.dumps({"status": "success", "message": "Event processed"}))
TOP = {"routing_key", "event_action", "dedup_key", "payload", "images", "links", "client"}
TOP |= {"client_url"}
PAYLOAD = {"summary", "source", "severity", "timestamp", "component", "group", "class"}
PAYLOAD |= {"custom_details"}


def events_v2(body: Any) -> list[str]:
    """What PagerDuty's Events API v2 refuses."""
    if not isinstance(body, dict):
        return ["event: an object"]
    out = [f"unknown field {k}" for k in sorted(set(body) - TOP)]
    if not isinstance(body.get("routing_key"), str) or len(body["routing_key"]) != 32:
        out.append("routing_key: 32 characters")
    if body.get("event_action") not in ("trigger", "acknowledge", "resolve"):
        out.append("event_action: trigger, acknowledge or resolve")
    dedup = body.get("dedup_key")
    if not isinstance(dedup, str) or not 0 < len(dedup) <= 255:
        out.append("dedup_key: 1 to 255 characters")
    for link in body.get("links", []):
        if not str(link.get("href", "")).startswith(("http://", "https://")):
            out.append(f"links: bad href {link!r}")
    if body.get("event_action") != "trigger":
        return out
    p = body.get("payload")
    if not isinstance(p, dict):
        return [*out, "payload: required to trigger"]
    out += [f"unknown payload field {k}" for k in sorted(set(p) - PAYLOAD)]
    if not isinstance(p.get("summary"), str) or not 0 < len(p["summary"]) <= 1024:
        out.append("payload.summary: 1 to 1024 characters")
    if not p.get("source"):
        out.append("payload.source: required")
    if p.get("severity") not in ("critical", "error", "warning", "info"):
        out.append("payload.severity: critical, error, warning or info")
    try:
        datetime.fromisoformat(p.get("timestamp", ""))
    except (TypeError, ValueError):
        out.append("payload.timestamp: an ISO 8601 time")
    if not isinstance(p.get("custom_details", {}), dict):
        out.append("payload.custom_details: an object")
    return out


@pytest.fixture
def pagerduty() -> Iterator[Stub]:
    with serve(events_v2, ACCEPTED) as stub:
        yield stub


def sink(stub: Stub, **options: Any) -> PagerDutySink:
    return PagerDutySink("pager", {"routing_key": KEY, "url": stub.url, **options})


@pytest.mark.parametrize("kind", KINDS)
def test_every_kind_is_a_valid_event(
    pagerduty: Stub, notifications: dict[str, Notification], kind: str
) -> None:
    n = notifications[kind]
    sink(pagerduty).send(n)
    (request,) = pagerduty.requests
    assert pagerduty.problems == [] and request.path == "/v2/enqueue"
    body = request.json()
    resolved = n.trigger["to"] == "resolved"
    assert body["event_action"] == ("resolve" if resolved else "trigger")
    assert body["dedup_key"] == f"warden:{n.trigger['threshold']}:{n.trigger['subject']}"


def test_a_firing_event_carries_severity_evidence_mitigations_and_links(
    pagerduty: Stub, notifications: dict[str, Notification]
) -> None:
    n = notifications["firing"]
    sink(pagerduty, source="warden.lab.example", client_url="https://warden.example/").send(n)
    body = pagerduty.requests[0].json()
    p = body["payload"]
    assert p["severity"] == "critical" and p["source"] == "warden.lab.example"
    assert p["summary"] == (
        "[FIRING] lab.cyber.ctf.high (acme/m1): Cyber uplift: most CTF challenges <solved> & "
        "reported: cyber_ctf accuracy = 0.8 (trigger >= 0.5) [provenance not stated]"
    )
    assert (p["component"], p["group"], p["class"]) == ("acme/m1", "cyber", "high")
    assert p["timestamp"] == "2025-03-02T09:30:00+00:00"
    d = p["custom_details"]
    assert d["mitigations"] == MITIGATIONS and d["safeguards"] == ["ASL-3", "SL-3"]
    assert d["measurements"] == [
        "cyber_ctf accuracy = 0.8 ± 0.05 (n=200) (trigger >= 0.5, warning >= 0.4)"
    ]
    assert d["evidence"][0]["source"] == SOURCE_URL and d["evidence"][0]["stderr"] == 0.05
    assert d["trigger"]["idempotency_key"] == n.idempotency_key
    assert body["links"] == [
        {"href": RUNBOOK, "text": "Runbook"},
        {"href": SOURCE_URL, "text": "Evidence"},
    ]
    assert body["client"] == "warden" and body["client_url"] == "https://warden.example/"


def test_one_incident_per_alert_resolved_by_its_resolve(
    pagerduty: Stub, notifications: dict[str, Notification]
) -> None:
    s = sink(pagerduty)
    for kind in ("before_resolved", "resolved", "minimal", "nodata"):
        s.send(notifications[kind])
    firing, resolve, minimal, nodata = pagerduty.bodies()
    assert firing["dedup_key"] == resolve["dedup_key"] == dedup_key(MAIN.id, "acme/m3")
    assert resolve == {
        "routing_key": KEY,
        "event_action": "resolve",
        "dedup_key": dedup_key(MAIN.id, "acme/m3"),
    }
    # No data keeps the incident open (a trigger on the same key), never resolves it.
    assert minimal["dedup_key"] == nodata["dedup_key"] == dedup_key(MINIMAL.id, "acme/m4")
    assert nodata["event_action"] == "trigger"
    assert nodata["payload"]["summary"].startswith("[NODATA] lab.minimal.info (acme/m4)")
    assert "NOT resolved" in nodata["payload"]["custom_details"]["meaning"]
    assert nodata["payload"]["custom_details"]["acknowledged"].startswith("by alice")
    assert minimal["payload"]["severity"] == "info"


def test_early_warnings_keep_the_threshold_s_severity(
    pagerduty: Stub, notifications: dict[str, Notification]
) -> None:
    sink(pagerduty).send(notifications["warning"])
    assert pagerduty.requests[0].json()["payload"]["severity"] == "critical"


def test_a_long_dedup_key_is_hashed_and_stable() -> None:
    key = dedup_key("t." + "x" * 300, "m")
    assert len(key) <= 255 and key == dedup_key("t." + "x" * 300, "m") != dedup_key("t.y", "m")
    assert dedup_key("lab.a.b", "org/model") == "warden:lab.a.b:org/model"


@pytest.mark.parametrize(
    ("reply", "permanent", "said"),
    [
        (
            Reply(
                400,
                json.dumps(
                    {
                        "status": "invalid event",
                        "message": "Event object is invalid",
                        "errors": ["'payload.summary' is missing or blank"],
                    }
                ),
            ),
            True,
            "Event object is invalid; 'payload.summary' is missing or blank",
        ),
        (Reply(429, "", {"Retry-After": "3"}), False, "HTTP 429"),
        (Reply(500, "oops"), False, "HTTP 500 from PagerDuty: oops"),
        (Reply(503, ""), False, "HTTP 503"),
        (Reply(408, ""), False, "HTTP 408"),
        (Reply(403, "forbidden"), True, "HTTP 403"),
    ],
)
def test_answers_are_permanent_or_retried(
    pagerduty: Stub,
    notifications: dict[str, Notification],
    reply: Reply,
    permanent: bool,
    said: str,
) -> None:
    pagerduty.replies = [reply]
    with pytest.raises(DeliveryError) as caught:
        sink(pagerduty).send(notifications["firing"])
    assert caught.value.permanent is permanent and said in caught.value.why
    assert "SECRET" not in str(caught.value)


def test_unreachable_is_retried(notifications: dict[str, Notification]) -> None:
    s = PagerDutySink("pager", {"routing_key": KEY, "url": "http://127.0.0.1:9"})
    with pytest.raises(DeliveryError) as caught:
        s.send(notifications["firing"])
    assert not caught.value.permanent and "SECRET" not in str(caught.value)


def test_defaults_and_bad_options() -> None:
    s = PagerDutySink("pager", {"routing_key": KEY})
    assert s.endpoint == "https://events.pagerduty.com/v2/enqueue"
    assert KEY not in repr(s.options) and KEY not in str(s.options)
    assert PagerDutySink("p", {"routing_key": KEY, "url": "http://pd.local/x/"}).endpoint == (
        "http://pd.local/x/v2/enqueue"
    )
    for raw, message in [
        ({}, "options.routing_key: Field required"),
        ({"routing_key": ""}, "options.routing_key"),
        ({"routing_key": KEY, "url": "pagerduty"}, "options.url"),
        ({"routing_key": KEY, "severity": "critical"}, "options.severity: unknown key"),
    ]:
        with pytest.raises(ConfigError, match=message) as caught:
            PagerDutySink("pager", raw)
        assert "SECRET" not in str(caught.value)
