"""The Alertmanager sink: API v2 `POST /api/v2/alerts` to every configured instance (tested
with Alertmanager 0.25, Debian 12's).

- One Alertmanager alert per threshold x subject. Its labels are its identity: `alertname`
  (threshold id), `subject`, `severity`, `level`, `domain`, plus the threshold's `then.labels`
  and the sink's `labels` option (names made valid: other characters become `_`; warden's own
  labels win a clash, then the threshold's). The state is an annotation: `nodata` and `error`
  keep the labels of the state before them, so they keep the alert open (never read as
  resolved). One exception: a `critical` threshold's early warning (state `warning`) is
  labelled `severity="warning"`, so it does not page like the crossing itself; moving between
  `warning` and `firing` resolves the one labelling and opens the other.
- Annotations: `summary`, `description` (what the state means, the measurements, what the
  threshold's level rests on, the reason and the threshold's annotations), `mitigations`,
  `safeguards`, `runbook_url`, `evidence` (the first http(s) evidence source, else the first
  source), `state`, `value`, `basis` (framework number or proxy chosen by warden's catalog),
  `sources` (the threshold's citations, one `title <url>` a line), `trigger`, and the
  threshold's own annotations under their (valid) names when they do not clash.
- Times: `startsAt` is the trigger's time. For `firing`, `warning`, `nodata` and `error`,
  `endsAt` is now + `resolve_timeout` (default 1 h): Alertmanager resolves an alert by itself
  once its `endsAt` passes, so `refresh` must re-post every active alert well within that
  (`refresh_every`, a third of it). For `resolved`, `endsAt` is the resolution time.
  `generatorURL` is the `generator_url` option, else the evidence link.
- Delivery: posted to every instance; delivered when every instance accepts it (2xx). If any
  fails, the whole notification fails (transient unless every failure is permanent: a 4xx other
  than 408/429), so the outbox retries; re-posting is idempotent because Alertmanager merges
  alerts with the same labels.
- Order: a notification older (lower trigger seq) than one this sink already posted for the same
  alert is not posted (and counts as delivered): a late retry of a firing trigger must not
  re-open an alert its resolve has closed. This memory lasts for the process.

Traps: Alertmanager validates annotation names like label names; it forgets an alert whose
`endsAt` has passed; a resolved alert it never saw firing is accepted and never notified.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, ClassVar

import requests
from pydantic import (
    AnyHttpUrl,
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    model_validator,
)

from warden import __version__
from warden.core.clock import Clock, system_clock
from warden.core.config import Duration
from warden.core.errors import DeliveryError
from warden.core.notification import Notification
from warden.core.plugins import options
from warden.delivery.sinks.render import Alert, view

PATH = "/api/v2/alerts"
BATCH = 500  # alerts per request in `refresh`
_INVALID = re.compile(r"[^a-zA-Z0-9_]")
CORE_ANNOTATIONS = frozenset(
    {"summary", "description", "mitigations", "safeguards", "runbook_url", "evidence"}
    | {"state", "value", "trigger", "basis", "sources"}
)


class Options(BaseModel):
    model_config = ConfigDict(extra="forbid")

    urls: list[AnyHttpUrl] = Field(min_length=1)  # each instance's base URL
    labels: dict[str, str] = Field(default_factory=dict)  # added to every alert (lowest priority)
    resolve_timeout: Duration = Field(3600.0, gt=0)
    generator_url: AnyHttpUrl | None = None
    username: str | None = Field(None, min_length=1)  # HTTP basic auth
    password: SecretStr | None = None
    ca_file: Path | None = None
    timeout_seconds: float = Field(10.0, gt=0)

    @model_validator(mode="after")
    def _consistent(self) -> Options:
        if (self.username is None) != (self.password is None):
            raise ValueError("username and password: give both, or neither")
        if self.ca_file is not None and not self.ca_file.is_file():
            raise ValueError(f"ca_file: {self.ca_file} is not a file")
        return self


def label_name(name: str) -> str:
    """`name` as a valid Prometheus label name."""
    clean = _INVALID.sub("_", name) or "_"
    return "_" + clean if clean[0].isdigit() else clean


def severity_in(state: str, severity: str) -> str:
    """The `severity` label of an alert in `state`: a critical threshold's early warning is a
    warning; anything else keeps the threshold's severity."""
    return "warning" if state == "warning" and severity == "critical" else severity


def labelled_state(to: str, previous: str) -> str:
    """The state whose labels an alert that entered `to` from `previous` carries: its own, but
    `nodata`, `error` and `resolved` keep (or close) the labels of the state before them."""
    return previous if to in ("nodata", "error", "resolved") else to


def alert_labels(
    a: Alert, static: Mapping[str, str] | None = None, state: str | None = None
) -> dict[str, str]:
    """The alert's identity in `state` (default: the labelled state of `a`'s transition): the
    sink's static labels, then the threshold's, then warden's own, each winning over the ones
    before."""
    out = {label_name(k): v for k, v in (static or {}).items() if v}
    out.update({label_name(k): v for k, v in a.labels if v})
    state = state or labelled_state(a.status, a.previous)
    core = {
        "alertname": a.threshold,
        "subject": a.subject,
        "severity": severity_in(state, a.severity),
        "level": a.level,
        "domain": a.domain,
    }
    out.update({k: v for k, v in core.items() if v})
    return out


def alert_annotations(a: Alert) -> dict[str, str]:
    description = [a.meaning, *(m.text for m in a.measurements)]
    if a.basis:
        description += [f"Threshold basis: {a.basis}", *a.basis_notes]
    if a.reason:
        description.append(f"Why: {a.reason}")
    if a.acknowledged:
        description.append(f"Acknowledged {a.acknowledged}")
    description += [f"{k}: {v}" for k, v in a.annotations]
    sources = [e.source for e in a.evidence if e.source]
    out = {
        label_name(k): v for k, v in a.annotations if v and label_name(k) not in CORE_ANNOTATIONS
    }
    out.update(
        {
            "summary": a.summary,
            "description": "\n".join(d for d in description if d),
            "mitigations": "\n".join(f"- {m}" for m in a.mitigations),
            "safeguards": ", ".join(a.safeguards),
            "runbook_url": a.runbook or "",
            "evidence": a.evidence_url or (sources[0] if sources else ""),
            "state": a.status,
            "value": "; ".join(m.text for m in a.measurements),
            "basis": a.basis,
            "sources": "\n".join(f"{t} <{u}>" if u else t for t, u in a.sources),
            "trigger": f"#{a.seq} {a.hash}",
        }
    )
    return {k: v for k, v in out.items() if v}


def _time(at: datetime) -> str:
    return at.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def alerts(
    n: Notification,
    now: datetime,
    resolve_timeout: float,
    generator: str | None = None,
    static: Mapping[str, str] | None = None,
) -> list[dict[str, Any]]:
    """What to post for `n`: its alert, and before it, when `n` moves between `warning` and
    `firing` of a threshold labelled differently in each, the other labelling resolved."""
    new = alert(n, now, resolve_timeout, generator, static)
    a = view(n)
    if {a.status, a.previous} == {"warning", "firing"}:
        old = alert_labels(a, static, a.previous)
        if old != new["labels"]:
            closed = {**new, "labels": old, "endsAt": new["startsAt"]}
            return [closed, new]
    return [new]


def alert(
    n: Notification,
    now: datetime,
    resolve_timeout: float,
    generator: str | None = None,
    static: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """The Alertmanager alert for `n` (pure: `now` is given)."""
    a = view(n)
    try:
        at = datetime.fromisoformat(a.at_iso)
    except ValueError:
        at = now
    if at.tzinfo is None:
        at = at.replace(tzinfo=now.tzinfo)
    ends = at if a.status == "resolved" else now + timedelta(seconds=resolve_timeout)
    body: dict[str, Any] = {
        "labels": alert_labels(a, static),
        "annotations": alert_annotations(a),
        "startsAt": _time(min(at, ends)),
        "endsAt": _time(ends),
    }
    link = generator or a.evidence_url
    if link:
        body["generatorURL"] = link
    return body


class AlertmanagerSink:
    type: ClassVar[str] = "alertmanager"

    def __init__(
        self, sink_id: str, raw_options: Mapping[str, Any], *, clock: Clock = system_clock
    ) -> None:
        self.id = sink_id
        self.options = options(Options, raw_options, f"sinks.{sink_id}")
        self.clock = clock
        self.endpoints = [_endpoint(str(u)) for u in self.options.urls]
        self._session = requests.Session()
        o = self.options
        if o.username is not None and o.password is not None:
            self._session.auth = (o.username, o.password.get_secret_value())
        if o.ca_file is not None:
            self._session.verify = str(o.ca_file)
        self._latest: dict[tuple[str, str], int] = {}
        self._lock = threading.Lock()

    @property
    def refresh_every(self) -> float:
        """Seconds between `refresh` calls that keep active alerts alive."""
        return self.options.resolve_timeout / 3

    def alerts(self, n: Notification) -> list[dict[str, Any]]:
        o = self.options
        generator = str(o.generator_url) if o.generator_url else None
        return alerts(n, self.clock(), o.resolve_timeout, generator, o.labels)

    def alert(self, n: Notification) -> dict[str, Any]:
        return self.alerts(n)[-1]

    def send(self, notification: Notification) -> None:
        """Post the notification's alerts (all of a group's, in one request per BATCH):
        Alertmanager groups them itself."""
        current = self._current(notification.split())
        if not current:
            return  # a newer trigger of each alert was posted already
        posted = [a for n in current for a in self.alerts(n)]
        for i in range(0, len(posted), BATCH):
            self._post_all(posted[i : i + BATCH])

    def refresh(self, notifications: Sequence[Notification]) -> None:
        """Re-post `notifications` (one per alert warden holds active: the trigger that put it in
        its current state) with a fresh `endsAt`. Raises DeliveryError if an instance failed
        (after trying every instance and batch)."""
        current = self._current(notifications)
        alerts = [self.alert(n) for n in current]
        errors: list[DeliveryError] = []
        for i in range(0, len(alerts), BATCH):
            try:
                self._post_all(alerts[i : i + BATCH])
            except DeliveryError as exc:
                errors.append(exc)
        if errors:
            permanent = all(e.permanent for e in errors)
            raise DeliveryError(self.id, "; ".join(e.why for e in errors), permanent=permanent)

    def _current(self, notifications: Sequence[Notification]) -> list[Notification]:
        """The notifications not older than one already posted for their alert (and note them)."""
        out = []
        with self._lock:
            for n in notifications:
                key = (str(n.trigger.get("threshold")), str(n.trigger.get("subject")))
                if n.trigger_seq < self._latest.get(key, 0):
                    continue
                self._latest[key] = n.trigger_seq
                out.append(n)
        return out

    def _post_all(self, alerts: list[dict[str, Any]]) -> None:
        failures: list[tuple[str, bool]] = []
        for endpoint in self.endpoints:
            failure = self._post(endpoint, alerts)
            if failure is not None:
                failures.append(failure)
        if failures:
            why = f"{len(failures)} of {len(self.endpoints)} instances failed: " + "; ".join(
                w for w, _ in failures
            )
            raise DeliveryError(self.id, why, permanent=all(p for _, p in failures))

    def _post(self, endpoint: str, alerts: list[dict[str, Any]]) -> tuple[str, bool] | None:
        """None when `endpoint` accepted the alerts, else (why, permanent)."""
        try:
            response = self._session.post(
                endpoint,
                json=alerts,
                headers={"User-Agent": f"warden/{__version__}"},
                timeout=self.options.timeout_seconds,
                allow_redirects=False,
            )
        except requests.RequestException as exc:
            return f"{endpoint}: {type(exc).__name__}: {exc}", False
        status = response.status_code
        if 200 <= status < 300:
            return None
        body = response.text.strip()[:300]
        why = f"{endpoint}: HTTP {status}" + (f": {body}" if body else "")
        return why, 300 <= status < 500 and status not in (408, 429)


def _endpoint(base: str) -> str:
    base = base.rstrip("/")
    return base if base.endswith(PATH) else base + PATH
