"""Every human-facing sink says whether the threshold's level is a framework's own number or a
proxy chosen by warden's catalog, with its sources, and shows numbers in their unit, rounded to
their significance, times to the second: on real triggers of bundled thresholds
(tests/delivery/sinks/bundled.py), sent to loopback stand-ins of Slack, PagerDuty and
Alertmanager, built as e-mail, and written by the log sink."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from tests.delivery.sinks.bundled import METR_URL
from tests.support.sink_stub import serve
from warden.core.notification import Notification
from warden.delivery.sinks import email
from warden.delivery.sinks.alertmanager import AlertmanagerSink
from warden.delivery.sinks.log import LogSink
from warden.delivery.sinks.pagerduty import PagerDutySink
from warden.delivery.sinks.render import view
from warden.delivery.sinks.slack import SlackSink

PROXY = "proxy chosen by warden's catalog"
FRAMEWORK = "framework number"
METR_PAPER = "https://metr.org/blog/2025-03-19-measuring-ai-ability-to-complete-long-tasks/"
AI_ACT = "https://eur-lex.europa.eu/eli/reg/2024/1689/oj"
RAW = "0.8363999999999999"


def _slack_text(n: Notification) -> str:
    with serve() as stub:
        SlackSink("chat", {"url": stub.url + "/services/T/B/X"}).send(n)
        (request,) = stub.requests
    body = request.json()
    parts = [body["text"]]
    for block in body["blocks"]:
        if "text" in block:
            parts.append(block["text"]["text"])
        parts += [f["text"] for f in block.get("fields", [])]
        parts += [e["text"] for e in block.get("elements", [])]
    return "\n".join(parts)


def test_slack_says_proxy_or_framework_number_with_linked_sources(
    bundled: dict[str, Notification],
) -> None:
    metr = _slack_text(bundled["metr"])
    assert f"*Threshold basis*: {PROXY}" in metr
    assert "when.value: proxy (chosen by us: the RSP states its autonomy checkpoint" in metr
    assert f"<{METR_PAPER}|METR, Measuring AI Ability to Complete Long Tasks (2025)>" in metr
    assert "= 520 min (trigger &gt;= 480 min [proxy], warning &gt;= 240 min [proxy])" in metr
    compute = _slack_text(bundled["compute"])
    assert f"*Threshold basis*: {FRAMEWORK}" in compute and f"<{AI_ACT}|" in compute
    assert "1.2e25 FLOP (trigger &gt; 1e25 FLOP [framework number]" in compute
    assert "warning &gt; 2.5e24 FLOP [proxy]" in compute
    gpqa = _slack_text(bundled["gpqa"])
    assert "90% ± 1% (n=198)" in gpqa and "&gt;= 83.64%" in gpqa and RAW not in gpqa


def test_email_text_and_html_state_the_basis_and_the_sources(
    bundled: dict[str, Notification],
) -> None:
    msg = email.build(bundled["metr"], "warden@lab.example", ["safety@lab.example"])
    assert isinstance(msg, EmailMessage)
    assert msg["Subject"].endswith(f"(trigger >= 480 min) [{PROXY}]")
    text_part = msg.get_body(("plain",))
    html_part = msg.get_body(("html",))
    assert text_part is not None and html_part is not None
    text, html = text_part.get_content(), html_part.get_content()
    assert f"Threshold basis: {PROXY}" in text
    assert f"  - METR, Measuring AI Ability to Complete Long Tasks (2025) <{METR_PAPER}>" in text
    assert "observed 2025-06-02 09:30:15 UTC" in text  # to the second
    assert f"<strong>Threshold basis:</strong> {PROXY.replace(chr(39), '&#x27;')}" in html
    assert f'<a href="{METR_PAPER}">METR, Measuring AI Ability' in html
    gpqa = email.build(bundled["gpqa"], "warden@lab.example", ["safety@lab.example"])
    assert "83.64%" in gpqa["Subject"] and RAW not in gpqa.as_string()


def test_pagerduty_summary_and_details_state_the_basis(
    bundled: dict[str, Notification],
) -> None:
    with serve() as stub:
        sink = PagerDutySink("pager", {"routing_key": "k" * 32, "url": stub.url})
        sink.send(bundled["compute"])
        sink.send(bundled["metr"])
        compute, metr = (r.json()["payload"] for r in stub.requests)
    assert compute["summary"].endswith(
        "training_compute flop = 1.2e25 FLOP (trigger > 1e25 FLOP) [framework number]"
    )
    details = compute["custom_details"]
    assert details["basis"] == FRAMEWORK
    assert details["basis_notes"][0].startswith("when.value: framework number (AI Act Art. 51(2)")
    assert any(s.endswith(f"<{AI_ACT}>") for s in details["sources"])
    assert metr["summary"].endswith(f"[{PROXY}]") and metr["custom_details"]["basis"] == PROXY


def test_alertmanager_annotations_state_the_basis_and_sources(
    bundled: dict[str, Notification],
) -> None:
    now = datetime(2025, 6, 2, 10, tzinfo=UTC)
    with serve() as stub:
        AlertmanagerSink("am", {"urls": [stub.url]}, clock=lambda: now).send(bundled["metr"])
        (alert,) = [a for body in stub.bodies() for a in body]
    notes = alert["annotations"]
    assert notes["basis"] == PROXY
    assert f"METR, Measuring AI Ability to Complete Long Tasks (2025) <{METR_PAPER}>" in (
        notes["sources"].splitlines()
    )
    assert f"Threshold basis: {PROXY}" in notes["description"]
    assert notes["summary"].endswith(f"[{PROXY}]")
    assert notes["value"].startswith("metr_time_horizon p50_minutes = 520 min")


def test_the_log_line_states_the_basis_and_keeps_raw_numbers(
    bundled: dict[str, Notification], tmp_path: Path
) -> None:
    path = tmp_path / "alerts.jsonl"
    LogSink("log", {"path": str(path)}).send(bundled["gpqa"])
    (line,) = path.read_text().splitlines()
    payload = json.loads(line)
    assert payload["summary"].endswith(f"= 90% (trigger >= 83.64%) [{PROXY}]")
    assert payload["basis"]["kind"] == "proxy" and payload["basis"]["label"] == PROXY
    assert payload["basis"]["numbers"]["when.ratio"]["kind"] == "proxy"
    assert payload["trigger"]["condition"]["value"] == 0.8363999999999999  # raw in JSON
    assert payload["trigger"]["scales"] == {"gpqa_diamond/accuracy": "fraction"}


def test_corroborated_levels_are_tagged_one_by_one(bundled: dict[str, Notification]) -> None:
    a = view(bundled["uplift"])
    vct, protocolqa, _, wmdp = a.measurements
    assert vct.text == (
        "vct accuracy = 30% [acme/bio] "
        "(trigger >= 22.1% [proxy], warning >= 15% [framework number])"
    )
    assert protocolqa.value == "no evidence" and protocolqa.trigger == ">= 70%"
    assert wmdp.trigger_basis == "proxy" and wmdp.warning_basis == FRAMEWORK
    assert a.basis == PROXY and len(a.sources) == 4


def test_a_framework_number_with_a_proxy_warning_says_both(
    bundled: dict[str, Notification],
) -> None:
    a = view(bundled["compute_warning"])
    assert a.status == "warning" and a.basis == FRAMEWORK
    (m,) = a.measurements
    assert m.text == (
        "training_compute flop = 5e24 FLOP "
        "(trigger > 1e25 FLOP [framework number], warning > 2.5e24 FLOP [proxy])"
    )


def _with_variant(n: Notification, where: str) -> Notification:
    trigger: dict[str, Any] = copy.deepcopy(dict(n.trigger))
    for e in trigger["evidence"]:
        if where == "field":
            e["variant"] = "xhigh"
        else:
            e["attributes"] = {"variant": "xhigh", "scaffold": "react"}
    return Notification(n.idempotency_key, n.sink, n.trigger_seq, n.trigger_hash, trigger)  # type: ignore[arg-type]


def test_the_deciding_variant_is_named_beside_the_model_and_nothing_when_absent(
    bundled: dict[str, Notification],
) -> None:
    plain = view(bundled["metr"])
    assert plain.subject_text == "frontier (best model: acme/agent)"
    assert plain.evidence[0].model == "acme/agent"
    for where in ("field", "attributes"):
        a = view(_with_variant(bundled["metr"], where))
        assert a.subject_text == "frontier (best model: acme/agent (xhigh))"
        assert a.evidence[0].text.startswith("acme/agent (xhigh) metr_time_horizon/p50_minutes")
        assert a.evidence[0].url == METR_URL
    combined = view(_with_variant(bundled["uplift"], "field"))
    assert combined.measurements[0].value == "30% [acme/bio (xhigh)]"
    assert "acme/agent (xhigh)" in _slack_text(_with_variant(bundled["metr"], "field"))
