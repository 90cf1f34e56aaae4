"""Sinks: destinations for alerts, found through the `warden.sinks` entry points.

A sink gets a `Notification` and either returns (delivered) or raises `DeliveryError`
(`permanent=True` stops the retries).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, Protocol

PAYLOAD_VERSION = 1


@dataclass(frozen=True)
class Notification:
    """What every sink renders: the trigger-log entry plus delivery metadata."""

    idempotency_key: str
    sink: str
    trigger_seq: int
    trigger_hash: str
    trigger: dict[str, Any]  # the trigger's canonical content

    def payload(self) -> dict[str, Any]:
        """The documented JSON payload (README, "Webhook payload")."""
        t = self.trigger
        return {
            "version": PAYLOAD_VERSION,
            "idempotency_key": self.idempotency_key,
            "status": t["to"],
            "summary": summary(t),
            "trigger": {"seq": self.trigger_seq, "hash": self.trigger_hash, **t},
        }

    def body(self) -> bytes:
        return json.dumps(self.payload(), sort_keys=True, separators=(",", ":")).encode()


def summary(t: Mapping[str, Any]) -> str:
    """One line: state, threshold, subject, title, and what decided it."""
    value = t.get("value")
    shown = "no data" if value is None else f"{value:g}"
    cond = t.get("condition", {})
    head = f"[{str(t['to']).upper()}] {t['threshold']} ({t['subject']}): {t['title']}: "
    if "benchmark" in cond:
        return head + (
            f"{cond.get('benchmark')} {cond.get('metric')} = {shown} "
            f"(trigger {cond.get('op')} {cond.get('value')})"
        )
    # A combination, a re-assessment or a feed's silence: its explanation says it best.
    return head + (t.get("reason") or f"value {shown}")


class Sink(Protocol):
    type: ClassVar[str]
    id: str

    def send(self, notification: Notification) -> None: ...
