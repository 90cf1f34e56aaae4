"""The Alertmanager sink: its alerts (labels, annotations, times) against loopback stand-ins
for several instances, and end to end with a real Alertmanager 0.25 (Debian's), which routes
them to a webhook receiver on loopback."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml

from tests.support import promstack
from tests.support.receiver import Receiver, receiver
from tests.support.sink_stub import Reply, Stub, serve
from tests.support.triggers import KINDS, MAIN, MITIGATIONS, RUNBOOK, SOURCE_URL
from warden.core.errors import ConfigError, DeliveryError
from warden.core.notification import Notification
from warden.delivery.sinks.alertmanager import AlertmanagerSink

NOW = datetime(2025, 3, 2, 12, 0, tzinfo=UTC)
NAME = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")


def parse(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def api_v2(body: Any) -> list[str]:
    """What Alertmanager 0.25 refuses in `POST /api/v2/alerts` (postableAlerts)."""
    if not isinstance(body, list) or not body:
        return ["body: a non-empty list of alerts"]
    out = []
    for i, a in enumerate(body):
        out += [f"[{i}]: unknown field {k}" for k in sorted(set(a) - {
            "labels", "annotations", "startsAt", "endsAt", "generatorURL"
        })]  # fmt: skip
        if not a.get("labels"):
            out.append(f"[{i}]: no labels")
        for group in ("labels", "annotations"):
            for k, v in a.get(group, {}).items():
                if not NAME.match(k) or not isinstance(v, str):
                    out.append(f"[{i}].{group}: invalid {k!r}={v!r}")
        if parse(a["endsAt"]) < parse(a["startsAt"]):
            out.append(f"[{i}]: start time must be before end time")
    return out


@pytest.fixture
def instances() -> Iterator[tuple[Stub, Stub]]:
    with serve(api_v2) as one, serve(api_v2) as two:
        yield one, two


def sink(*stubs: Stub, **options: Any) -> AlertmanagerSink:
    raw = {"urls": [s.url for s in stubs], **options}
    return AlertmanagerSink("am", raw, clock=lambda: NOW)


def posted(stub: Stub) -> list[dict[str, Any]]:
    return [a for body in stub.bodies() for a in body]


@pytest.mark.parametrize("kind", KINDS)
def test_every_kind_is_a_valid_alert_posted_to_every_instance(
    instances: tuple[Stub, Stub], notifications: dict[str, Notification], kind: str
) -> None:
    n = notifications[kind]
    sink(*instances).send(n)
    for stub in instances:
        (request,) = stub.requests
        assert stub.problems == [] and request.path == "/api/v2/alerts"
    (alert,) = posted(instances[0])
    assert alert == posted(instances[1])[0]
    t = n.trigger
    assert alert["labels"]["alertname"] == t["threshold"]
    assert alert["labels"]["subject"] == t["subject"]
    assert alert["annotations"]["state"] == t["to"]
    at = parse(t["at"])
    if t["to"] == "resolved":
        assert parse(alert["startsAt"]) == parse(alert["endsAt"]) == at
    else:
        assert parse(alert["startsAt"]) == at
        assert parse(alert["endsAt"]) == NOW + timedelta(hours=1)


def test_labels_and_annotations_of_a_firing_alert(
    instances: tuple[Stub, Stub], notifications: dict[str, Notification]
) -> None:
    s = sink(instances[0], labels={"source": "warden", "team": "ignored"})
    s.send(notifications["firing"])
    (alert,) = posted(instances[0])
    assert alert["labels"] == {
        "alertname": MAIN.id,
        "subject": "acme/m1",
        "severity": "critical",
        "level": "high",
        "domain": "cyber",
        "team": "red",  # the threshold's label wins over the sink's
        "x_owner": "sec ops",  # `x-owner`, made a valid label name
        "source": "warden",
    }
    an = alert["annotations"]
    assert an["summary"].startswith("[FIRING] lab.cyber.ctf.high (acme/m1): Cyber uplift")
    assert an["runbook_url"] == RUNBOOK and an["evidence"] == SOURCE_URL
    assert an["mitigations"] == "\n".join(f"- {m}" for m in MITIGATIONS)
    assert an["safeguards"] == "ASL-3, SL-3"
    assert an["value"] == (
        "cyber_ctf accuracy = 0.8 ± 0.05 (n=200) (trigger >= 0.5, warning >= 0.4)"
    )
    assert "description: Cyber-offence uplift" in an["description"]  # its own, not replaced
    assert "lower 0.95 bound 0.702002 >= 0.5" in an["description"]
    assert an["ticket_url"] == "TICKET-1" and an["state"] == "firing"
    assert alert["generatorURL"] == SOURCE_URL


def test_an_alert_keeps_its_identity_through_nodata(
    instances: tuple[Stub, Stub], notifications: dict[str, Notification]
) -> None:
    s = sink(instances[0])
    s.send(notifications["minimal"])
    s.send(notifications["nodata"])
    firing, nodata = posted(instances[0])
    assert firing["labels"] == nodata["labels"]  # the same Alertmanager alert, still open
    assert parse(nodata["endsAt"]) > NOW
    assert nodata["annotations"]["state"] == "nodata"
    assert "NOT resolved" in nodata["annotations"]["description"]
    assert "Acknowledged by alice" in nodata["annotations"]["description"]
    assert "generatorURL" not in nodata and "runbook_url" not in nodata["annotations"]


def moved(n: Notification, before: str, after: str) -> Notification:
    """`n` as a transition from `before` to `after`."""
    return replace(n, trigger={**n.trigger, "from": before, "to": after})


def test_a_critical_threshold_s_early_warning_does_not_page(
    instances: tuple[Stub, Stub], notifications: dict[str, Notification]
) -> None:
    s = sink(instances[0])
    warned = notifications["warning"]  # lab.cyber.ctf.high (critical) entering warning
    s.send(warned)
    s.send(moved(warned, "warning", "firing"))
    s.send(moved(warned, "firing", "nodata"))
    s.send(moved(warned, "nodata", "resolved"))
    early, closed, page, still, resolved = posted(instances[0])
    assert early["labels"]["severity"] == "warning"  # routed as a warning, not a page
    # Crossing: the warning's labelling is resolved as the critical one opens.
    assert closed["labels"] == early["labels"] and parse(closed["endsAt"]) <= NOW
    assert page["labels"] == {**early["labels"], "severity": "critical"}
    assert parse(page["endsAt"]) > NOW
    # nodata keeps the page open; the resolution closes that same alert.
    assert still["labels"] == page["labels"] and parse(still["endsAt"]) > NOW
    assert resolved["labels"] == page["labels"] and resolved["annotations"]["state"] == "resolved"
    # Falling back below the trigger: the page resolves, the warning opens again.
    s.send(moved(warned, "firing", "warning"))
    again_closed, again_early = posted(instances[0])[5:]
    assert again_closed["labels"] == page["labels"] and parse(again_closed["endsAt"]) <= NOW
    assert again_early["labels"] == early["labels"] and parse(again_early["endsAt"]) > NOW


def test_a_late_retry_of_an_older_trigger_does_not_reopen_the_alert(
    instances: tuple[Stub, Stub], notifications: dict[str, Notification]
) -> None:
    s = sink(instances[0])
    s.send(notifications["resolved"])
    s.send(notifications["before_resolved"])  # older: its delivery was late
    s.refresh([notifications["before_resolved"]])
    (only,) = posted(instances[0])
    assert only["annotations"]["state"] == "resolved"


def test_refresh_reposts_active_alerts_with_a_fresh_end(
    instances: tuple[Stub, Stub], notifications: dict[str, Notification]
) -> None:
    now = [NOW]
    s = AlertmanagerSink(
        "am", {"urls": [i.url for i in instances], "resolve_timeout": "30m"}, clock=lambda: now[0]
    )
    assert s.refresh_every == 600
    active = [notifications[k] for k in ("firing", "warning", "nodata", "feed_silence")]
    for n in active:
        s.send(n)
    now[0] = NOW + timedelta(minutes=10)
    s.refresh(active)
    for stub in instances:
        bodies = stub.bodies()
        assert len(bodies) == 5 and len(bodies[-1]) == 4  # one request for the batch
        assert {parse(a["endsAt"]) for a in bodies[-1]} == {NOW + timedelta(minutes=40)}
        assert [a["labels"] for a in bodies[-1]] == [b[0]["labels"] for b in bodies[:4]]
    instances[1].replies = [Reply(503, "busy")]
    with pytest.raises(DeliveryError) as caught:
        s.refresh(active)
    assert not caught.value.permanent and "HTTP 503: busy" in caught.value.why
    assert len(instances[0].requests) == 6  # the healthy instance got it anyway


@pytest.mark.parametrize(
    ("first", "second", "permanent"),
    [
        (Reply(503, "unavailable"), Reply(200), False),
        (Reply(400, "bad alert"), Reply(200), True),
        (Reply(400, "bad alert"), Reply(500, "boom"), False),
        (Reply(429, "slow down"), Reply(404, "no api"), False),
        (Reply(401, "unauthorized"), Reply(400, "bad"), True),
    ],
)
def test_a_failure_of_any_instance_fails_the_delivery(
    instances: tuple[Stub, Stub],
    notifications: dict[str, Notification],
    first: Reply,
    second: Reply,
    permanent: bool,
) -> None:
    instances[0].replies, instances[1].replies = [first], [second]
    with pytest.raises(DeliveryError) as caught:
        sink(*instances).send(notifications["firing"])
    assert caught.value.permanent is permanent
    assert f"{instances[0].url}/api/v2/alerts: HTTP {first.status}" in caught.value.why
    # Retrying posts to both again: Alertmanager merges the same labels into one alert.
    sink(*instances).send(notifications["firing"])
    assert all(len(i.requests) == 2 for i in instances)


def test_an_unreachable_instance_is_retried(
    instances: tuple[Stub, Stub], notifications: dict[str, Notification]
) -> None:
    s = AlertmanagerSink("am", {"urls": [instances[0].url, "http://127.0.0.1:9"]})
    with pytest.raises(DeliveryError) as caught:
        s.send(notifications["firing"])
    assert not caught.value.permanent and "1 of 2 instances failed" in caught.value.why
    assert len(instances[0].requests) == 1


def test_basic_auth_and_options() -> None:
    s = AlertmanagerSink(
        "am",
        {
            "urls": ["http://am1:9093/", "http://am2:9093/prefix/api/v2/alerts"],
            "username": "warden",
            "password": "pw-SECRET",
            "resolve_timeout": 7200,
        },
    )
    assert s.endpoints == ["http://am1:9093/api/v2/alerts", "http://am2:9093/prefix/api/v2/alerts"]
    assert s._session.auth == ("warden", "pw-SECRET")
    assert s.options.resolve_timeout == 7200 and "SECRET" not in repr(s.options)
    bad: list[tuple[dict[str, Any], str]] = [
        ({"urls": []}, "options.urls: List should have at least 1 item"),
        ({"urls": ["am:9093"]}, "options.urls.0"),
        ({"urls": ["http://am"], "resolve_timeout": "soon"}, "options.resolve_timeout"),
        ({"urls": ["http://am"], "resolve_timeout": 0}, "options.resolve_timeout"),
        ({"urls": ["http://am"], "password": "pw-SECRET"}, "give both, or neither"),
        ({"urls": ["http://am"], "receiver": "x"}, "options.receiver: unknown key"),
    ]
    for raw, message in bad:
        with pytest.raises(ConfigError, match=message) as caught:
            AlertmanagerSink("am", raw)
        assert "SECRET" not in str(caught.value)


# --- a real Alertmanager --------------------------------------------------------------------


def start(binary: str, folder: Path, hook: str) -> promstack.Process:
    """Alertmanager on a free loopback port, every alert routed to the webhook `hook` at once."""
    port = promstack.free_port()
    config = {
        "route": {
            "receiver": "hook",
            "group_by": ["alertname", "subject"],
            "group_wait": "0s",
            "group_interval": "1s",
            "repeat_interval": "1h",
        },
        "receivers": [{"name": "hook", "webhook_configs": [{"url": hook, "send_resolved": True}]}],
    }
    path = folder / "alertmanager.yml"
    path.write_text(yaml.safe_dump(config))
    argv = [
        binary,
        f"--config.file={path}",
        f"--storage.path={folder / 'data'}",
        f"--web.listen-address=127.0.0.1:{port}",
        "--cluster.listen-address=",
        "--log.level=warn",
    ]
    return promstack.Process("alertmanager", argv, port, "/-/ready", folder / "am.log")


def listed(am: promstack.Process, **labels: str) -> list[dict[str, Any]]:
    filters = [f'{k}="{v}"' for k, v in labels.items()]
    r = requests.get(f"{am.url}/api/v2/alerts", params={"filter": filters}, timeout=5)
    r.raise_for_status()
    alerts: list[dict[str, Any]] = r.json()
    return alerts


def notified(hook: Receiver, status: str) -> dict[str, Any] | None:
    for request in hook.requests:
        body: dict[str, Any] = request.json()
        if body["status"] == status:
            return body
    return None


def test_live_alertmanager_receives_refreshes_and_resolves(
    tmp_path: Path, notifications: dict[str, Notification]
) -> None:
    binary = promstack.need("alertmanager")["alertmanager"]
    firing, resolved = notifications["before_resolved"], notifications["resolved"]
    identity = {"alertname": MAIN.id, "subject": "acme/m3"}
    with receiver() as hook, promstack.running(start(binary, tmp_path, hook.url)) as am:
        s = AlertmanagerSink("am", {"urls": [am.url], "resolve_timeout": "10m"})
        sent_at = datetime.now(UTC)
        s.send(firing)
        (alert,) = promstack.wait_until("the alert", lambda: listed(am, **identity), 10)
        assert alert["status"]["state"] == "active"
        assert alert["labels"] == {
            **identity,
            "severity": "critical",
            "level": "high",
            "domain": "cyber",
            "team": "red",
            "x_owner": "sec ops",
        }
        assert alert["annotations"]["runbook_url"] == RUNBOOK
        assert alert["annotations"]["value"].startswith("cyber_ctf accuracy = 0.9 ± 0.01")
        assert parse(alert["startsAt"]) == parse(firing.trigger["at"])
        ends = parse(alert["endsAt"])
        assert timedelta(minutes=9) < ends - sent_at < timedelta(minutes=11)
        body = promstack.wait_until("the firing notification", lambda: notified(hook, "firing"), 15)
        (sent,) = body["alerts"]
        assert sent["labels"]["alertname"] == MAIN.id and sent["status"] == "firing"
        assert sent["annotations"]["summary"].startswith("[FIRING] lab.cyber.ctf.high (acme/m3)")

        longer = AlertmanagerSink("am", {"urls": [am.url], "resolve_timeout": "1h"})
        longer.refresh([firing])  # a refresh pushes endsAt further out
        (alert,) = listed(am, **identity)
        assert parse(alert["endsAt"]) - ends > timedelta(minutes=45)

        s.send(resolved)
        promstack.wait_until("the alert to go", lambda: not listed(am, **identity), 10)
        body = promstack.wait_until(
            "the resolved notification", lambda: notified(hook, "resolved"), 15
        )
        (sent,) = body["alerts"]
        assert sent["status"] == "resolved"
        assert parse(sent["endsAt"]) == parse(resolved.trigger["at"])

        # Alertmanager accepts every kind (a refused one would raise) and lists the active ones.
        latest: dict[tuple[str, str], Notification] = {}
        for n in sorted(notifications.values(), key=lambda n: n.trigger_seq):
            AlertmanagerSink("am", {"urls": [am.url]}).send(n)
            latest[(n.trigger["threshold"], n.trigger["subject"])] = n
        active = {key for key, n in latest.items() if n.trigger["to"] != "resolved"}
        assert (MAIN.id, "acme/m3") not in active and len(active) == 9
        found = {(a["labels"]["alertname"], a["labels"]["subject"]) for a in listed(am)}
        assert found == active
