"""The read API: the trigger log (paged by keyset, filtered), one trigger with its evidence,
threshold definition, deliveries, acknowledgements and silences, its replay; current alerts; the
catalog; feeds and their health; forecasts; rejects; `log verify`. A `read` token, or none with
`http.public_read: true`.

The functions that build each answer (`trigger_page`, `trigger_detail`, `replay_trigger`,
`alerts`, ...) take the daemon and plain arguments, so the web view renders the same data.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any
from urllib.parse import urlencode

from fastapi import Depends, FastAPI, Query
from fastapi.concurrency import run_in_threadpool

from warden.alerting.state import advance
from warden.catalog.thresholds import Threshold
from warden.core.chain import Entry
from warden.core.errors import NotFound, UsageError
from warden.core.matchers import Matchers
from warden.interfaces.api.auth import Auth, Principal, Role
from warden.interfaces.api.schemas import (
    AUTH_ERRORS,
    AlertOut,
    Citation,
    DeliveryOut,
    Difference,
    EvidenceItem,
    FeedOut,
    ForecastOut,
    ProvenanceOut,
    RejectOut,
    RejectPage,
    ReplayOut,
    SilenceInForce,
    StoredEvidence,
    ThresholdAtVersion,
    ThresholdOut,
    TriggerDetail,
    TriggerPage,
    TriggerSummary,
    Verdict,
    VerifyOut,
    problems,
)
from warden.store import alerts as alert_rows
from warden.store import definitions as definition_rows
from warden.store import feeds as feed_rows
from warden.store import reads
from warden.triggerlog import replay as replaying
from warden.triggerlog.entries import verify

if TYPE_CHECKING:
    from warden.app.daemon import Warden

ACTIVE_STATES = ("pending", "warning", "firing", "nodata", "error")
KINDS = ("transition", "catalog", "ack", "silence", "delivery", "assessment")


def summary(e: Entry) -> TriggerSummary:
    try:
        body = e.body
    except json.JSONDecodeError:
        body = {}
    value = body.get("value")
    return TriggerSummary(
        seq=e.seq,
        at=e.at,
        kind=e.kind,
        threshold=e.threshold,
        threshold_version=e.threshold_version,
        subject=e.subject,
        from_state=e.from_state,
        to_state=e.to_state,
        hash=e.hash,
        prev_hash=e.prev_hash,
        epoch=e.epoch,
        title=body.get("title"),
        severity=body.get("severity"),
        verdict=body.get("verdict"),
        value=value if isinstance(value, int | float) else None,
        reason=body.get("reason"),
        actor=body.get("actor"),
        action=body.get("action"),
    )


def trigger_page(
    warden: Warden,
    where: reads.TriggerFilter,
    cursor: int | None,
    limit: int,
    newest_first: bool = True,
) -> TriggerPage:
    with warden.store.read() as conn:
        page = reads.trigger_page(
            conn, where, cursor=cursor, limit=limit, newest_first=newest_first
        )
    link = None
    if page.next_cursor is not None:
        query = {
            "threshold": where.threshold,
            "subject": where.subject,
            "kind": where.kind,
            "state": where.state,
            "since": where.since and where.since.isoformat(),
            "until": where.until and where.until.isoformat(),
            "order": None if newest_first else "asc",
            "limit": limit,
            "cursor": page.next_cursor,
        }
        link = "/api/v1/triggers?" + urlencode({k: v for k, v in query.items() if v is not None})
    return TriggerPage(
        items=[summary(e) for e in page.entries], next_cursor=page.next_cursor, next=link
    )


def trigger_detail(warden: Warden, seq: int) -> TriggerDetail:
    """One entry with everything behind it."""
    with warden.store.read() as conn:
        e = reads.entry(conn, seq)
        if e is None:
            raise NotFound(f"trigger {seq}: no such entry in the trigger log")
        body = e.body
        records = body.get("evidence", []) if isinstance(body.get("evidence"), list) else []
        stored = reads.observations_by_id(conn, [int(r["observation"]) for r in records])
        kept = definition_rows.load(conn, [e.threshold_version]) if e.threshold else {}
        delivered = reads.deliveries_of(conn, seq)
        acks: list[Entry] = []
        if e.kind == "transition":
            end = reads.next_transition(conn, e.threshold, e.subject, seq)
            acks = reads.alert_entries(conn, e.threshold, e.subject, after=seq, before=end)
        # The silences that held its notification back, as the entry recorded them.
        decided = body.get("delivery")
        held = decided.get("silenced_by", []) if isinstance(decided, dict) else []
        silenced_by = [int(i) for i in held if isinstance(i, int)]
        in_force = reads.silences_by_id(conn, silenced_by)
    definition = kept.get(e.threshold_version)
    matching = []
    for s in in_force:
        matchers = Matchers.model_validate(s.matchers)
        matching.append(
            SilenceInForce(
                id=s.id,
                match=matchers.match,
                match_re=matchers.match_re,
                starts_at=s.starts_at,
                ends_at=s.ends_at,
                created_by=s.created_by,
                comment=s.comment,
            )
        )
    return TriggerDetail(
        entry=summary(e),
        content=body,
        evidence=[_evidence(r, stored.get(int(r["observation"]))) for r in records],
        threshold=None
        if not e.threshold
        else ThresholdAtVersion(
            version=e.threshold_version,
            stored=definition is not None,
            definition=None if definition is None else json.loads(definition[1]),
        ),
        deliveries=[
            DeliveryOut(
                sink=d.sink,
                status=d.status,
                attempts=d.attempts,
                created_at=d.created_at,
                finished_at=d.finished_at,
                last_error=d.last_error,
                tries=d.tries,
            )
            for d in delivered
        ],
        acks=[summary(a) for a in acks],
        silences=matching,
    )


def _evidence(record: dict[str, Any], row: Any) -> EvidenceItem:
    stored = None
    changed = []
    if row is not None:
        stored = StoredEvidence(
            feed=row.feed,
            subject=row.subject,
            benchmark=row.benchmark,
            metric=row.metric,
            value=row.value,
            stderr=row.stderr,
            n=row.n,
            observed_at=row.observed_at,
            source=row.source,
            content_hash=row.content_hash,
            key=row.key,
            ingested_at=row.ingested_at,
            provenance=dict(row.attributes),
        )
        for d in replaying._evidence([record], {row.id: row})[0]:
            changed.append(d.what.rpartition(".")[2])
    return EvidenceItem(
        observation=int(record["observation"]),
        feed=record.get("feed", ""),
        model=record.get("model", ""),
        benchmark=record.get("benchmark", ""),
        metric=record.get("metric", ""),
        value=record.get("value"),
        stderr=record.get("stderr"),
        n=record.get("n"),
        observed_at=record.get("observed_at"),
        source=record.get("source", ""),
        content_hash=record.get("content_hash", ""),
        stored=stored,
        changed=changed,
    )


def replay_trigger(warden: Warden, seq: int) -> replaying.Replay:
    with warden.store.read() as conn:
        inputs = replaying.gather(conn, seq)
    return replaying.replay(inputs, models=warden.catalog.registry.models, advance=advance)


def replay_out(r: replaying.Replay) -> ReplayOut:
    def verdict(o: replaying.Outcome | None) -> Verdict | None:
        return None if o is None else Verdict(**o.__dict__)

    return ReplayOut(
        seq=r.seq,
        outcome=r.outcome,
        reproduced=r.reproduced,
        recorded=verdict(r.recorded),
        replayed=verdict(r.replayed),
        differences=[Difference(**d.__dict__) for d in r.differences],
        notes=list(r.notes),
        epoch=r.epoch,
    )


def alerts(warden: Warden, states: tuple[str, ...] = ACTIVE_STATES) -> list[AlertOut]:
    with warden.store.read() as conn:
        rows = reads.current_alerts(conn, states)
    index = {t.id: t for t in warden.catalog.thresholds}
    out = []
    for r in rows:
        t = index.get(r.threshold)
        out.append(
            AlertOut(
                threshold=r.threshold,
                subject=r.subject,
                state=r.state,
                since=r.since,
                threshold_version=r.threshold_version,
                title=t.title if t else None,
                domain=t.domain if t else None,
                level=t.level.value if t else None,
                severity=t.then.severity if t else None,
                mitigations=list(t.then.mitigations) if t else [],
                acked_by=r.acked_by,
                acked_at=r.acked_at,
                ack_note=r.ack_note,
                last_trigger=r.last_trigger,
            )
        )
    return out


def threshold_out(t: Threshold) -> ThresholdOut:
    return ThresholdOut(
        id=t.id,
        title=t.title,
        domain=t.domain,
        level=t.level.value,
        scope=t.scope.value,
        organisation=t.organisation,
        version=t.version,
        condition=t.when.model_dump(mode="json"),
        warn_at=t.warn_at,
        for_=t.for_,
        severity=t.then.severity,
        mitigations=list(t.then.mitigations),
        safeguards=list(t.then.safeguards),
        runbook=None if t.then.runbook is None else str(t.then.runbook),
        labels=dict(t.then.labels),
        sources=[Citation(title=s.title, url=str(s.url)) for s in t.sources],
        provenance={k: ProvenanceOut(kind=v.kind, note=v.note) for k, v in t.provenance.items()},
    )


def feeds(warden: Warden) -> list[FeedOut]:
    """Every feed the config names or the store knows, with its state (as `warden feeds`)."""
    from warden.core.config import duration_text

    with warden.store.read() as conn:
        known = feed_rows.overview(conn)
    now = warden.clock()
    configured = {f.id: f for f in warden.settings.feeds}
    out = []
    for fid in [*configured, *sorted(set(known) - set(configured))]:
        cfg, row = configured.get(fid), known.get(fid)
        schedule = (
            ""
            if cfg is None
            else (f"cron {cfg.cron}" if cfg.cron else f"every {duration_text(cfg.every)}")
        )
        stale_after = cfg.stale_after if cfg else None
        silent = bool(
            row is not None
            and stale_after
            and (
                row.last_success_at is None
                or (now - row.last_success_at).total_seconds() >= stale_after
            )
        )
        if row is None or row.last_attempt_at is None:
            state = "never run"
        elif row.last_error:
            state = f"failing ({row.last_reason or 'internal_error'})" + (
                ", silent" if silent else ""
            )
        else:
            state = "silent" if silent else "ok"
        out.append(
            FeedOut(
                feed=fid,
                connector=cfg.connector if cfg else row.connector if row else "",
                schedule=schedule,
                state=state,
                stale_after=stale_after,
                last_success_at=row.last_success_at if row else None,
                last_attempt_at=row.last_attempt_at if row else None,
                observations=row.observations if row else 0,
                open_rejects=row.open_rejects if row else 0,
                failed_runs=row.failed_runs if row else 0,
                last_error=(row.last_error if row else None) or None,
            )
        )
    return out


def forecasts(warden: Warden) -> list[ForecastOut]:
    out = []
    for tid in sorted(warden.forecasts):
        d = warden.forecasts[tid].as_dict()
        out.append(
            ForecastOut(
                threshold=d["threshold"],
                benchmark=d["benchmark"],
                metric=d["metric"],
                op=d["op"],
                value=d["value"],
                stale=bool(d["stale"]),
                change=d.get("change"),
                trigger=d["trigger"],
                warning=d.get("warning"),
                fit=d["fit"],
                frontier=d["frontier"],
                details=json.loads(json.dumps(d, default=str)),
            )
        )
    return out


def verify_log(warden: Warden) -> VerifyOut:
    with warden.store.read() as conn:
        entries = list(alert_rows.entries(conn))
    broken = verify(entries)
    head = entries[-1].hash if entries else None
    if broken is None:
        return VerifyOut(ok=True, entries=len(entries), head=head)
    return VerifyOut(
        ok=False, entries=len(entries), head=head, broken_at=broken.seq, why=broken.why
    )


def add_read_routes(app: FastAPI, warden: Warden, auth: Auth) -> None:
    reader = Depends(auth.require(Role.READ))
    errors = problems(422, *AUTH_ERRORS)

    @app.get("/api/v1/triggers", response_model=TriggerPage, responses=errors, tags=["read"])
    def triggers(
        threshold: str | None = None,
        subject: str | None = None,
        kind: Annotated[str | None, Query(description=", ".join(KINDS))] = None,
        state: Annotated[
            str | None, Query(description="The state entered (firing, resolved, ...)")
        ] = None,
        since: Annotated[
            datetime | None, Query(description="RFC 3339, with an offset; inclusive")
        ] = None,
        until: Annotated[
            datetime | None, Query(description="RFC 3339, with an offset; exclusive")
        ] = None,
        cursor: Annotated[
            int | None, Query(ge=1, description="`next_cursor` of the page before")
        ] = None,
        limit: Annotated[int, Query(ge=1, le=reads.MAX_LIMIT)] = 50,
        order: Annotated[
            str, Query(pattern="^(asc|desc)$", description="desc: newest first")
        ] = "desc",
        _: Principal = reader,
    ) -> TriggerPage:
        """The trigger log, newest first, a page at a time (keyset paging on seq)."""
        for name, t in (("since", since), ("until", until)):
            if t is not None and t.tzinfo is None:
                raise UsageError(f"query.{name}: give a time with an offset (Z or +00:00)")
        where = reads.TriggerFilter(threshold, subject, kind, state, since, until)
        return trigger_page(warden, where, cursor, limit, newest_first=order == "desc")

    @app.get(
        "/api/v1/triggers/{seq}",
        response_model=TriggerDetail,
        responses=problems(404, 422, *AUTH_ERRORS),
        tags=["read"],
    )
    async def trigger(seq: int, _: Principal = reader) -> TriggerDetail:
        """One entry: its content, each observation of its evidence as logged and as stored
        (with provenance), the threshold definition at its version, deliveries, the
        acknowledgements of its episode and the silences that matched it."""
        return await run_in_threadpool(trigger_detail, warden, seq)

    @app.get(
        "/api/v1/triggers/{seq}/replay",
        response_model=ReplayOut,
        responses=problems(404, 422, *AUTH_ERRORS),
        tags=["read"],
    )
    async def replay(seq: int, _: Principal = reader) -> ReplayOut:
        """Evaluate the entry's stored evidence with the stored definition at its version:
        `reproduced`, or what differs (`warden log replay SEQ`)."""
        return replay_out(await run_in_threadpool(replay_trigger, warden, seq))

    @app.get("/api/v1/alerts", response_model=list[AlertOut], responses=errors, tags=["read"])
    def current(
        state: Annotated[
            list[str] | None,
            Query(description="default: every state but inactive and resolved"),
        ] = None,
        _: Principal = reader,
    ) -> list[AlertOut]:
        """The current alerts, with the trigger that put each in its state."""
        return alerts(warden, tuple(state) if state else ACTIVE_STATES)

    @app.get(
        "/api/v1/thresholds", response_model=list[ThresholdOut], responses=errors, tags=["read"]
    )
    def thresholds(
        domain: str | None = None, level: str | None = None, _: Principal = reader
    ) -> list[ThresholdOut]:
        """The catalog: each threshold with its version, condition, citations and the
        provenance of its numbers (the framework's own, or a proxy)."""
        return [
            threshold_out(t)
            for t in warden.catalog.thresholds
            if (domain is None or t.domain == domain) and (level is None or t.level.value == level)
        ]

    @app.get("/api/v1/feeds", response_model=list[FeedOut], responses=errors, tags=["read"])
    def feed_health(_: Principal = reader) -> list[FeedOut]:
        """Every feed and its health: ok, failing (REASON), silent, never run."""
        return feeds(warden)

    @app.get("/api/v1/forecasts", response_model=list[ForecastOut], responses=errors, tags=["read"])
    def projected(_: Principal = reader) -> list[ForecastOut]:
        """The projected frontier of every forecast threshold, as last computed."""
        return forecasts(warden)

    @app.get("/api/v1/rejects", response_model=RejectPage, responses=errors, tags=["read"])
    def rejected(
        feed: str | None = None,
        all: Annotated[bool, Query(description="resolved and dismissed ones too")] = False,
        cursor: Annotated[int | None, Query(ge=1)] = None,
        limit: Annotated[int, Query(ge=1, le=reads.MAX_LIMIT)] = 50,
        _: Principal = reader,
    ) -> RejectPage:
        """Bad input, newest first (keyset paging on id)."""
        with warden.store.read() as conn:
            page = reads.reject_page(
                conn, feed=feed, include_resolved=all, cursor=cursor, limit=limit
            )
        link = None
        if page.next_cursor is not None:
            query = {"feed": feed, "all": "true" if all else None, "limit": limit,
                     "cursor": page.next_cursor}  # fmt: skip
            link = "/api/v1/rejects?" + urlencode({k: v for k, v in query.items() if v})
        return RejectPage(
            items=[RejectOut(**r) for r in page.rows], next_cursor=page.next_cursor, next=link
        )

    @app.get("/api/v1/log/verify", response_model=VerifyOut, responses=errors, tags=["read"])
    async def verify_chain(_: Principal = reader) -> VerifyOut:
        """Recompute the trigger log's hash chain (as `warden log verify`)."""
        return await run_in_threadpool(verify_log, warden)
