"""What the web view's pages say, worded as the sinks word it: a trigger's content goes through
`warden.delivery.sinks.render.view` (values in their unit with their uncertainty, levels marked
framework number or proxy, the basis and its citations), numbers through `warden.core.display`.
Pure: no store, no request; every function tolerates content of any warden version.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, cast

from warden.catalog.thresholds import Threshold
from warden.core.basis import basis
from warden.core.chain import TRANSITION, Entry
from warden.core.display import display, timestamp
from warden.core.notification import Notification, TriggerContent
from warden.delivery.sinks.render import Alert, Measurement, measurements, view

# The rule's settings a trigger's replay depends on, as the stored definition names them.
RULE_FIELDS = (
    ("for", "confirmations needed (for)"),
    ("for_seconds", "seconds it must hold (for_seconds)"),
    ("keep_firing_for", "keeps firing for (s)"),
    ("confidence", "confidence bound"),
    ("missing_uncertainty", "missing uncertainty"),
    ("min_samples", "minimum samples (n)"),
    ("clear_at", "clears at"),
    ("stale_after", "stale after (s)"),
    ("exclude_vendor_reported", "excludes vendor-reported"),
    ("scope", "scope"),
    ("organisation", "organisation"),
)


def when(at: datetime | None) -> str:
    return "—" if at is None else timestamp(at)


def alert_of(seq: int, digest: str, content: Mapping[str, Any]) -> Alert:
    """The sinks' worded view of a transition entry."""
    return view(Notification("", "", seq, digest, cast("TriggerContent", dict(content))))


def decision(a: Alert) -> str:
    """The decision in one sentence: "On TIME, TITLE became FIRING for SUBJECT (was warning):
    ctf acc = 80% ± 2% (n=300) (trigger >= 50% [proxy])." """
    said = "; ".join(m.text for m in a.measurements) or a.reason or "no measurement recorded"
    return (
        f"On {a.at}, {a.title} became {a.status_text} for {a.subject_text} "
        f"(was {a.previous}): {said}."
    )


def action_sentence(content: Mapping[str, Any], entry: Entry) -> str:
    """One sentence for an entry that is not a transition (ack, silence, catalog, ...)."""
    actor, action = content.get("actor"), content.get("action")
    if entry.kind == "catalog":
        parts = [
            f"{len(v)} {k}" for k in ("added", "changed", "removed")
            if isinstance(v := content.get(k), list) and v
        ]  # fmt: skip
        return "The catalog changed: " + (", ".join(parts) or "no threshold changed") + "."
    if entry.kind == "delivery" and isinstance(action, str):
        attempts = content.get("attempts")
        error = content.get("error")
        return (
            f"The notification of entry #{content.get('trigger')} to sink {content.get('sink')}: "
            f"{action.removeprefix('delivery ')}"
            + (f" after {attempts} attempt{'s' if attempts != 1 else ''}" if attempts else "")
            + (f" ({error})" if isinstance(error, str) and error else "")
            + "."
        )
    if isinstance(actor, str) and isinstance(action, str):
        about = " ".join(p for p in (entry.threshold, entry.subject) if p)
        note = content.get("note") or content.get("comment")
        return (
            f"{actor} {action}"
            + (f" {about}" if about else "")
            + (f": {note}" if isinstance(note, str) and note else "")
            + "."
        )
    return f"A {entry.kind} entry."


@dataclass(frozen=True)
class Row:
    """One line of the trigger log page."""

    seq: int
    at: str
    kind: str
    threshold: str
    subject: str
    change: str
    state: str
    severity: str
    what: str


def row(e: Entry) -> Row:
    try:
        content = json.loads(e.content)
    except json.JSONDecodeError:
        content = {}
    content = content if isinstance(content, dict) else {}
    if e.kind == TRANSITION:
        shown = measurements(content)
        what = "; ".join(f"{m.what} = {m.value}" for m in shown) or str(content.get("reason", ""))
        change = f"{e.from_state} → {e.to_state}"
    else:
        what, change = action_sentence(content, e), ""
    severity = content.get("severity")
    return Row(
        seq=e.seq,
        at=timestamp(e.at),
        kind=e.kind,
        threshold=e.threshold,
        subject=e.subject,
        change=change,
        state=e.to_state,
        severity=severity if isinstance(severity, str) else "",
        what=what,
    )


def rule_facts(definition: Mapping[str, Any] | None) -> list[tuple[str, str]]:
    """The stored definition's settings besides the condition, for people."""
    if not definition:
        return []
    out = []
    for key, label in RULE_FIELDS:
        if key in definition and definition[key] is not None:
            value = definition[key]
            out.append((label, "yes" if value is True else str(value)))
    return out


@dataclass(frozen=True)
class CatalogItem:
    threshold: Threshold
    measurements: tuple[Measurement, ...]
    basis_label: str
    basis_notes: tuple[str, ...]
    combined: str  # "all of", "any of", "at least 2 of"; "" for one condition
    rule: tuple[str, ...]  # "for 2 evaluations", "confidence 0.9", ...


def catalog_item(t: Threshold) -> CatalogItem:
    """A catalog threshold, its condition worded as a trigger of it would be."""
    content = {
        "condition": t.when.model_dump(mode="json"),
        "warn_at": t.warn_at,
        "scales": t.scales,
        "provenance": {k: v.model_dump(mode="json") for k, v in t.provenance.items()},
        "sources": [{"title": s.title, "url": str(s.url)} for s in t.sources],
    }
    b = basis(content["provenance"], content["condition"], content["sources"])
    condition = content["condition"]
    combined = ""
    if isinstance(condition, Mapping) and "mode" in condition:
        mode, k = condition.get("mode"), condition.get("k")
        combined = "at least {k} of" if mode not in ("all", "any") else f"{mode} of"
        combined = combined.format(k=k)
    rule = [
        f"for {t.for_} evaluations" if t.for_ > 1 else "",
        f"confidence {t.confidence:g}" if t.confidence else "",
        f"n ≥ {t.min_samples}" if t.min_samples else "",
        f"clears at {t.clear_at:g}" if t.clear_at is not None else "",
        f"stale after {t.stale_after:g} s" if t.stale_after else "",
        "vendor-reported results excluded" if t.exclude_vendor_reported else "",
    ]
    return CatalogItem(
        t, measurements(content), b.label, b.notes, combined, tuple(r for r in rule if r)
    )


def parse_time(text: str, field: str) -> datetime:
    """A time typed into a filter: RFC 3339, or a `datetime-local`/date value taken as UTC."""
    from warden.core.errors import UsageError

    try:
        at = datetime.fromisoformat(text.strip())
    except ValueError as exc:
        raise UsageError(
            f"{field}: {text!r} is not a time (give 2026-03-02, 2026-03-02T09:00 or RFC 3339)"
        ) from exc
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at


def value(v: Any, scale: str | None = None) -> str:
    return display(v if isinstance(v, int | float) else None, scale)


def projection_text(p: Any) -> str:
    """A projection (warden.forecasting.fit.Projection) in one line."""

    def day(at: datetime | None) -> str:
        return "beyond the horizon" if at is None else at.strftime("%Y-%m-%d")

    if p.status == "crossed":
        return f"crossed on {day(p.crossed_at)}"
    if p.status == "stale":
        age = "" if p.age_days is None else f": the newest data are {p.age_days:.0f} days old"
        return "stale" + age
    if p.probability is None:
        return "no forecast" + (f": {p.reason}" if p.reason else "")
    q = p.quantiles
    return (
        f"{p.probability:.0%} likely within {p.within_days:g} days; median date "
        f"{day(q.get(0.5))} (10-90%: {day(q.get(0.1))} to {day(q.get(0.9))})"
    )
