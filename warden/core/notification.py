"""What the alert cycle hands to every sink: a `Notification` of one trigger-log entry, whose
`trigger` is the entry's canonical content (`TriggerContent`, built by
`warden.triggerlog.entries.content_of`), and the documented JSON payload made from it.

The content is read back from the trigger log, which keeps entries written by earlier versions
of warden for ever: fields may be missing there, so readers (`summary`, the sinks' `render.view`)
take `TriggerContent` as typed but never raise on an old entry.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, TypedDict

from warden.core.basis import Basis, basis
from warden.core.display import display, level, value_scale

PAYLOAD_VERSION = 1


class Measured(TypedDict, total=False):
    """One observation of a trigger's evidence."""

    observation: int
    feed: str
    model: str
    benchmark: str
    metric: str
    value: float
    stderr: float | None
    n: int | None
    observed_at: str
    source: str
    content_hash: str


class TriggerContent(TypedDict, total=False):
    """A transition's trigger-log content: what fired, on what evidence, under which rule."""

    seq: int
    at: str
    threshold: str
    threshold_version: str
    title: str
    level: str
    domain: str
    severity: str
    mitigations: list[str]
    safeguards: list[str]
    runbook: str | None
    labels: dict[str, str]
    annotations: dict[str, str]
    condition: dict[str, Any]
    provenance: dict[str, Any]
    sources: list[dict[str, str]]  # the threshold's citations: title, url
    scales: dict[str, str]  # "bench/metric" -> the registry's canonical scale
    warn_at: float | None
    scope: str
    subject: str
    to: str
    verdict: str
    value: float | None
    confirmations: int
    reason: str
    projection: dict[str, Any]
    evidence: list[Measured]
    delivery: dict[str, Any]
    acknowledged: dict[str, str]


@dataclass(frozen=True)
class Member:
    """One transition of a grouped notification."""

    seq: int
    hash: str
    trigger: TriggerContent
    idempotency_key: str  # the transition's own key for this sink


@dataclass(frozen=True)
class Notification:
    """What every sink renders: the trigger-log entry plus delivery metadata. A grouped
    notification (`members`: the alerts one route sent a sink together, as Alertmanager groups
    them; or `history`: what warden found already true when it started watching) lists every
    member; `trigger` is then its first member's, for receivers that read one alert."""

    idempotency_key: str
    sink: str
    trigger_seq: int
    trigger_hash: str
    trigger: TriggerContent
    members: tuple[Member, ...] = ()
    history: bool = False

    @property
    def grouped(self) -> bool:
        """Whether this notification lists several alerts (or summarises history)."""
        return bool(self.members)

    def split(self) -> list[Notification]:
        """One single-alert notification per alert (each with its own key): for sinks whose
        receivers take one alert at a time (PagerDuty's events, Alertmanager's alerts)."""
        if not self.grouped:
            return [self]
        return [
            Notification(m.idempotency_key, self.sink, m.seq, m.hash, m.trigger)
            for m in self.members
        ]

    def alerts(self) -> tuple[Member, ...]:
        """Every alert of the notification: its members, or its one trigger."""
        return self.members or (
            Member(self.trigger_seq, self.trigger_hash, self.trigger, self.idempotency_key),
        )

    def payload(self) -> dict[str, Any]:
        """The documented JSON payload (docs: reference/sinks, "Webhook payload"). A grouped
        notification adds `alerts` (each member as `trigger` is, with its own `summary` and
        `idempotency_key`) and `group` (`size`, `history`); `status` is then the most urgent
        of its members' states and `summary` counts them."""
        t = self.trigger
        out: dict[str, Any] = {
            "version": PAYLOAD_VERSION,
            "idempotency_key": self.idempotency_key,
            "status": t.get("to"),
            "summary": summary(t),
            "basis": basis_of(t).as_dict(),
            "trigger": {"seq": self.trigger_seq, "hash": self.trigger_hash, **t},
        }
        if self.grouped:
            out["status"] = group_status(self)
            out["summary"] = group_summary(self)
            out["group"] = {"size": len(self.members), "history": self.history}
            out["alerts"] = [
                {
                    "seq": m.seq,
                    "hash": m.hash,
                    "idempotency_key": m.idempotency_key,
                    "summary": summary(m.trigger),
                    "basis": basis_of(m.trigger).as_dict(),
                    **m.trigger,
                }
                for m in self.members
            ]
        return out

    def body(self) -> bytes:
        return json.dumps(self.payload(), sort_keys=True, separators=(",", ":")).encode()


URGENCY = ("firing", "error", "nodata", "warning", "pending", "resolved")


def group_status(n: Notification) -> str:
    """The most urgent state among a notification's alerts."""
    states = {text(m.trigger.get("to")) for m in n.alerts()}
    return next((s for s in URGENCY if s in states), sorted(states)[0] if states else "unknown")


def group_summary(n: Notification) -> str:
    """One line counting a grouped notification's alerts by state, and their models: "history:
    warden now watches these alerts: 43 firing, 2 warning, for 31 models"."""
    counts: dict[str, int] = {}
    subjects = set()
    for m in n.alerts():
        state = text(m.trigger.get("to"), "unknown")
        counts[state] = counts.get(state, 0) + 1
        subjects.add(text(m.trigger.get("subject")))
    order = sorted(counts, key=lambda s: URGENCY.index(s) if s in URGENCY else len(URGENCY))
    listed = ", ".join(f"{counts[s]} {s}" for s in order)
    models = f"{len(subjects)} model{'s' if len(subjects) != 1 else ''}"
    if n.history:
        return f"History, not news: warden now watches {listed}, for {models}"
    return f"{len(n.alerts())} alerts: {listed}, for {models}"


def summary(t: Mapping[str, Any]) -> str:
    """One line: state, threshold, subject, title, what decided it (the measurement of a single
    condition, in its unit, else the reason) and what the threshold's level rests on (a
    framework's number or a proxy). Never raises, whatever the stored content holds."""
    cond = t.get("condition")
    cond = cond if isinstance(cond, Mapping) else {}
    scale = value_scale(cond, t.get("scales"))
    shown = display(number(t.get("value")), scale)
    head = (
        f"[{text(t.get('to'), 'unknown').upper()}] {text(t.get('threshold'), 'unknown')} "
        f"({text(t.get('subject'), 'unknown')}): {text(t.get('title'))}: "
    )
    tail = "" if "feed" in cond else f" [{basis_of(t).label}]"
    if "benchmark" in cond:
        return one_line(
            f"{head}{cond.get('benchmark')} {cond.get('metric')} = {shown} "
            f"(trigger {level(text(cond.get('op'), '?'), number(cond.get('value')), scale)})" + tail
        )
    return one_line(head + (text(t.get("reason")) or f"value {shown}") + tail)


def basis_of(t: Mapping[str, Any]) -> Basis:
    """What the trigger's threshold level rests on (warden.core.basis), from its content."""
    return basis(t.get("provenance"), t.get("condition"), t.get("sources"))


def number(value: Any) -> float | None:
    """A finite int or float (not a bool), else None."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


def text(value: Any, default: str = "") -> str:
    if value is None:
        return default
    return value if isinstance(value, str) else str(value)


def one_line(value: str) -> str:
    """`value` with every run of whitespace (newlines included) as one space."""
    return " ".join(value.split())
