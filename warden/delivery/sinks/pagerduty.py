"""The PagerDuty sink: Events API v2, `POST {url}/v2/enqueue`.

- `event_action`: `trigger` for firing, warning, nodata and error (so a no-data or error state
  keeps the incident open: it is never read as resolved), `resolve` for resolved.
- `dedup_key`: one per threshold x subject (`warden:<threshold>:<subject>`, or a SHA-256 of it
  when that exceeds PagerDuty's 255 characters), not per trigger: every state of one alert
  updates the same incident, and the resolve closes it. Re-sending an event is harmless.
- `payload`: `summary` (the summary line, at most 1024 characters), `source` (option, default
  `warden`), `severity` (the threshold's `critical`, `warning` or `info`, in every state: later
  events for the key land on the alert the first one opened, whose urgency that first severity
  may have set, so an early warning is not sent as a lesser one; route early warnings elsewhere
  if they should not page), `timestamp` (the trigger's time), `component` = subject, `group` =
  domain, `class` = level, and `custom_details` with the measurements, the threshold's basis
  (framework number or proxy, each number's note) and sources, reason, mitigations,
  safeguards, annotations and the evidence (its first 20 observations); `links` to the runbook
  and the evidence. A resolve carries only the key.
- Outcomes: 202 (any 2xx) is delivered; 400 (an invalid event: the errors are quoted) and other
  4xx are permanent; 408, 429 and 5xx, timeouts and connection errors are retried.

Trap: the routing key is a secret and travels in the body, never in a log line.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any, ClassVar

import requests
from pydantic import AnyHttpUrl, BaseModel, ConfigDict, Field, SecretStr

from warden import __version__
from warden.core.errors import DeliveryError
from warden.core.notification import Notification
from warden.core.plugins import options
from warden.delivery.sinks.render import Alert, truncate, view

DEFAULT_URL = "https://events.pagerduty.com"
SUMMARY_MAX, DEDUP_MAX, EVIDENCE_MAX = 1024, 255, 20


class Options(BaseModel):
    model_config = ConfigDict(extra="forbid")

    routing_key: SecretStr = Field(min_length=1)
    url: AnyHttpUrl = AnyHttpUrl(DEFAULT_URL)
    source: str = Field("warden", min_length=1)
    client_url: AnyHttpUrl | None = None
    timeout_seconds: float = Field(10.0, gt=0)


def dedup_key(threshold: str, subject: str) -> str:
    """Stable per threshold x subject."""
    key = f"warden:{threshold}:{subject}"
    if len(key) <= DEDUP_MAX:
        return key
    return "warden:" + hashlib.sha256(f"{threshold}\n{subject}".encode()).hexdigest()


def event(n: Notification, routing_key: str, source: str, client_url: str | None) -> dict[str, Any]:
    """The event for `n` (pure)."""
    a = view(n)
    body: dict[str, Any] = {
        "routing_key": routing_key,
        "event_action": "resolve" if a.status == "resolved" else "trigger",
        "dedup_key": dedup_key(a.threshold, a.subject),
    }
    if a.status == "resolved":
        return body
    body["client"] = "warden"
    if client_url:
        body["client_url"] = client_url
    links = [(a.runbook, "Runbook"), (a.evidence_url, "Evidence")]
    body["links"] = [{"href": url, "text": text} for url, text in links if url]
    body["payload"] = {
        "summary": truncate(a.summary, SUMMARY_MAX),
        "source": source,
        "severity": a.severity,
        "timestamp": a.at_iso,
        "component": a.subject,
        "group": a.domain,
        "class": a.level,
        "custom_details": details(n, a),
    }
    return body


def details(n: Notification, a: Alert) -> dict[str, Any]:
    evidence = n.trigger.get("evidence")
    evidence = evidence if isinstance(evidence, list) else []
    out: dict[str, Any] = {
        "state": a.status_text,
        "meaning": a.meaning,
        "change": a.change,
        "threshold": a.threshold,
        "threshold_version": a.version,
        "title": a.title,
        "subject": a.subject_text,
        "measurements": [m.text for m in a.measurements],
        "basis": a.basis,
        "basis_notes": list(a.basis_notes),
        "sources": [f"{t} <{u}>" if u else t for t, u in a.sources],
        "reason": a.reason,
        "acknowledged": a.acknowledged,
        "mitigations": list(a.mitigations),
        "safeguards": list(a.safeguards),
        "annotations": dict(a.annotations),
        "labels": dict(a.labels),
        "runbook": a.runbook,
        "evidence": evidence[:EVIDENCE_MAX],
        "trigger": {"seq": a.seq, "hash": a.hash, "at": a.at_iso, "idempotency_key": a.key},
    }
    if len(evidence) > EVIDENCE_MAX:
        out["evidence_omitted"] = len(evidence) - EVIDENCE_MAX
    return out


class PagerDutySink:
    type: ClassVar[str] = "pagerduty"

    def __init__(self, sink_id: str, raw_options: Mapping[str, Any]) -> None:
        self.id = sink_id
        self.options = options(Options, raw_options, f"sinks.{sink_id}")
        self.endpoint = str(self.options.url).rstrip("/") + "/v2/enqueue"
        self._session = requests.Session()

    def event(self, n: Notification) -> dict[str, Any]:
        o = self.options
        client_url = str(o.client_url) if o.client_url else None
        return event(n, o.routing_key.get_secret_value(), o.source, client_url)

    def send(self, notification: Notification) -> None:
        """One Events API event per alert (a group's too: PagerDuty dedups and groups by each
        event's `dedup_key`, the alert's); re-sending a group after a failure is harmless."""
        for single in notification.split():
            self._send(single)

    def _send(self, notification: Notification) -> None:
        try:
            response = self._session.post(
                self.endpoint,
                json=self.event(notification),
                headers={"User-Agent": f"warden/{__version__}"},
                timeout=self.options.timeout_seconds,
                allow_redirects=False,
            )
        except requests.RequestException as exc:
            raise DeliveryError(self.id, f"{type(exc).__name__}: {exc}") from exc
        status = response.status_code
        if 200 <= status < 300:
            return
        why = f"HTTP {status} from PagerDuty" + _errors(response)
        permanent = 300 <= status < 500 and status not in (408, 429)
        raise DeliveryError(self.id, why, permanent=permanent)


def _errors(response: requests.Response) -> str:
    """PagerDuty's reasons (`message` and `errors` of its JSON answer), for the log line."""
    try:
        body = response.json()
    except ValueError:
        text = response.text.strip()[:200]
        return f": {text}" if text else ""
    if not isinstance(body, dict):
        return ""
    parts = [str(body.get("message") or "")]
    errors = body.get("errors")
    if isinstance(errors, list):
        parts += [str(e) for e in errors[:5]]
    shown = "; ".join(p for p in parts if p)
    return f": {shown[:300]}" if shown else ""
