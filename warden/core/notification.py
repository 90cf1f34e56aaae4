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
class Notification:
    """What every sink renders: the trigger-log entry plus delivery metadata."""

    idempotency_key: str
    sink: str
    trigger_seq: int
    trigger_hash: str
    trigger: TriggerContent

    def payload(self) -> dict[str, Any]:
        """The documented JSON payload (docs: reference/sinks, "Webhook payload")."""
        t = self.trigger
        return {
            "version": PAYLOAD_VERSION,
            "idempotency_key": self.idempotency_key,
            "status": t.get("to"),
            "summary": summary(t),
            "trigger": {"seq": self.trigger_seq, "hash": self.trigger_hash, **t},
        }

    def body(self) -> bytes:
        return json.dumps(self.payload(), sort_keys=True, separators=(",", ":")).encode()


def summary(t: Mapping[str, Any]) -> str:
    """One line: state, threshold, subject, title, and what decided it (the measurement of a
    single condition, else the reason). Never raises, whatever the stored content holds."""
    cond = t.get("condition")
    cond = cond if isinstance(cond, Mapping) else {}
    value = number(t.get("value"))
    shown = "no data" if value is None else f"{value:g}"
    head = (
        f"[{text(t.get('to'), 'unknown').upper()}] {text(t.get('threshold'), 'unknown')} "
        f"({text(t.get('subject'), 'unknown')}): {text(t.get('title'))}: "
    )
    if "benchmark" in cond:
        return one_line(
            f"{head}{cond.get('benchmark')} {cond.get('metric')} = {shown} "
            f"(trigger {cond.get('op')} {cond.get('value')})"
        )
    return one_line(head + (text(t.get("reason")) or f"value {shown}"))


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
