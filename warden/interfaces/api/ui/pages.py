"""The web view's pages (GET, a `read` token's session or `public_read`): the overview, the
trigger log, one trigger, the catalog, the forecasts and the feeds. Each reads through the
functions the read API answers with (warden.interfaces.api.reads, warden.store.reads).
"""

from __future__ import annotations

import json
from collections import defaultdict
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import Response

from warden.core.chain import GENESIS, TRANSITION, chain_hash
from warden.core.errors import UsageError
from warden.interfaces.api import reads as answers
from warden.interfaces.api.ui import present
from warden.interfaces.api.ui.plot import svg
from warden.interfaces.api.ui.sessions import Visitor
from warden.interfaces.api.ui.web import Page, Web
from warden.store import reads

if TYPE_CHECKING:
    from warden.interfaces.api.schemas import AlertOut

SEVERITY_ORDER = {"critical": 0, "warning": 1, "info": 2}
LOUD = ("firing", "warning")
STATES = ("pending", "warning", "firing", "resolved", "nodata", "error", "inactive")
PAGE_SIZE = 50


def add_pages(r: APIRouter, web: Web) -> None:
    warden = web.warden

    @r.get("/", include_in_schema=False)
    async def overview(request: Request) -> Response:
        def build(_: Visitor) -> Page:
            current = answers.alerts(warden)
            loud = [a for a in current if a.state in LOUD]
            by_domain: dict[str, list[AlertOut]] = defaultdict(list)
            for a in sorted(loud, key=_loudness):
                by_domain[a.domain or "unknown"].append(a)
            counts = {
                (sev, state): sum(1 for a in loud if a.severity == sev and a.state == state)
                for sev in SEVERITY_ORDER
                for state in LOUD
            }
            quiet = [a for a in current if a.state not in LOUD]
            troubled = [f for f in answers.feeds(warden) if f.state != "ok"]
            return "overview.html", {
                "by_domain": dict(sorted(by_domain.items())),
                "counts": counts,
                "severities": list(SEVERITY_ORDER),
                "quiet": quiet,
                "troubled": troubled,
                "chain": _chain(web),
            }

        return await web.serve(request, build)

    @r.get("/triggers", include_in_schema=False)
    async def trigger_log(request: Request) -> Response:
        q = request.query_params

        def build(_: Visitor) -> Page:
            given = {k: (q.get(k) or "").strip() for k in FILTERS}
            times = {
                k: present.parse_time(given[k], k) if given[k] else None for k in ("since", "until")
            }
            cursor = _int(q.get("cursor"), "cursor")
            limit = min(_int(q.get("limit"), "limit") or PAGE_SIZE, reads.MAX_LIMIT)
            where = reads.TriggerFilter(
                given["threshold"] or None,
                given["subject"] or None,
                given["kind"] or None,
                given["state"] or None,
                times["since"],
                times["until"],
            )
            with warden.store.read() as conn:
                page = reads.trigger_page(conn, where, cursor=cursor, limit=limit)
                search = _search(warden, conn, given["q"]) if given["q"] else None
            kept: dict[str, Any] = {k: v for k, v in given.items() if v and k != "q"}
            if limit != PAGE_SIZE:
                kept["limit"] = limit
            older = None
            if page.next_cursor is not None:
                older = "/ui/triggers?" + urlencode({**kept, "cursor": page.next_cursor})
            export: dict[str, Any] = {
                k: kept[k] for k in ("threshold", "kind", "since", "until") if k in kept
            }
            return "triggers.html", {
                "rows": [present.row(e) for e in page.entries],
                "given": given,
                "first": "/ui/triggers?" + urlencode(kept) if cursor else None,
                "older": older,
                "kinds": answers.KINDS,
                "states": STATES,
                "thresholds": sorted(t.id for t in warden.catalog.thresholds),
                "search": search,
                "export": "/ui/export?" + urlencode(export),
                "signed": warden.settings.checkpoint_key is not None,
            }

        return await web.serve(request, build)

    @r.get("/triggers/{seq}", include_in_schema=False)
    async def trigger(request: Request, seq: int) -> Response:
        return await web.serve(request, lambda v: trigger_page(web, v, request, seq, False))

    @r.get("/triggers/{seq}/replay", include_in_schema=False)
    async def replay(request: Request, seq: int) -> Response:
        return await web.serve(request, lambda v: trigger_page(web, v, request, seq, True))

    @r.get("/catalog", include_in_schema=False)
    async def catalog(request: Request) -> Response:
        def build(_: Visitor) -> Page:
            domains: dict[str, list[present.CatalogItem]] = defaultdict(list)
            for t in warden.catalog.thresholds:
                domains[t.domain].append(present.catalog_item(t))
            return "catalog.html", {"domains": dict(sorted(domains.items()))}

        return await web.serve(request, build)

    @r.get("/forecasts", include_in_schema=False)
    async def forecasts(request: Request) -> Response:
        def build(_: Visitor) -> Page:
            now = warden.clock()
            shown = []
            for tid in sorted(warden.forecasts):
                f = warden.forecasts[tid]
                shown.append(
                    {
                        "f": f,
                        "plot": svg(f, now, f.trigger.within_days),
                        "trigger": present.projection_text(f.trigger),
                        "warning": None
                        if f.warning is None
                        else present.projection_text(f.warning),
                        "scale": f.frontier.scale,
                    }
                )
            return "forecasts.html", {"forecasts": shown, "now": now}

        return await web.serve(request, build)

    @r.get("/feeds", include_in_schema=False)
    async def feeds(request: Request) -> Response:
        return await web.serve(request, lambda _: ("feeds.html", {"feeds": answers.feeds(warden)}))


FILTERS = ("threshold", "subject", "kind", "state", "since", "until", "q")


def trigger_page(web: Web, visitor: Visitor, request: Request, seq: int, replay: bool) -> Page:
    warden = web.warden
    detail = answers.trigger_detail(warden, seq)
    e = detail.entry
    with warden.store.read() as conn:
        raw = reads.entry(conn, seq)
        before = reads.entry(conn, seq - 1) if seq > 1 else None
    assert raw is not None  # trigger_detail found it
    linked = (before.hash if before else GENESIS) == raw.prev_hash
    hashed = chain_hash(raw.prev_hash, raw.content) == raw.hash
    alert = current = None
    if e.kind == TRANSITION:
        alert = present.alert_of(e.seq, e.hash, detail.content)
        current = next(
            (
                a
                for a in answers.alerts(warden, tuple(STATES))
                if a.threshold == e.threshold and a.subject == e.subject
            ),
            None,
        )
    definition = detail.threshold.definition if detail.threshold else None
    worded = alert.evidence if alert and len(alert.evidence) == len(detail.evidence) else ()
    done = request.query_params.get("done")
    return "trigger.html", {
        "d": detail,
        "e": e,
        "alert": alert,
        "decision": present.decision(alert)
        if alert
        else present.action_sentence(detail.content, raw),
        "current": current,
        "latest": current is not None and current.last_trigger == e.seq,
        "rule": present.rule_facts(definition),
        "evidence": list(
            zip(detail.evidence, worded or [None] * len(detail.evidence), strict=True)
        ),
        "definition_text": None if definition is None else json.dumps(definition, indent=2),
        "content_text": json.dumps(detail.content, indent=2, sort_keys=True),
        "entry_ok": linked and hashed,
        "entry_checks": {"hash": hashed, "link": linked},
        "chain": _chain(web),
        "replay": answers.replay_trigger(warden, seq) if replay else None,
        "done": done,
        "shared": visitor.principal.shared,
    }


def _chain(web: Web) -> dict[str, Any]:
    """The daemon's last verification of the whole hash chain (`verify_every`)."""
    checked = web.warden.metrics.registry.get_sample_value(
        "warden_trigger_log_last_verification_timestamp_seconds"
    )
    broken = web.warden.log_break
    return {
        "checked": bool(checked),
        "at": None if not checked else _from_unix(checked),
        "ok": broken is None,
        "broken_at": broken.seq if broken else None,
        "why": broken.why if broken else None,
    }


def _from_unix(t: float) -> Any:
    from datetime import UTC, datetime

    return datetime.fromtimestamp(t, UTC)


def _loudness(a: AlertOut) -> tuple[int, int, str, str]:
    return (
        0 if a.state == "firing" else 1,
        SEVERITY_ORDER.get(a.severity or "", 3),
        a.threshold,
        a.subject,
    )


def _int(text: str | None, field: str) -> int | None:
    if not text:
        return None
    if not text.isdigit() or int(text) < 1:
        raise UsageError(f"{field}: {text!r} is not a whole number above 0")
    return int(text)


def _search(warden: Any, conn: Any, q: str) -> dict[str, Any]:
    """What `q` names: an entry by its number, thresholds by id or title, subjects of the
    alerts; each a link to the log filtered on it (no scan of the log itself)."""
    needle = q.lower()
    entry = int(q) if q.isdigit() and reads.entry(conn, int(q)) is not None else None
    thresholds = [
        (t.id, t.title)
        for t in warden.catalog.thresholds
        if needle in t.id.lower() or needle in t.title.lower()
    ]
    subjects = sorted(
        {a.subject for a in reads.current_alerts(conn, STATES) if needle in a.subject.lower()}
    )
    return {"entry": entry, "thresholds": thresholds[:50], "subjects": subjects[:50]}
