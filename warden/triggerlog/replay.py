"""Replay: re-derive a trigger from what the store keeps, months later.

An alert transition records the threshold's version and the evidence it was decided on (each
observation's id, value, stderr, n, source, content hash). The store keeps every threshold
definition by its version (warden/catalog/definitions.py, written with each catalog entry) and
the observations themselves. Replay rebuilds the threshold at that version, evaluates the stored
evidence with it at the entry's time (`evaluate_threshold`, the evaluator the cycle runs), and
compares the verdict, value and confirmations, and the state the state machine then enters,
with what the entry recorded. The outcome, most telling first:

- `not replayable`: the entry is not an alert transition, or it records an evaluation that
  failed, or a projected crossing (it rests on a trend fit, which replay does not redo);
- `definition missing`: no definition is kept under the entry's version (it fired before this
  store kept definitions, or the daemon never recorded the catalog);
- `definition changed`: the text kept does not hash to its version, or this code reads it
  differently (the catalog language changed);
- `evidence changed`: an observation is gone from the store, or differs from the log's copy;
- `verdict changed`: the same evidence under the same definition gives another verdict, value,
  count of confirmations or state: the code changed the verdict;
- `reproduced`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from sqlalchemy import Connection

from warden.catalog.conditions import Reassessment, SilentFeed
from warden.catalog.definitions import DefinitionError, rebuild
from warden.catalog.registry import ModelSpec
from warden.catalog.thresholds import Threshold
from warden.core.chain import TRANSITION, Entry
from warden.core.errors import NotFound
from warden.core.model import (
    Assessment,
    Evaluation,
    Point,
    State,
    StoredObservation,
    Transition,
    measured_by,
)
from warden.evaluation.evaluate import FeedRuns, evaluate_threshold, explain
from warden.store import definitions as definition_rows
from warden.store import reads

REPRODUCED = "reproduced"
NOT_REPLAYABLE = "not replayable"
DEFINITION_MISSING = "definition missing"
DEFINITION_CHANGED = "definition changed"
EVIDENCE_CHANGED = "evidence changed"
VERDICT_CHANGED = "verdict changed"

# The state machine, from the layer above (warden.alerting.state.advance), given by the caller.
Advance = Callable[[State | None, Evaluation, Threshold, float | None, float | None], Any]

# Fields of an evidence record compared with the stored observation: (log key, stored attribute).
_COMPARED = (
    ("feed", "feed"),
    ("model", "subject"),
    ("benchmark", "benchmark"),
    ("metric", "metric"),
    ("value", "value"),
    ("stderr", "stderr"),
    ("n", "n"),
    ("observed_at", "observed_at"),
    ("source", "source"),
    ("content_hash", "content_hash"),
)


@dataclass(frozen=True)
class Outcome:
    """A verdict and the state it led to, as recorded or as replayed."""

    verdict: str
    value: float | None
    confirmations: int
    to_state: str | None
    reason: str


@dataclass(frozen=True)
class Difference:
    what: str
    recorded: Any = None
    replayed: Any = None


@dataclass(frozen=True)
class Replay:
    seq: int
    outcome: str
    recorded: Outcome | None = None
    replayed: Outcome | None = None
    differences: tuple[Difference, ...] = ()
    notes: tuple[str, ...] = ()
    # The leadership epoch the entry was written under (None: SQLite, or before it was kept):
    # which leader decided it, for a replay after a failover. Not compared: it is not evidence.
    epoch: int | None = None

    @property
    def reproduced(self) -> bool:
        return self.outcome == REPRODUCED


@dataclass(frozen=True)
class Inputs:
    """What the store holds for replaying one entry."""

    entry: Entry
    definition: tuple[str, str] | None  # (threshold id, definition text) under its version
    observations: Mapping[int, StoredObservation] = field(default_factory=dict)
    assessment: Assessment | None = None  # the subject's assessment in force then
    feed_runs: FeedRuns | None = None  # the feed's run history as it stood then
    previous: Entry | None = None  # the alert's transition before this one


def gather(conn: Connection, seq: int) -> Inputs:
    """Read what replaying entry `seq` needs. NotFound when there is no such entry."""
    entry = reads.entry(conn, seq)
    if entry is None:
        raise NotFound(f"trigger {seq}: no such entry in the trigger log")
    if entry.kind != TRANSITION:
        return Inputs(entry, None)
    body = entry.body
    kept = definition_rows.load(conn, [entry.threshold_version])
    ids = [int(e["observation"]) for e in body.get("evidence", [])]
    condition = body.get("condition") or {}
    runs = None
    if "feed" in condition:
        runs = FeedRuns(*reads.feed_runs_at(conn, entry.subject, entry.at))
    assessment = None
    if "since" in condition:
        assessment = reads.assessment_before(conn, entry.subject, entry.seq)
    return Inputs(
        entry,
        kept.get(entry.threshold_version),
        reads.observations_by_id(conn, ids),
        assessment,
        runs,
        reads.previous_transition(conn, entry.threshold, entry.subject, entry.seq),
    )


def replay(
    inputs: Inputs,
    *,
    models: Mapping[str, ModelSpec] | None = None,
    advance: Advance | None = None,
) -> Replay:
    """Replay one entry. `models` (the registry's) decides membership of an organisation or
    open-weights scope; `advance` (the state machine) checks the state entered."""
    return replace(_replay(inputs, models, advance), epoch=inputs.entry.epoch)


def _replay(
    inputs: Inputs, models: Mapping[str, ModelSpec] | None, advance: Advance | None
) -> Replay:
    e = inputs.entry
    if e.kind != TRANSITION:
        return Replay(e.seq, NOT_REPLAYABLE, notes=(f"a {e.kind} entry, not an alert transition",))
    body = e.body
    recorded = Outcome(
        str(body.get("verdict")),
        body.get("value"),
        int(body.get("confirmations") or 0),
        e.to_state,
        str(body.get("reason") or ""),
    )
    if recorded.verdict == "error" or e.to_state == State.ERROR.value:
        why = f"the evaluation failed when the entry was written ({recorded.reason})"
        return Replay(e.seq, NOT_REPLAYABLE, recorded, notes=(why + ": no verdict to re-derive",))
    evidence_diffs, points = _evidence(body.get("evidence", []), inputs.observations)
    if inputs.definition is None:
        why = f"no definition is kept under version {e.threshold_version[:12]}"
        return Replay(e.seq, DEFINITION_MISSING, recorded, None, tuple(evidence_diffs), (why,))
    try:
        threshold = rebuild(e.threshold_version, inputs.definition[1])
    except DefinitionError as exc:
        return Replay(e.seq, DEFINITION_CHANGED, recorded, None, tuple(evidence_diffs), (exc.why,))
    ev = _evaluate(threshold, inputs, points, models)
    replayed = _outcome(threshold, inputs, ev, advance)
    differences = list(evidence_diffs)
    if replayed is None:
        differences.append(Difference("subject", e.subject, None))
    else:
        differences += _compare(recorded, replayed, check_state=advance is not None)
    notes = []
    if threshold.organisation is not None or threshold.scope.value == "open_weights_frontier":
        notes.append("who is in the scope was read from the current registry")
    if "projection" in body:
        notes.append(
            "the verdict rests on a projection of the frontier's trend (recorded in the entry), "
            "which replay does not fit again"
        )
        return Replay(e.seq, NOT_REPLAYABLE, recorded, replayed, tuple(differences), tuple(notes))
    if evidence_diffs:
        outcome = EVIDENCE_CHANGED
    elif differences:
        outcome = VERDICT_CHANGED
    else:
        outcome = REPRODUCED
    return Replay(e.seq, outcome, recorded, replayed, tuple(differences), tuple(notes))


def _evidence(
    records: Sequence[Mapping[str, Any]], stored: Mapping[int, StoredObservation]
) -> tuple[list[Difference], list[tuple[str, str, Point]]]:
    """How the store's observations differ from the log's copies, and the points to evaluate:
    the store's where it has them (the log's copy where it does not)."""
    diffs: list[Difference] = []
    points = []
    for r in records:
        oid = int(r["observation"])
        row = stored.get(oid)
        if row is None:
            diffs.append(Difference(f"evidence {oid}", "recorded", "no longer in the store"))
            attributes: Mapping[str, Any] = {
                "variant": r.get("variant", ""),
                "measured_by": r.get("measured_by", ""),
            }
            values = {k: r.get(k) for k, _ in _COMPARED}
            at = datetime.fromisoformat(str(r["observed_at"]))
            subject, bench, metric, key = r["model"], r["benchmark"], r["metric"], str(oid)
        else:
            for log_key, attr in _COMPARED:
                now = getattr(row, attr)
                shown = now.isoformat() if isinstance(now, datetime) else now
                if not _same(r.get(log_key), shown):
                    diffs.append(Difference(f"evidence {oid}.{log_key}", r.get(log_key), shown))
            attributes = row.attributes
            values = {"value": row.value, "stderr": row.stderr, "n": row.n, "feed": row.feed}
            at, subject, bench, metric, key = (
                row.observed_at,
                row.subject,
                row.benchmark,
                row.metric,
                row.key,
            )
        variant = attributes.get("variant")
        fields = {
            "id": oid,
            "subject": subject,
            "value": float(values["value"] or 0.0),
            "observed_at": at,
            "key": key,
            "stderr": values["stderr"],
            "n": values["n"],
            "feed": values["feed"] or "",
            "variant": variant if isinstance(variant, str) else "",
            # Who measured it, as the store reads it (a threshold's `evidence` and `conflict`
            # conditions choose by it): "" for a record that never said.
            "measured_by": measured_by(attributes) if attributes.get("measured_by") != "" else "",
        }
        points.append(
            (bench, metric, Point(**{k: v for k, v in fields.items() if k in Point._fields}))
        )
    return diffs, points


def _same(recorded: Any, stored: Any) -> bool:
    if isinstance(recorded, int | float) and isinstance(stored, int | float):
        return math.isclose(recorded, stored, rel_tol=1e-12, abs_tol=0.0)
    if isinstance(recorded, str) and isinstance(stored, str) and "T" in recorded:
        try:
            return datetime.fromisoformat(recorded) == datetime.fromisoformat(stored)
        except ValueError:
            return recorded == stored
    return bool(recorded == stored)


def _evaluate(
    threshold: Threshold,
    inputs: Inputs,
    points: Sequence[tuple[str, str, Point]],
    models: Mapping[str, ModelSpec] | None,
) -> Evaluation | None:
    e = inputs.entry
    evidence: dict[tuple[str, str], dict[str, list[Point]]] = {}
    for bench, metric, point in points:
        evidence.setdefault((bench, metric), {}).setdefault(point.subject, []).append(point)
    when = threshold.when
    runs = (
        {when.feed: inputs.feed_runs} if isinstance(when, SilentFeed) and inputs.feed_runs else {}
    )
    assessed = (
        {e.subject: inputs.assessment}
        if isinstance(when, Reassessment) and inputs.assessment is not None
        else {}
    )
    known = [] if threshold.is_frontier else [e.subject]
    out = evaluate_threshold(
        threshold,
        evidence,
        e.at,
        known,
        models,
        assessments=assessed,
        feed_runs=runs,
    )
    return next((ev for ev in out if ev.subject == e.subject), None)


def _outcome(
    threshold: Threshold, inputs: Inputs, ev: Evaluation | None, advance: Advance | None
) -> Outcome | None:
    if ev is None:
        return None
    e = inputs.entry
    to_state = None
    if advance is not None:
        prev = None if e.from_state == State.INACTIVE.value else State(e.from_state)
        previous = inputs.previous
        pending = (
            (e.at - previous.at).total_seconds()
            if previous is not None and previous.to_state == State.PENDING.value
            else None
        )
        moved = advance(prev, ev, threshold, pending, None)
        to_state = moved.to_state.value if isinstance(moved, Transition) else "(no transition)"
    return Outcome(ev.verdict.value, ev.value, ev.confirmations, to_state, explain(threshold, ev))


def _compare(recorded: Outcome, replayed: Outcome, *, check_state: bool) -> list[Difference]:
    out = []
    if recorded.verdict != replayed.verdict:
        out.append(Difference("verdict", recorded.verdict, replayed.verdict))
    if (recorded.value is None) != (replayed.value is None) or (
        recorded.value is not None
        and replayed.value is not None
        and not math.isclose(recorded.value, replayed.value, rel_tol=1e-9, abs_tol=1e-12)
    ):
        out.append(Difference("value", recorded.value, replayed.value))
    if recorded.confirmations != replayed.confirmations:
        out.append(Difference("confirmations", recorded.confirmations, replayed.confirmations))
    if check_state and recorded.to_state != replayed.to_state:
        out.append(Difference("to_state", recorded.to_state, replayed.to_state))
    return out


def summary(r: Replay) -> str:
    """One paragraph for people (the CLI prints it)."""
    head = f"trigger {r.seq}: {r.outcome}"
    if r.recorded is not None:
        rec = r.recorded
        head += f" (recorded: {rec.verdict}"
        head += "" if rec.value is None else f", value {rec.value:g}"
        head += f", {rec.confirmations} confirmations, entered {rec.to_state})"
    lines = [head]
    if r.replayed is not None and r.differences:
        rep = r.replayed
        shown = "" if rep.value is None else f", value {rep.value:g}"
        lines.append(
            f"  replayed: {rep.verdict}{shown}, {rep.confirmations} confirmations"
            + ("" if rep.to_state is None else f", would enter {rep.to_state}")
        )
    lines += [f"  {d.what}: recorded {d.recorded!r}, now {d.replayed!r}" for d in r.differences]
    lines += [f"  note: {n}" for n in r.notes]
    if r.epoch is not None:
        lines.append(f"  written under leadership epoch {r.epoch}")
    return "\n".join(lines)
