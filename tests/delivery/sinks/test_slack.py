"""The Slack sink against a loopback stand-in for an incoming webhook that checks Block Kit's
rules (as Slack does: 400 `invalid_blocks`), on real triggers of every kind."""

from __future__ import annotations

import copy
import re
from collections.abc import Iterator
from typing import Any

import pytest

from tests.support.factories import T0, threshold
from tests.support.sink_stub import Reply, Stub, serve
from tests.support.triggers import KINDS, SOURCE_URL
from warden.alerting.cycle import run_cycle
from warden.catalog.thresholds import Catalog
from warden.core.errors import ConfigError, DeliveryError
from warden.core.model import Observation
from warden.core.notification import Notification
from warden.delivery.dispatch import Dispatcher
from warden.delivery.settings import DispatchSettings
from warden.delivery.sinks.slack import SlackSink
from warden.store import Store
from warden.store import observations as obs_rows

SECRET_PATH = "/services/T000/B000/XXXXSECRETXXXX"
LINK = re.compile(r"<https?://[^|<>\s]+\|[^<>]*>")


def _text_problems(where: str, value: Any, limit: int) -> list[str]:
    if not isinstance(value, str) or not value:
        return [f"{where}: a non-empty string"]
    out = [f"{where}: {len(value)} > {limit} characters"] if len(value) > limit else []
    bare = LINK.sub("", value)
    if "<" in bare or ">" in bare:
        out.append(f"{where}: unescaped < or > outside a link: {value[:80]!r}")
    if re.search(r"&(?!amp;|lt;|gt;)", bare):
        out.append(f"{where}: unescaped &: {value[:80]!r}")
    return out


def block_kit(body: Any) -> list[str]:
    """The problems Slack would refuse a message for (the rules warden can break)."""
    if not isinstance(body, dict):
        return ["body: an object"]
    problems = _text_problems("text", body.get("text"), 40000)
    blocks = body.get("blocks")
    if not isinstance(blocks, list) or not 0 < len(blocks) <= 50:
        return [*problems, "blocks: 1 to 50"]
    for i, b in enumerate(blocks):
        kind = b.get("type")
        if kind == "header":
            t = b["text"]
            if t.get("type") != "plain_text" or not 0 < len(t.get("text", "")) <= 150:
                problems.append(f"blocks[{i}]: a header is plain_text of 1 to 150 characters")
        elif kind == "section":
            if "text" in b:
                assert b["text"]["type"] == "mrkdwn"
                problems += _text_problems(f"blocks[{i}].text", b["text"]["text"], 3000)
            fields = b.get("fields", [])
            if len(fields) > 10:
                problems.append(f"blocks[{i}]: more than 10 fields")
            for j, f in enumerate(fields):
                problems += _text_problems(f"blocks[{i}].fields[{j}]", f["text"], 2000)
            if "text" not in b and not fields:
                problems.append(f"blocks[{i}]: a section needs text or fields")
        elif kind == "context":
            elements = b.get("elements", [])
            if not 0 < len(elements) <= 10:
                problems.append(f"blocks[{i}]: a context has 1 to 10 elements")
            for j, e in enumerate(elements):
                problems += _text_problems(f"blocks[{i}].elements[{j}]", e["text"], 3000)
        else:
            problems.append(f"blocks[{i}]: unexpected type {kind!r}")
    return problems


@pytest.fixture
def slack() -> Iterator[Stub]:
    with serve(block_kit, Reply(200, "ok")) as stub:
        yield stub


def sink(stub: Stub, **options: Any) -> SlackSink:
    return SlackSink("chat", {"url": stub.url + SECRET_PATH, **options})


def texts(body: dict[str, Any]) -> str:
    """Every text of a message, one per line."""
    out = [body["text"]]
    for b in body["blocks"]:
        if "text" in b:
            out.append(b["text"]["text"])
        out += [f["text"] for f in b.get("fields", []) + b.get("elements", [])]
    return "\n".join(out)


@pytest.mark.parametrize("kind", KINDS)
def test_every_kind_is_a_valid_message(
    slack: Stub, notifications: dict[str, Notification], kind: str
) -> None:
    sink(slack).send(notifications[kind])
    (request,) = slack.requests
    assert slack.problems == [] and request.path == SECRET_PATH
    body = request.json()
    header = body["blocks"][0]["text"]["text"]
    assert header.startswith(
        {
            "firing": "FIRING: ",
            "warning": "EARLY WARNING: ",
            "resolved": "RESOLVED: ",
            "nodata": "NO DATA: ",
            "error": "EVALUATION ERROR: ",
        }[notifications[kind].trigger["to"]]
    )


def test_a_firing_message_says_what_crossed_by_how_much_and_what_to_do(
    slack: Stub, notifications: dict[str, Notification]
) -> None:
    sink(slack).send(notifications["firing"])
    body = slack.requests[0].json()
    all_text = texts(body)
    assert body["text"].startswith(":rotating_light: FIRING: Cyber uplift: most CTF challenges ")
    assert "&lt;solved&gt; &amp; reported" in body["text"]
    assert "*acme/m1*: `lab.cyber.ctf.high`" in all_text
    assert "cyber_ctf accuracy = 0.8 ± 0.05 (n=200) (trigger &gt;= 0.5, warning &gt;= 0.4)" in (
        all_text
    )
    assert "*State*\ninactive -&gt; firing" in all_text and "*Severity*\ncritical" in all_text
    assert "• Pause external deployment &amp; notify the &lt;board&gt; within 24h" in all_text
    assert "*Safeguards*\nASL-3, SL-3" in all_text
    assert "<https://example.org/runbooks/cyber?team=red&step=1|Runbook>" in all_text
    evidence = SOURCE_URL.replace("<", "%3C").replace(">", "%3E")
    assert f"<{evidence}|Evidence>" in all_text and f"<{evidence}|source>" in all_text
    assert "lower 0.95 bound 0.702002 &gt;= 0.5" in all_text


def test_resolve_nodata_and_error_read_differently(
    slack: Stub, notifications: dict[str, Notification]
) -> None:
    s = sink(slack)
    for kind in ("resolved", "nodata", "error"):
        s.send(notifications[kind])
    resolved, nodata, error = (texts(b) for b in slack.bodies())
    assert ":white_check_mark:" in resolved and "no longer crossed" in resolved
    assert ":grey_question:" in nodata and "NOT resolved" in nodata
    assert "*Acknowledged* by alice at 2025-03-02 09:30:00 UTC: looking into it" in nodata
    assert ":x:" in error and "evaluation failed: RuntimeError" in error


def test_overlong_content_is_cut_to_slack_s_limits(
    slack: Stub, notifications: dict[str, Notification]
) -> None:
    n = notifications["firing"]
    t = copy.deepcopy(n.trigger)
    t["title"] = "T<>&" * 400
    t["mitigations"] = [f"step {i} " + "x" * 300 for i in range(100)]
    t["reason"] = "r" * 5000
    t["evidence"] = t["evidence"] * 30
    sink(slack).send(Notification(n.idempotency_key, n.sink, n.trigger_seq, n.trigger_hash, t))
    assert slack.problems == []
    body = slack.requests[0].json()
    assert "and 25 more observations" in texts(body)


def test_channel_username_and_icon_are_passed(
    slack: Stub, notifications: dict[str, Notification]
) -> None:
    s = sink(slack, channel="#alerts", username="warden", icon_emoji=":shield:")
    s.send(notifications["warning"])
    body = slack.requests[0].json()
    assert (body["channel"], body["username"], body["icon_emoji"]) == (
        "#alerts",
        "warden",
        ":shield:",
    )


@pytest.mark.parametrize(
    ("reply", "permanent", "said"),
    [
        (Reply(400, "invalid_blocks"), True, "HTTP 400 from Slack (127.0.0.1): invalid_blocks"),
        (Reply(403, "action_prohibited"), True, "action_prohibited"),
        (Reply(404, "channel_not_found"), True, "channel_not_found"),
        (Reply(410, "channel_is_archived"), True, "channel_is_archived"),
        (Reply(429, "rate_limited", {"Retry-After": "7"}), False, "(Retry-After 7 s)"),
        (Reply(500, "rollup_error"), False, "HTTP 500"),
        (Reply(302, "", {"Location": "https://elsewhere.example/"}), True, "HTTP 302"),
    ],
)
def test_answers_are_permanent_or_retried(
    slack: Stub,
    notifications: dict[str, Notification],
    reply: Reply,
    permanent: bool,
    said: str,
) -> None:
    slack.replies = [reply]
    with pytest.raises(DeliveryError) as caught:
        sink(slack).send(notifications["firing"])
    assert caught.value.permanent is permanent and said in caught.value.why
    assert "SECRET" not in str(caught.value)


def test_unreachable_and_hanging_are_retried_without_leaking_the_url(
    slack: Stub, notifications: dict[str, Notification]
) -> None:
    dead = SlackSink("chat", {"url": "http://127.0.0.1:9" + SECRET_PATH, "timeout_seconds": 2})
    with pytest.raises(DeliveryError) as caught:
        dead.send(notifications["firing"])
    assert not caught.value.permanent and "SECRET" not in str(caught.value)
    assert "ConnectionError posting to 127.0.0.1" in caught.value.why
    slack.replies = [Reply(200, "ok", delay=1.0)]
    with pytest.raises(DeliveryError) as caught:
        sink(slack, timeout_seconds=0.2).send(notifications["firing"])
    assert not caught.value.permanent and "Timeout" in caught.value.why
    assert "SECRET" not in str(caught.value)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"url": "ftp://hooks.example/services/SECRET"}, "url: an http(s) URL"),
        ({"url": "not a url SECRET"}, "url: an http(s) URL"),
        ({}, "options.url: Field required"),
        ({"url": "https://hooks.slack.com/x", "colour": "red"}, "options.colour: unknown key"),
        ({"url": "https://hooks.slack.com/x", "icon_emoji": "shield"}, "options.icon_emoji"),
        ({"url": "https://hooks.slack.com/x", "timeout_seconds": 0}, "timeout_seconds"),
    ],
)
def test_bad_options_are_config_errors_that_never_echo_the_url(
    options: dict[str, Any], message: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        SlackSink("chat", options)
    assert message in str(caught.value) and "sinks.chat" in str(caught.value)
    assert "SECRET" not in str(caught.value)


def test_through_the_dispatcher_from_a_real_cycle(store: Store, slack: Stub) -> None:
    """The sink as warden runs it: a cycle's outbox row delivered by the dispatcher."""
    row = Observation("m", "bench", "acc", 0.9, T0, "k", "https://x.example/run", "0" * 64)
    with store.write() as conn:
        obs_rows.insert_observations(conn, "f", [row], T0)
    run_cycle(store, Catalog((threshold(),)), ["chat"], lambda: T0)
    settings = DispatchSettings(max_attempts=3)
    assert Dispatcher(store, {"chat": sink(slack)}, settings, lambda: T0).run_once() == 1
    (request,) = slack.requests
    assert slack.problems == []
    assert "FIRING: Test threshold - m" in request.json()["text"]
