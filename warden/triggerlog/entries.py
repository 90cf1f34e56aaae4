"""The trigger log: a hash chain of alert-state transitions.

Each entry's `content` is canonical JSON (sorted keys, no spaces); its hash is
SHA-256(prev_hash + "\\n" + content). Recomputing the chain from the first entry shows any edit,
insertion or deletion. Pure: the store reads and writes rows, this module computes and checks.

The leadership epoch an entry was written under (`Entry.epoch`, several replicas on PostgreSQL)
is kept beside the content, not hashed with it. The content is what was decided and on what
evidence: replay re-derives it from the store, exports and offline verifiers check it, and it
must come out the same whichever replica decided. The epoch says how the write was coordinated,
not what was decided, and every writer that builds content (the cycle, dispatch's delivery
entries, a person's acknowledgement) would have to read it first. Entries written before it was
kept have none, and SQLite's never have one. What follows: an edit of the epoch column alone is
not caught by `verify`; an edit of the order or the content of the log is.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from warden.catalog.thresholds import Threshold
from warden.core.chain import (
    ASSESSMENT,
    CATALOG,
    GENESIS,
    TRANSITION,
    Entry,
    canonical,
    chain_hash,
)
from warden.core.model import Assessment, StoredObservation, Transition
from warden.evaluation.evaluate import explain


def content_of(
    seq: int,
    at: datetime,
    transition: Transition,
    threshold: Threshold,
    details: Mapping[int, StoredObservation],
    extra: Mapping[str, Any] | None = None,
) -> str:
    """The canonical content of one trigger: what fired, on what evidence, under which rule,
    and (`extra`) where it was delivered and whether it was acknowledged."""
    ev = transition.evaluation
    return canonical(
        {
            **(extra or {}),
            "seq": seq,
            "at": at.isoformat(),
            "threshold": threshold.id,
            "threshold_version": threshold.version,
            "title": threshold.title,
            "level": threshold.level.value,
            "domain": threshold.domain,
            "severity": threshold.then.severity,
            "mitigations": list(threshold.then.mitigations),
            "safeguards": list(threshold.then.safeguards),
            "runbook": threshold.then.runbook and str(threshold.then.runbook),
            "labels": dict(threshold.then.labels),
            "annotations": dict(threshold.then.annotations),
            "condition": threshold.when.model_dump(mode="json"),
            "provenance": {k: v.model_dump(mode="json") for k, v in threshold.provenance.items()},
            "sources": [{"title": s.title, "url": str(s.url)} for s in threshold.sources],
            **({"scales": threshold.scales} if threshold.scales else {}),
            "warn_at": threshold.warn_at,
            "scope": threshold.scope.value,
            "subject": transition.subject,
            "from": transition.from_state.value,
            "to": transition.to_state.value,
            "verdict": ev.verdict.value,
            "value": ev.value,
            "confirmations": ev.confirmations,
            "reason": explain(threshold, ev),
            **({"projection": ev.projection} if ev.projection is not None else {}),
            "evidence": [
                {
                    "observation": o.id,
                    "feed": o.feed,
                    "model": o.subject,
                    "benchmark": o.benchmark,
                    "metric": o.metric,
                    "value": o.value,
                    "stderr": o.stderr,
                    "n": o.n,
                    "observed_at": o.observed_at.isoformat(),
                    "source": o.source,
                    "content_hash": o.content_hash,
                    **o.run(),  # variant, run_id, record: which variant and run decided
                    # A lab's declaration says whether it was checked against its primary source.
                    **_verified(o.attributes.get("verified")),
                }
                for o in (details[p.id] for p in ev.evidence)
            ],
        }
    )


def chain(
    head: tuple[int, str],
    items: Iterable[tuple[datetime, Transition, Threshold]],
    details: Mapping[int, StoredObservation],
    extras: Sequence[Mapping[str, Any]] | None = None,
) -> list[Entry]:
    """New entries after `head` (last seq, last hash), each hashed onto the one before.
    `details` holds the whole stored observation behind each evidence point; `extras` (one per
    item) adds what the cycle decided about it: its delivery and its acknowledgement. Their
    leadership epoch is the appending transaction's (warden.store.alerts.append_triggers, under
    the chain lock), kept beside the content (not hashed)."""
    seq, prev = head
    out = []
    for n, (at, transition, threshold) in enumerate(items):
        seq += 1
        content = content_of(seq, at, transition, threshold, details, extras[n] if extras else None)
        digest = chain_hash(prev, content)
        out.append(
            Entry(
                seq,
                at,
                threshold.id,
                threshold.version,
                transition.subject,
                transition.from_state.value,
                transition.to_state.value,
                content,
                prev,
                digest,
            )
        )
        prev = digest
    return out


def catalog_entry(
    head: tuple[int, str],
    at: datetime,
    previous: dict[str, str],
    thresholds: Iterable[Threshold],
    files: Iterable[str],
) -> Entry | None:
    """An entry recording how the catalog differs from `previous` (threshold id -> version, as
    the last catalog entry recorded it), or None when it does not."""
    versions = {t.id: t.version for t in thresholds}
    if versions == previous:
        return None
    seq, prev = head[0] + 1, head[1]
    digest_of_catalog = hashlib.sha256(canonical(versions).encode()).hexdigest()
    content = canonical(
        {
            "kind": CATALOG,
            "seq": seq,
            "at": at.isoformat(),
            "threshold": "",
            "threshold_version": digest_of_catalog,
            "subject": "",
            "from": "",
            "to": "",
            "added": sorted(set(versions) - set(previous)),
            "changed": sorted(k for k in versions if k in previous and previous[k] != versions[k]),
            "removed": sorted(set(previous) - set(versions)),
            "versions": versions,
            "files": sorted(files),
        }
    )
    return Entry(
        seq,
        at,
        "",
        digest_of_catalog,
        "",
        "",
        "",
        content,
        prev,
        chain_hash(prev, content),
        CATALOG,
    )


def assessment_entry(head: tuple[int, str], at: datetime, a: Assessment) -> Entry:
    """An entry recording a model's capability assessment (`warden assess record`)."""
    seq, prev = head[0] + 1, head[1]
    content = canonical(
        {
            "kind": ASSESSMENT,
            "seq": seq,
            "at": at.isoformat(),
            "threshold": "",
            "threshold_version": "",
            "subject": a.model,
            "from": "",
            "to": "",
            "assessed_at": a.at.isoformat(),
            "by": a.by,
            "compute": a.compute,
            "note": a.note,
        }
    )
    return Entry(
        seq, at, "", "", a.model, "", "", content, prev, chain_hash(prev, content), ASSESSMENT
    )


def action_entry(
    head: tuple[int, str],
    at: datetime,
    kind: str,
    body: Mapping[str, Any],
    *,
    threshold: str = "",
    subject: str = "",
) -> Entry:
    """An entry recording what a person (or warden, `actor`) did: an acknowledgement, a
    silence added or ended."""
    seq, prev = head[0] + 1, head[1]
    content = canonical(
        {
            **body,
            "kind": kind,
            "seq": seq,
            "at": at.isoformat(),
            "threshold": threshold,
            "threshold_version": "",
            "subject": subject,
            "from": "",
            "to": "",
        }
    )
    return Entry(
        seq, at, threshold, "", subject, "", "", content, prev, chain_hash(prev, content), kind
    )


@dataclass(frozen=True)
class Break:
    seq: int
    why: str


def verify(entries: Iterable[Entry]) -> Break | None:
    """The first entry that does not verify, or None when the whole chain holds."""
    prev = GENESIS
    expected_seq = 1
    for e in entries:
        if e.seq != expected_seq:
            return Break(e.seq, f"sequence gap: expected entry {expected_seq}")
        if e.prev_hash != prev:
            return Break(e.seq, "prev_hash does not match the previous entry's hash")
        if chain_hash(e.prev_hash, e.content) != e.hash:
            return Break(e.seq, "hash does not match the entry's content")
        try:
            body = e.body
        except json.JSONDecodeError:
            return Break(e.seq, "content is not valid JSON")
        columns = {
            "kind": e.kind,
            "seq": e.seq,
            "at": e.at.isoformat(),
            "threshold": e.threshold,
            "threshold_version": e.threshold_version,
            "subject": e.subject,
            "from": e.from_state,
            "to": e.to_state,
        }
        for name, value in columns.items():
            if body.get(name, TRANSITION if name == "kind" else None) != value:
                return Break(e.seq, f"column {name!r} ({value!r}) differs from the hashed content")
        prev = e.hash
        expected_seq += 1
    return None


def _verified(value: Any) -> dict[str, bool]:
    return {"verified": value} if isinstance(value, bool) else {}
