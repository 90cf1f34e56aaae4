"""People's actions on alerts and warden's follow-ups: acknowledgements, silences, repeats and
escalations. Each human action (and each silence's end) is an entry in the trigger log.

- `acknowledge`: stops the repeats and escalation of one alert until it resolves; shown in the
  alert's later notifications and in the trigger log.
- `add_silence` / `expire_silence`: label matchers with a start and an end; a silenced alert is
  evaluated and logged, only not delivered. `log_ended` records each silence's end.
- `renotify`: for each alert still firing and not acknowledged, notify again every route's
  `repeat_interval`, and escalate to `escalate_to` once after `escalate_after`; silenced and
  inhibited alerts are not repeated.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, func, select, tuple_

from warden.alerting.cycle import MAX_ATTEMPTS, idempotency_key
from warden.alerting.routing import Matches, Router, Unprepared, labels, matcher_problems
from warden.catalog.thresholds import Catalog, Threshold
from warden.core.chain import ACK, SILENCE
from warden.core.errors import Conflict, NotFound, UsageError
from warden.core.matchers import Matchers
from warden.core.notification import Notification
from warden.core.suggest import did_you_mean
from warden.store import Store, actions
from warden.store import alerts as alert_rows
from warden.store import outbox as outbox_rows
from warden.store.schema import alert_states, triggers
from warden.triggerlog.entries import action_entry

log = logging.getLogger(__name__)


def acknowledge(
    store: Store,
    threshold: str,
    subject: str,
    by: str,
    note: str,
    now: datetime,
    *,
    thresholds: Collection[str] = (),
) -> int:
    """Acknowledge the alert threshold x subject; returns its trigger-log entry's seq. A
    threshold that neither `thresholds` (the catalog's ids) nor the store knows, or a subject
    the threshold has no alert for, is NotFound with the nearest ids."""
    if not by.strip():
        raise UsageError("--by: name who acknowledges the alert")
    with store.write() as conn:
        alert_rows.lock(conn)
        state = alert_rows.load_states(conn, [threshold]).get((threshold, subject))
        if state is None:
            _no_alert(conn, threshold, subject, thresholds)
        if state is None or state.value not in ("firing", "warning", "pending", "nodata", "error"):
            shown = "no alert" if state is None else f"the alert is {state.value}"
            raise Conflict(f"{threshold} {subject}: {shown}: nothing to acknowledge")
        actions.acknowledge(conn, threshold, subject, by, note, now)
        body = {"actor": by, "action": "acknowledged", "note": note, "state": state.value}
        entry = action_entry(
            alert_rows.chain_head(conn), now, ACK, body, threshold=threshold, subject=subject
        )
        alert_rows.append_triggers(conn, [entry])
    return entry.seq


def _no_alert(conn: Connection, threshold: str, subject: str, thresholds: Collection[str]) -> None:
    """NotFound naming the nearest ids when `threshold` is unknown; Conflict naming the
    nearest subjects when the threshold has no alert for `subject`."""
    known = set(thresholds) | alert_rows.threshold_ids(conn)
    if threshold not in known:
        near = did_you_mean(threshold, known)
        raise NotFound(f"no threshold {threshold!r} in the catalog or the store{near}")
    subjects = alert_rows.subjects(conn, threshold)
    if subjects and subject not in subjects:
        shown = ", ".join(sorted(subjects)[:10]) + (", ..." if len(subjects) > 10 else "")
        raise Conflict(
            f"{threshold} {subject}: no alert{did_you_mean(subject, subjects)} (its alerts' "
            f"subjects: {shown}): nothing to acknowledge"
        )


def alert_of_trigger(store: Store, seq: int) -> tuple[str, str]:
    """The threshold x subject a trigger-log entry is about."""
    with store.read() as conn:
        row = conn.execute(
            select(triggers.c.threshold, triggers.c.subject).where(triggers.c.seq == seq)
        ).first()
    if row is None or not row[0]:
        raise NotFound(f"trigger {seq}: no such alert transition in the trigger log")
    return str(row[0]), str(row[1])


def add_silence(
    store: Store,
    matchers: Matchers,
    starts_at: datetime,
    ends_at: datetime,
    by: str,
    comment: str,
    now: datetime,
    *,
    thresholds: Iterable[Threshold] | None = None,
    force: bool = False,
    force_hint: str = "--force",
) -> tuple[int, int]:
    """Add a silence; returns its id and its trigger-log entry's seq. With `thresholds` (the
    catalog's), matchers on a label no alert carries, or equal to a value none has, are refused
    (they would silence nothing) unless `force`."""
    if not matchers.match and not matchers.match_re:
        raise UsageError("a silence needs at least one matcher (--match or --match-re)")
    if ends_at <= starts_at:
        raise UsageError(f"the silence ends ({ends_at}) before it starts ({starts_at})")
    if ends_at <= now:
        raise UsageError(f"the silence would end in the past ({ends_at})")
    if not by.strip() or not comment.strip():
        raise UsageError("a silence needs --by (who) and --comment (why)")
    if thresholds is not None and not force:
        problems = matcher_problems(matchers, thresholds)
        if problems:
            raise UsageError(
                f"the silence would match nothing: {'; '.join(problems)}; to add it anyway, "
                f"give {force_hint}"
            )
    with store.write() as conn:
        alert_rows.lock(conn)
        silence_id = actions.add_silence(conn, matchers, starts_at, ends_at, by, comment, now)
        body = {
            "actor": by,
            "action": "silence added",
            "silence": silence_id,
            "matchers": matchers.model_dump(),
            "starts_at": starts_at.isoformat(),
            "ends_at": ends_at.isoformat(),
            "comment": comment,
        }
        entry = action_entry(alert_rows.chain_head(conn), now, SILENCE, body)
        alert_rows.append_triggers(conn, [entry])
    return silence_id, entry.seq


def expire_silence(store: Store, silence_id: int, by: str, now: datetime) -> int:
    with store.write() as conn:
        alert_rows.lock(conn)
        found = actions.get_silence(conn, silence_id)
        if found is None:
            raise NotFound(f"no silence {silence_id}")
        if found.expired_at is not None or found.silence.ends_at <= now:
            raise Conflict(f"silence {silence_id} has already ended")
        actions.expire_silence(conn, silence_id, by, now)
        body = {"actor": by, "action": "silence expired", "silence": silence_id}
        entry = action_entry(alert_rows.chain_head(conn), now, SILENCE, body)
        alert_rows.append_triggers(conn, [entry])
    return entry.seq


def log_ended(store: Store, now: datetime) -> list[int]:
    """Record the end of every silence whose time is up (actor `warden`)."""
    with store.write() as conn:
        alert_rows.lock(conn)
        ended = actions.ended_unlogged(conn, now)
        entries = []
        head = alert_rows.chain_head(conn)
        for s in ended:
            actions.expire_silence(conn, s.id, "warden", s.ends_at)
            body = {"actor": "warden", "action": "silence ended", "silence": s.id}
            entry = action_entry(head, now, SILENCE, body)
            entries.append(entry)
            head = (entry.seq, entry.hash)
        alert_rows.append_triggers(conn, entries)
    return [s.id for s in ended]


@dataclass(frozen=True)
class Renotified:
    repeats: int = 0
    escalations: int = 0


def renotify(store: Store, catalog: Catalog, router: Router, now: datetime) -> Renotified:
    """Repeat and escalate firing, unacknowledged alerts as their routes say.

    As the alert cycle does (alerting.cycle), the routes, silences and inhibition rules are
    matched with no transaction open, from a read of the firing alerts and the silences; the
    write transaction only looks the matches up. An alert or a silence that appeared in
    between is matched on the next attempt; the last attempt matches what is still new under
    the lock."""
    matches = Matches(router)
    for attempt in range(1, MAX_ATTEMPTS + 1):
        with store.read() as conn:
            firing_now = [f for f in actions.firing(conn) if catalog.has(f.threshold)]
            silences = actions.active_silences(conn, now)
        if not firing_now:
            return Renotified()
        alerts = [labels(catalog.by_id(f.threshold), f.subject, "firing") for f in firing_now]
        matches.learn(alerts, silences, alerts)
        matches.strict = attempt < MAX_ATTEMPTS
        try:
            done = _renotify(store, catalog, matches, now)
        except Unprepared:
            continue  # rolled back: something new to match outside the transaction
        if done.repeats or done.escalations:
            log.info("renotify: %d repeats, %d escalations queued", done.repeats, done.escalations)
        return done
    raise AssertionError("unreachable: the last attempt is not strict")  # pragma: no cover


def _renotify(store: Store, catalog: Catalog, matches: Matches, now: datetime) -> Renotified:
    """One attempt, in the write transaction under the alert lock."""
    router = matches.router
    repeats = escalations = 0
    with store.write() as conn:
        alert_rows.lock(conn)
        firing_now = [f for f in actions.firing(conn) if catalog.has(f.threshold)]
        if not firing_now:
            return Renotified()
        silences = actions.active_silences(conn, now)
        firing_labels = [
            labels(catalog.by_id(f.threshold), f.subject, "firing") for f in firing_now
        ]
        holds = matches.holds(silences, firing_labels, now)
        known = actions.notices_of(conn)
        heads = _last_triggers(conn, [(f.threshold, f.subject) for f in firing_now])
        queue: list[outbox_rows.Queued] = []
        for f, alert in zip(firing_now, firing_labels, strict=True):
            head = heads.get((f.threshold, f.subject))
            if f.acked or head is None:
                continue
            decision = matches.decide(alert, holds)
            if decision.sinks == ():
                continue  # silenced or inhibited: not repeated either
            seq, digest = head
            for i in decision.routes:
                route = router.routes[i]
                notice = known.get((f.threshold, f.subject, i)) or actions.Notice(f.since, 0, None)
                changed = False
                if (
                    route.repeat_interval
                    and (now - notice.last_at).total_seconds() >= route.repeat_interval
                ):
                    n = notice.repeats + 1
                    by = ",".join(f"{k}={alert.get(k, '')}" for k in route.group_by)
                    queue += [
                        (seq, s, idempotency_key(digest, f"{s}:repeat:{n}"), f"{i}|{by}", now)
                        for s in route.sinks
                    ]
                    notice = actions.Notice(now, n, notice.escalated_at)
                    repeats += 1
                    changed = True
                due = (
                    route.escalate_after and (now - f.since).total_seconds() >= route.escalate_after
                )
                if due and notice.escalated_at is None:
                    queue += [
                        (seq, s, idempotency_key(digest, f"{s}:escalate"), f"escalate|{i}", now)
                        for s in route.escalate_to
                    ]
                    notice = actions.Notice(notice.last_at, notice.repeats, now)
                    escalations += 1
                    changed = True
                if changed or (f.threshold, f.subject, i) not in known:
                    actions.save_notice(conn, f.threshold, f.subject, i, notice)
        outbox_rows.enqueue(conn, queue, now)
    return Renotified(repeats, escalations)


ACTIVE = ("firing", "warning", "nodata", "error")


def active_notifications(
    store: Store, catalog: Catalog, router: Router, sink: str, now: datetime
) -> list[Notification]:
    """One notification per active alert (firing, warning, nodata, error) routed to `sink`,
    from the trigger that put it in its state: what a sink that must be reminded of open alerts
    (Alertmanager forgets them once their endsAt passes) is given to re-send."""
    s = alert_states
    with store.read() as conn:
        rows = conn.execute(
            select(s.c.threshold, s.c.subject, s.c.state).where(s.c.state.in_(ACTIVE))
        ).all()
        alerts = [(t, subj, state) for t, subj, state in rows if catalog.has(t)]
        if not alerts:
            return []
        silences = actions.active_silences(conn, now)
        firing = [
            labels(catalog.by_id(t), subj, "firing") for t, subj, st in alerts if st == "firing"
        ]
        t = triggers
        newest = (
            select(t.c.threshold, t.c.subject, func.max(t.c.seq).label("seq"))
            .where(t.c.kind == "transition")
            .group_by(t.c.threshold, t.c.subject)
            .subquery()
        )
        q = select(t.c.threshold, t.c.subject, t.c.seq, t.c.hash, t.c.content).join(
            newest, t.c.seq == newest.c.seq
        )
        last = {(r[0], r[1]): (int(r[2]), str(r[3]), str(r[4])) for r in conn.execute(q)}
    out = []
    for threshold, subject, state in alerts:
        alert = labels(catalog.by_id(threshold), subject, state)
        if sink not in router.decide(alert, silences, firing, now).sinks:
            continue
        found = last.get((threshold, subject))
        if found is None:
            continue
        seq, digest, content = found
        key = idempotency_key(digest, f"{sink}:refresh")
        out.append(Notification(key, sink, seq, digest, json.loads(content)))
    return out


def _last_triggers(
    conn: Connection, keys: list[tuple[str, str]]
) -> dict[tuple[str, str], tuple[int, str]]:
    """The newest transition into firing of each alert in `keys`: (seq, hash)."""
    t = triggers
    out = {}
    for i in range(0, len(keys), 500):  # only the alerts asked for, not the whole log
        newest = (
            select(t.c.threshold, t.c.subject, func.max(t.c.seq).label("seq"))
            .where(
                t.c.to_state == "firing", tuple_(t.c.threshold, t.c.subject).in_(keys[i : i + 500])
            )
            .group_by(t.c.threshold, t.c.subject)
            .subquery()
        )
        q = select(t.c.threshold, t.c.subject, t.c.seq, t.c.hash).join(
            newest, t.c.seq == newest.c.seq
        )
        out.update({(r[0], r[1]): (int(r[2]), str(r[3])) for r in conn.execute(q)})
    return out
