"""The trigger log's entries as data: one `Entry` per recorded event, its canonical JSON content,
and the hash that chains it to the entry before it: SHA-256(prev_hash + "\\n" + content).
The store writes and reads entries; `warden.triggerlog` builds and verifies them."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

GENESIS = "0" * 64
TRANSITION = "transition"  # an alert state changed
CATALOG = "catalog"  # the catalog changed: thresholds added, changed or removed
ASSESSMENT = "assessment"  # a model's capability assessment was recorded
ACK = "ack"  # a person acknowledged an alert
SILENCE = "silence"  # a silence was added, expired early, or ended
DELIVERY = "delivery"  # the final outcome of a notification to a sink (delivered or failed)


@dataclass(frozen=True)
class Entry:
    seq: int
    at: datetime
    threshold: str
    threshold_version: str
    subject: str
    from_state: str
    to_state: str
    content: str
    prev_hash: str
    hash: str
    kind: str = TRANSITION
    # The leadership epoch it was written under (None: SQLite, or written before it was kept).
    # Beside the content, not in it: warden.triggerlog.entries says why.
    epoch: int | None = None

    @property
    def body(self) -> dict[str, Any]:
        data: dict[str, Any] = json.loads(self.content)
        return data


def canonical(data: dict[str, Any]) -> str:
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def chain_hash(prev_hash: str, content: str) -> str:
    return hashlib.sha256(f"{prev_hash}\n{content}".encode()).hexdigest()
