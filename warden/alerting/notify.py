"""What an alert cycle's transitions tell, and whom: where each is notified (routes, silences,
inhibition: matched ahead of the write transaction, only looked up in it), in which group and
when (`group_by`, `group_wait`, history summaries), and what the trigger log records with it."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta

from sqlalchemy import Connection

from warden.alerting.routing import Decision, Matches, Router, Unprepared, labels
from warden.catalog.thresholds import Catalog, Threshold
from warden.core.matchers import Silence
from warden.core.model import NOTIFY_STATES, State, StoredObservation, Transition
from warden.store import actions
from warden.store import alerts as alert_rows
from warden.store import outbox as outbox_rows


class Unmatched(Exception):
    """An attempt met alerts, silences or firing alerts its matches had not learnt: it is rolled
    back, they are matched outside any transaction, and the cycle tries again. Without
    `silences`, the attempt stopped before reading them (and the alerts firing in the store)."""

    def __init__(
        self,
        alerts: list[dict[str, str]],
        firing: list[dict[str, str]],
        silences: list[Silence] | None = None,
    ) -> None:
        super().__init__(f"{len(alerts)} alerts to match")
        self.alerts, self.firing, self.silences = alerts, firing, silences


def history(
    conn: Connection,
    changed: Sequence[tuple[Transition, Threshold]],
    details: Mapping[int, StoredObservation],
    starts: Mapping[str, datetime],
) -> list[bool]:
    """Whether each transition was caused by history: every observation of its evidence is
    one warden found rather than saw arrive. An observation is history when it was in the store
    before warden first evaluated the threshold (the first start on a store, a threshold added
    to the catalog), when its feed's first run read it, or when a feed found it later but it
    happened before that first run (a backfill, an old row). A pushed observation arriving
    after the threshold's first evaluation is news, whatever its date; so is a transition
    without evidence (stale data, an error)."""
    if not changed:
        return []
    runs = alert_rows.first_runs(conn)

    def old(o: StoredObservation, since: datetime) -> bool:
        if o.ingested_at is not None and o.ingested_at < since:
            return True
        first = runs.get(o.feed)
        if first is None:
            return False
        started, ended = first
        if ended is None:  # its first run is still reading: all it stored so far is history
            return True
        return (o.ingested_at is not None and o.ingested_at <= ended) or o.observed_at < started

    out = []
    for t, th in changed:
        seen = [details[p.id] for p in t.evaluation.evidence if p.id in details]
        out.append(bool(seen) and all(old(o, starts[th.id]) for o in seen))
    return out


def groups(
    conn: Connection,
    router: Router,
    decision: Decision,
    threshold: Threshold,
    transition: Transition,
    history: bool,
    now: datetime,
    dues: dict[tuple[str, str], datetime] | None = None,
) -> list[tuple[str, str, datetime]]:
    """(sink, group key, due at) of each notification of a transition, as its routes group
    them: the alerts a route sends a sink with the same `group_by` labels are one group, history
    apart from news (`history: summary`); `group_wait` (`history_wait` for a summary) and
    `group_interval` set when it is due, and a group still waiting takes the new alert along
    (as Alertmanager's group_wait runs from the group's first alert). A route with
    `history: none` sends history nowhere."""
    alert = labels(threshold, transition.subject, transition.to_state.value)
    out = []
    for sink in decision.sinks:
        i = next((i for i in decision.routes if sink in router.routes[i].sinks), None)
        route = router.routes[i] if i is not None else None
        if route is None:  # an escalation's sink, or no route: a group of its own route
            out.append((sink, f"{'history|' if history else ''}-", now))
            continue
        if history and route.history == "none":
            continue
        summary = history and route.history == "summary"
        by = ",".join(f"{k}={alert.get(k, '')}" for k in route.group_by)
        group = f"{'history|' if summary else ''}{i}|{by}"
        wait = route.history_wait if summary else route.group_wait
        cached = None if dues is None else dues.get((sink, group))
        if cached is not None:
            out.append((sink, group, cached))
            continue
        due = outbox_rows.waiting(conn, sink, group) or now + timedelta(seconds=wait)
        if route.group_interval:
            last = outbox_rows.last_sent(conn, sink, group)
            if last is not None:
                due = max(due, last + timedelta(seconds=route.group_interval))
        if dues is not None:
            dues[(sink, group)] = due
        out.append((sink, group, due))
    return out


def decisions(
    conn: Connection,
    catalog: Catalog,
    matches: Matches,
    changed: Sequence[tuple[Transition, Threshold]],
    now: datetime,
) -> list[Decision]:
    """Where each transition is notified (routes, silences, inhibition), with the matches
    learnt before the transaction; Unmatched when it meets one they lack."""
    notified = [t.to_state in NOTIFY_STATES for t, _ in changed]
    if not any(notified):
        return [Decision((), ()) for _ in changed]
    alerts = [
        alert_labels(th, t) if notify else None
        for (t, th), notify in zip(changed, notified, strict=True)
    ]
    wanted = [a for a in alerts if a is not None]
    fired = [labels(th, t.subject, "firing") for t, th in changed if t.to_state is State.FIRING]
    if matches.strict and not all(matches.knows(a) for a in wanted):
        raise Unmatched(wanted, fired)  # before reading (and compiling) the silences
    silences = actions.active_silences(conn, now)
    resolving = [(t.threshold, t.subject) for t, _ in changed if t.to_state is State.RESOLVED]
    told = outbox_rows.announced(conn, resolving) if resolving else {}
    firing = firing_labels(conn, catalog, {(t.threshold, t.subject) for t, _ in changed}) + fired
    try:
        holds = matches.holds(silences, firing, now)
        decided = [Decision((), ()) if a is None else matches.decide(a, holds) for a in alerts]
    except Unprepared:
        raise Unmatched(wanted, firing, silences) from None
    return [
        d.announced_to(told[(t.threshold, t.subject)]) if t.to_state is State.RESOLVED else d
        for d, (t, _) in zip(decided, changed, strict=True)
    ]


def firing_labels(
    conn: Connection, catalog: Catalog, moved: set[tuple[str, str]]
) -> list[dict[str, str]]:
    """The labels of the alerts firing in the store (those of the catalog, but `moved`), which
    may inhibit others."""
    return [
        labels(catalog.by_id(f.threshold), f.subject, "firing")
        for f in actions.firing(conn)
        if (f.threshold, f.subject) not in moved and catalog.has(f.threshold)
    ]


def alert_labels(threshold: Threshold, transition: Transition) -> dict[str, str]:
    """The labels a transition's notification is routed, silenced and inhibited by."""
    alert = labels(threshold, transition.subject, transition.to_state.value)
    if transition.evaluation.projection is not None:
        alert["alert"] = "projected_crossing"
    return alert


def records(
    conn: Connection,
    changed: Sequence[tuple[Transition, Threshold]],
    decided: Sequence[Decision],
    from_history: Sequence[bool],
) -> list[dict[str, object]]:
    """What the trigger log records about each transition besides itself: the delivery
    decision, whether history caused it, and the acknowledgement when there is one."""
    if not changed:
        return []
    acked = actions.acks(conn, ((t.threshold, t.subject) for t, _ in changed))
    extras = []
    for (t, _), decision, old in zip(changed, decided, from_history, strict=True):
        extra: dict[str, object] = (
            {"delivery": decision.record()} if t.to_state in NOTIFY_STATES else {}
        )
        if old:
            extra["history"] = True
        ack = acked.get((t.threshold, t.subject))
        if ack is not None:
            extra["acknowledged"] = {"by": ack.by, "at": ack.at.isoformat(), "note": ack.note}
        extras.append(extra)
    return extras
