"""The one data model every human-facing sink renders from: `view(notification) -> Alert`.

A trigger's content (`warden.triggerlog.entries.content_of`) differs by the kind of threshold: one
condition, a combination (`value` is null; `reason` lists the conditions), `since_assessment`
(the value is days or a compute ratio; no benchmark), a feed's silence (the subject is a feed,
the value seconds). `view` turns any of them into the same plain facts, already worded:

- `status` (the state entered) with `status_text` and `meaning` (what it asks of the reader:
  `nodata` and `error` say the alert is *not* resolved), `change` ("inactive -> firing");
- `headline` ("FIRING: <title> - <subject>") and `summary` (the payload's one-line summary);
- `measurements`: one per condition, each the value with its uncertainty (`± stderr`, `n`)
  against the trigger level and the warning level, in the metric's unit and rounded to its
  significance (warden.core.display: `83.64%`, `480 min`, `2.5e24 FLOP`), each level marked
  `[framework number]` or `[proxy]` when the catalog tags it;
- `basis` (what the threshold's level rests on: "framework number", "proxy chosen by warden's
  catalog", ...), `basis_notes` (each tagged number with its note) and `sources` (the
  threshold's citations, title and URL), from warden.core.basis;
- `reason`, `mitigations`, `safeguards`, `runbook`, `annotations`, `labels`;
- `acknowledged` ("by NAME at TIME: NOTE") when a person acknowledged the alert;
- `evidence` (each observation, its model with the variant that decided when the evidence
  names one, "gpt-5.2-2025-12-11 (xhigh)", and a link when its source is an http(s) URL) and
  `evidence_url` (the first such link);
- provenance of the notification: `threshold`, `version`, `seq`, `hash`, `key`, `at`.

Templates are code in each sink, reading only these strings. `view` never raises on a trigger
content, even one with fields missing or of the wrong type (they render as "unknown" or are left
out), so a render error cannot surface at delivery time. Escaping (Slack mrkdwn, HTML) is the
sink's job: every string here is plain, unescaped text.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from warden.core.basis import SHORT, Basis
from warden.core.declarations import DECLARATION
from warden.core.display import display, level, series_scale, timestamp, value_scale
from warden.core.notification import (
    Notification,
    basis_of,
    group_summary,
    number,
    one_line,
    summary,
    text,
)

STATUS_TEXT = {
    "firing": "FIRING",
    "warning": "EARLY WARNING",
    "resolved": "RESOLVED",
    "nodata": "NO DATA",
    "error": "EVALUATION ERROR",
}
MEANING = {
    "firing": "The threshold is crossed: the mitigations below are required.",
    "warning": "The early-warning level is crossed: the trigger level is near.",
    "resolved": "The threshold is no longer crossed.",
    "nodata": "The evidence is missing or stale: the alert is NOT resolved, its state is unknown.",
    "error": "Warden could not evaluate this threshold: the alert is NOT resolved.",
}
SEVERITIES = ("info", "warning", "critical")


@dataclass(frozen=True)
class Measurement:
    """One condition: what is measured, its value (with uncertainty) and the levels."""

    what: str  # "bench acc", "days since the last assessment", ...
    value: str  # "80% ± 5% (n=200)", "no data"
    trigger: str  # ">= 50%"
    warning: str  # ">= 40%", or "" without an early warning
    trigger_basis: str = ""  # "framework number" or "proxy" when the catalog tags the level
    warning_basis: str = ""

    @property
    def text(self) -> str:
        levels = f"trigger {self.trigger}" + _tag(self.trigger_basis)
        if self.warning:
            levels += f", warning {self.warning}" + _tag(self.warning_basis)
        return f"{self.what} = {self.value} ({levels})"


def _tag(kind: str) -> str:
    return f" [{kind}]" if kind else ""


@dataclass(frozen=True)
class Evidence:
    model: str
    series: str  # "benchmark/metric"
    value: str  # "80% ± 5% (n=200)"
    observed_at: str
    feed: str
    source: str
    url: str | None  # the source, when it is an http(s) URL
    unverified: bool = False  # a declaration not checked against its primary source

    @property
    def text(self) -> str:
        shown = f"{self.model} {self.series} = {self.value}, observed {self.observed_at}"
        return shown + ("; not verified against its primary source" if self.unverified else "")


@dataclass(frozen=True)
class Alert:
    status: str
    previous: str
    status_text: str
    meaning: str
    change: str
    threshold: str
    version: str
    title: str
    subject: str
    subject_text: str  # "acme/m1", "feed lab", "frontier (best model: acme/m1)"
    level: str
    domain: str
    severity: str  # info, warning or critical
    headline: str
    summary: str
    measurements: tuple[Measurement, ...]
    reason: str
    mitigations: tuple[str, ...]
    safeguards: tuple[str, ...]
    runbook: str | None
    annotations: tuple[tuple[str, str], ...]
    labels: tuple[tuple[str, str], ...]
    acknowledged: str  # "by alice at 2026-01-01 10:00:00 UTC: looking", or ""
    basis: str  # "framework number", "proxy chosen by warden's catalog", ...
    basis_notes: tuple[str, ...]  # "when.value: proxy (chosen by us: ...)", one per number
    sources: tuple[tuple[str, str], ...]  # the threshold's citations: (title, url)
    evidence: tuple[Evidence, ...]
    evidence_url: str | None
    at: str  # "2026-01-01 00:00:00 UTC"
    at_iso: str
    seq: int
    hash: str
    key: str


def view(n: Notification) -> Alert:
    """The facts of `n`, worded for people."""
    t = n.trigger if isinstance(n.trigger, Mapping) else {}
    status, previous = text(t.get("to"), "unknown"), text(t.get("from"), "unknown")
    threshold, subject = text(t.get("threshold"), "unknown"), text(t.get("subject"), "unknown")
    title = text(t.get("title"), threshold)
    scales = t.get("scales")
    evidence = tuple(
        _evidence(e, scales) for e in _list(t.get("evidence")) if isinstance(e, Mapping)
    )
    b = basis_of(t)
    subject_text = _subject_text(t, subject, evidence)
    status_text = STATUS_TEXT.get(status, status.upper())
    severity = text(t.get("severity"), "warning")
    return Alert(
        status=status,
        previous=previous,
        status_text=status_text,
        meaning=MEANING.get(status, ""),
        change=f"{previous} -> {status}",
        threshold=threshold,
        version=text(t.get("threshold_version")),
        title=title,
        subject=subject,
        subject_text=subject_text,
        level=text(t.get("level"), "unknown"),
        domain=text(t.get("domain"), "unknown"),
        severity=severity if severity in SEVERITIES else "warning",
        headline=one_line(f"{status_text}: {title} - {subject_text}"),
        summary=summary(t),
        measurements=measurements(t),
        reason=text(t.get("reason")),
        mitigations=tuple(text(m) for m in _list(t.get("mitigations")) if text(m)),
        safeguards=tuple(text(s) for s in _list(t.get("safeguards")) if text(s)),
        runbook=http_url(t.get("runbook")),
        annotations=_pairs(t.get("annotations")),
        labels=_pairs(t.get("labels")),
        acknowledged=_acknowledged(t.get("acknowledged")),
        basis="" if _is_feed(t) else b.label,
        basis_notes=b.notes,
        sources=b.sources,
        evidence=evidence,
        evidence_url=next((e.url for e in evidence if e.url), None),
        at=when(t.get("at")),
        at_iso=text(t.get("at")),
        seq=n.trigger_seq,
        hash=n.trigger_hash,
        key=n.idempotency_key,
    )


def measurements(t: Mapping[str, Any]) -> tuple[Measurement, ...]:
    """One measurement per condition of the trigger's threshold, in its unit."""
    cond = t.get("condition")
    cond = cond if isinstance(cond, Mapping) else {}
    evidence = [e for e in _list(t.get("evidence")) if isinstance(e, Mapping)]
    value = number(t.get("value"))
    op, limit = text(cond.get("op"), "?"), number(cond.get("value"))
    warn_at = number(t.get("warn_at"))
    b = basis_of(t)
    scales = t.get("scales")
    if cond.get("kind") in ("conflict", "sign", "divergence") or cond.get("benchmark") == (
        DECLARATION
    ):
        # Two results compared, a declaration against the evidence, or a lab's status stored as
        # its ordinal: the reason says it ("declared could_not_rule_out ..."), a bare number
        # ("? ? = no data") would not.
        return ()
    if "mode" in cond:
        parts = [p for p in _list(cond.get("of")) if isinstance(p, Mapping)]
        subject = text(t.get("subject"))
        return tuple(_part(i, p, evidence, subject, b, scales) for i, p in enumerate(parts))
    scale = value_scale(cond, scales)
    tags = (_short(b.of(None)), _short(b.of(None, warning=True)))
    if "since" in cond:
        days = cond.get("since") == "days"
        what = (
            "days since the last assessment"
            if days
            else "training compute / compute at the last assessment"
        )
        return (
            Measurement(
                what,
                display(value, scale),
                level(op, limit, scale),
                level(op, warn_at, scale) if warn_at is not None else "",
                *tags,
            ),
        )
    if "feed" in cond:
        return (
            Measurement(
                f"time since feed {text(cond.get('feed'))} last succeeded",
                "no data" if value is None else duration(value),
                f"{op} {duration(limit)}" if limit is not None else f"{op} ?",
                "",
            ),
        )
    newest = evidence[0] if evidence else {}
    stderr = number(newest.get("stderr")) if number(newest.get("value")) == value else None
    n = newest.get("n") if number(newest.get("value")) == value else None
    trigger = level(op, limit, scale)
    if number(cond.get("ratio")) is not None:
        trigger += f" ({number(cond.get('ratio')):g} x baseline {text(cond.get('baseline'))})"
    return (
        Measurement(
            f"{text(cond.get('benchmark'), '?')} {text(cond.get('metric'), '?')}",
            _value(value, stderr, n, scale),
            trigger,
            level(op, warn_at, scale) if warn_at is not None else "",
            *tags,
        ),
    )


def _short(kind: str | None) -> str:
    return SHORT.get(kind or "", "")


def _part(
    i: int,
    part: Mapping[str, Any],
    evidence: list[Mapping[str, Any]],
    subject: str,
    b: Basis,
    scales: Any,
) -> Measurement:
    bench, metric = text(part.get("benchmark"), "?"), text(part.get("metric"), "?")
    scale = series_scale(scales, bench, metric)
    match = next(
        (e for e in evidence if e.get("benchmark") == bench and e.get("metric") == metric), None
    )
    shown = "no evidence"
    if match is not None:
        shown = _value(
            number(match.get("value")), number(match.get("stderr")), match.get("n"), scale
        )
        if match.get("model") is not None and text(match.get("model")) != subject:
            shown += f" [{_model(match)}]"  # the frontier's best model
    op, warn_at = text(part.get("op"), "?"), number(part.get("warn_at"))
    return Measurement(
        f"{bench} {metric}",
        shown,
        level(op, number(part.get("value")), scale),
        level(op, warn_at, scale) if warn_at is not None else "",
        _short(b.of(i)),
        _short(b.of(i, warning=True)),
    )


def _evidence(e: Mapping[str, Any], scales: Any = None) -> Evidence:
    source = text(e.get("source"))
    scale = series_scale(scales, e.get("benchmark"), e.get("metric"))
    return Evidence(
        model=_model(e),
        series=f"{text(e.get('benchmark'), '?')}/{text(e.get('metric'), '?')}",
        value=_value(number(e.get("value")), number(e.get("stderr")), e.get("n"), scale),
        observed_at=when(e.get("observed_at")),
        feed=text(e.get("feed")),
        source=source,
        url=http_url(source),
        unverified=e.get("verified") is False,
    )


def _model(e: Mapping[str, Any]) -> str:
    """The evidence's model, with the variant (reasoning effort, scaffold) that decided when the
    evidence names one: "gpt-5.2-2025-12-11 (xhigh)"."""
    attributes = e.get("attributes")
    variant = e.get("variant")
    if variant in (None, "") and isinstance(attributes, Mapping):
        variant = attributes.get("variant")
    model = text(e.get("model"), "?")
    shown = text(variant).strip() if isinstance(variant, str | int | float) else ""
    return f"{model} ({shown})" if shown else model


def _is_feed(t: Mapping[str, Any]) -> bool:
    cond = t.get("condition")
    return isinstance(cond, Mapping) and "feed" in cond


def _acknowledged(ack: Any) -> str:
    if not isinstance(ack, Mapping):
        return ""
    note = text(ack.get("note"))
    return one_line(
        f"by {text(ack.get('by'), 'someone')} at {when(ack.get('at'))}"
        + (f": {note}" if note else "")
    )


def _subject_text(t: Mapping[str, Any], subject: str, evidence: tuple[Evidence, ...]) -> str:
    cond = t.get("condition")
    if isinstance(cond, Mapping) and "feed" in cond:
        return f"feed {subject}"
    scope = text(t.get("scope"), "per_model")
    if scope != "per_model" and evidence:
        return f"{subject} (best model: {evidence[0].model})"
    return subject


def _value(value: float | None, stderr: float | None, n: Any, scale: str | None = None) -> str:
    if value is None:
        return "no data"
    out = display(value, scale) + (f" ± {display(stderr, scale)}" if stderr is not None else "")
    if isinstance(n, int) and not isinstance(n, bool):
        out += f" (n={n})"
    return out


def duration(seconds: float | None) -> str:
    """'3660 s' as '1 h 1 min'."""
    if seconds is None:
        return "?"
    s = round(seconds)
    if s < 120:
        return f"{s} s"
    days, rest = divmod(s, 86400)
    hours, rest = divmod(rest, 3600)
    minutes = rest // 60
    parts = [f"{days} d" if days else "", f"{hours} h" if hours else "", f"{minutes} min"]
    return " ".join(p for p in parts if p and not (p == "0 min" and (days or hours)))


def when(value: Any) -> str:
    """An ISO time as '2026-01-01 00:00:00 UTC' (unparseable text is shown as it is)."""
    raw = text(value, "unknown")
    try:
        at = datetime.fromisoformat(raw)
    except ValueError:
        return raw
    return timestamp(at)


def http_url(value: Any) -> str | None:
    """`value` if it is an absolute http(s) URL, else None."""
    if not isinstance(value, str) or any(c.isspace() for c in value):
        return None
    try:
        parts = urlsplit(value)
    except ValueError:
        return None
    return value if parts.scheme in ("http", "https") and parts.netloc else None


def truncate(value: str, limit: int) -> str:
    """At most `limit` characters, ending with an ellipsis when cut."""
    return value if len(value) <= limit else value[: max(0, limit - 1)] + "…"


def _list(value: Any) -> list[Any]:
    return list(value) if isinstance(value, list | tuple) else []


def _pairs(value: Any) -> tuple[tuple[str, str], ...]:
    if not isinstance(value, Mapping):
        return ()
    return tuple(sorted((text(k), text(v)) for k, v in value.items()))


DIGEST_SHOWN = 20  # the alerts a grouped notification lists one by one; the rest are counted


def digest_line(a: Alert) -> str:
    """One alert of a grouped notification, on one line: state, title, subject, and what
    decided it (its first measurement, else the reason)."""
    what = a.measurements[0].text if a.measurements else a.reason
    return one_line(
        f"{a.status_text}: {a.title} - {a.subject_text}" + (f": {what}" if what else "")
    )


def digest(n: Notification) -> tuple[str, list[Alert], int]:
    """A grouped notification's headline (its summary), the alerts listed one by one (the
    most urgent first), and how many more it holds."""
    order = {s: i for i, s in enumerate(("firing", "error", "nodata", "warning", "resolved"))}
    alerts = sorted((view(s) for s in n.split()), key=lambda a: order.get(a.status, len(order)))
    shown = alerts[:DIGEST_SHOWN]
    return one_line(group_summary(n)), shown, len(alerts) - len(shown)
