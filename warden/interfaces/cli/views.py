"""What the CLI shows: the evaluations, the status, the trigger log, unmapped ids and the
thresholds, as tables for people (warden.interfaces.cli.tables draws them) or JSON and CSV for
programs. Tables show values in their unit, rounded to their significance (warden.core.display:
`83.64%`, `480 min`, `2.5e24 FLOP`); JSON and CSV keep the raw numbers."""

from __future__ import annotations

import csv
import json
import sys
from typing import TYPE_CHECKING, Any

import click

from warden.core.chain import ASSESSMENT, CATALOG, Entry
from warden.core.display import display, value_scale
from warden.evaluation.evaluate import explain
from warden.interfaces.cli.tables import paragraph, state_style, table, when
from warden.store import alerts, stats
from warden.store import leader as leader_rows
from warden.store import observations as obs_rows

if TYPE_CHECKING:
    from warden.alerting.cycle import CycleResult
    from warden.app.daemon import Warden
    from warden.catalog.thresholds import Catalog, Threshold


def evaluations(result: CycleResult, catalog: Catalog, as_json: bool) -> None:
    rows = [
        {
            "threshold": e.threshold,
            "subject": e.subject,
            "verdict": e.verdict.value,
            "value": e.value,
            "confirmations": e.confirmations,
            "reason": explain(catalog.by_id(e.threshold), e),
        }
        for e in result.evaluations
    ]
    if as_json:
        click.echo(
            json.dumps(
                {"evaluations": rows, "triggers": [s for s, _ in result.transitions]}, indent=2
            )
        )
        return
    if not rows:
        click.echo("no evidence for any threshold yet")
    else:
        click.echo(
            table(
                ["threshold", "subject", "verdict", "value", "reason"],
                [
                    [
                        r["threshold"],
                        r["subject"],
                        r["verdict"],
                        shown(catalog.by_id(e.threshold), e.value),
                        r["reason"],
                    ]
                    for r, e in zip(rows, result.evaluations, strict=True)
                ],
                wrap=["reason"],
                styles={"verdict": state_style},
            )
        )
    click.echo(f"\n{len(result.transitions)} new triggers")


def shown(t: Threshold, value: float | None) -> str:
    """An evaluation's value for a table: in the unit of what the threshold measures."""
    if value is None:
        return ""
    return display(value, value_scale(t.when.model_dump(mode="json"), t.scales))


def thresholds(catalog: Catalog, as_json: bool) -> None:
    """Every threshold: id, level, domain, scope, severity, what its trigger level rests on (a
    framework's number or a proxy chosen by the catalog) and its sources."""
    rows = [
        {
            "id": t.id,
            "title": t.title,
            "level": t.level.value,
            "domain": t.domain,
            "scope": t.scope.value,
            "severity": t.then.severity,
            "sources": [{"title": s.title, "url": str(s.url)} for s in t.sources],
            "basis": t.basis.as_dict(),
        }
        for t in catalog.thresholds
    ]
    if as_json:
        click.echo(json.dumps({"thresholds": rows}, indent=2))
        return
    shown_rows = [
        [
            *(
                (t.id, t.level.value, t.domain, t.scope.value, t.then.severity, t.basis.label)
                if n == 0
                else ("",) * 6
            ),
            source,
        ]
        for t in catalog.thresholds
        for n, source in enumerate(f"{s.title} <{s.url}>" for s in t.sources)
    ]
    headers = ["id", "level", "domain", "scope", "severity", "basis", "sources"]
    click.echo(table(headers, shown_rows, wrap=["basis", "sources"]))
    proxies = sum(t.basis.kind == "proxy" for t in catalog.thresholds)
    click.echo(
        f"\n{len(rows)} thresholds in {len(catalog.files)} catalog files; {proxies} rest on a "
        "proxy chosen by warden's catalog (`--json` gives each number's note)"
    )


def status(w: Warden, as_json: bool) -> None:
    with w.store.read() as conn:
        states = stats.states(conn)
        feeds = stats.feed_times(conn)
        outbox = stats.outbox_counts(conn)
    with w.store.read() as conn:
        seen = obs_rows.pairs_with_evidence(conn)
        epoch, leader = leader_rows.current_epoch(conn)
        replicas = leader_rows.list_replicas(conn)
    data: dict[str, Any] = {
        "states": [
            {"threshold": t, "subject": s, "state": st, "since": since.isoformat()}
            for t, s, st, since in states
        ],
        "thresholds_without_evidence": [
            t.id for t in w.catalog.thresholds if t.pairs and not seen.issuperset(t.pairs)
        ],
        "feeds": [
            {
                "feed": f,
                "last_attempt_at": a and a.isoformat(),
                "last_success_at": s and s.isoformat(),
            }
            for f, a, s in feeds
        ],
        "outbox": outbox,
        # The replicas sharing the store (PostgreSQL) and who leads, under which epoch.
        "leader": {"replica": leader, "epoch": epoch},
        "replicas": [
            {
                "replica": r.id,
                "host": r.host,
                "pid": r.pid,
                "started_at": r.started_at.isoformat(),
                "heartbeat_at": r.heartbeat_at.isoformat(),
                "role": "leader" if r.id == leader and r.leader_epoch == epoch else "follower",
            }
            for r in replicas
        ],
    }
    if as_json:
        click.echo(json.dumps(data, indent=2))
        return
    click.echo(
        table(
            ["threshold", "subject", "state", "since"],
            [[t, s, st, when(since)] for t, s, st, since in states],
            styles={"state": state_style},
        )
        if states
        else "no alert states yet"
    )
    if data["thresholds_without_evidence"]:
        unknown = ", ".join(data["thresholds_without_evidence"])
        click.echo("\n" + paragraph(f"no evidence yet (unknown): {unknown}"))
    if feeds:
        click.echo(
            "\n"
            + table(
                ["feed", "last attempt", "last success"],
                [[f, when(a), when(s)] for f, a, s in feeds],
            )
        )
    click.echo(f"\noutbox: {', '.join(f'{k} {v}' for k, v in sorted(outbox.items())) or 'empty'}")
    if replicas:
        click.echo(
            "\n"
            + table(
                ["replica", "pid", "started", "last heartbeat", "role"],
                [
                    [r["replica"], r["pid"], r["started_at"], r["heartbeat_at"], r["role"]]
                    for r in data["replicas"]
                ],
            )
        )
        click.echo(f"leader: {leader or 'none'} (epoch {epoch})")


LOG_FIELDS = [
    "seq",
    "at",
    "kind",
    "threshold",
    "subject",
    "from",
    "to",
    "value",
    "severity",
    "threshold_version",
    "hash",
    "epoch",
]


def trigger_log(w: Warden, fmt: str, threshold: str | None) -> None:
    with w.store.read() as conn:
        entries = list(alerts.entries(conn, threshold=threshold))
    if fmt == "json":
        for e in entries:
            body = {
                "kind": e.kind,
                **e.body,
                "prev_hash": e.prev_hash,
                "hash": e.hash,
                # Beside the hashed content: the leadership epoch it was written under.
                "epoch": e.epoch,
            }
            click.echo(json.dumps(body, sort_keys=True))
        return
    if fmt == "csv":
        from warden.core.csvcells import cell

        writer = csv.writer(sys.stdout)
        writer.writerow(LOG_FIELDS)
        for e in entries:
            b = e.body
            row = [
                e.seq,
                e.at.isoformat(),
                e.kind,
                e.threshold,
                e.subject,
                e.from_state,
                e.to_state,
                b.get("value"),
                b.get("severity"),
                e.threshold_version,
                e.hash,
                e.epoch,
            ]
            # Model names are free text: none may start a spreadsheet formula (OWASP).
            writer.writerow([cell(v) for v in row])
        return
    if not entries:
        click.echo("the trigger log is empty")
        return
    headers = ["seq", "at", "threshold", "subject", "transition", "value", "severity"]
    rows = [_row(e) for e in entries]
    # Several replicas (PostgreSQL): which leadership epoch wrote each entry. A SQLite store
    # has none to show.
    if any(e.epoch is not None for e in entries):
        headers.append("epoch")
        epochs = ["" if e.epoch is None else e.epoch for e in entries]
        rows = [[*r, epoch] for r, epoch in zip(rows, epochs, strict=True)]
    styles = {"transition": state_style}
    click.echo(table(headers, rows, wrap=["transition", "value"], styles=styles))


def _row(e: Entry) -> list[object]:
    b = e.body
    if e.kind == CATALOG:
        change = f"+{len(b['added'])} ~{len(b['changed'])} -{len(b['removed'])} thresholds"
        return [e.seq, when(e.at), "(catalog)", "", change, "", ""]
    if e.kind in ("ack", "silence", "delivery"):
        what = str(b.get("action", e.kind))
        detail = b.get("note") or b.get("comment") or b.get("error") or ""
        who = b.get("actor", "")
        target = e.threshold or (f"trigger {b['trigger']}" if "trigger" in b else "")
        if "silence" in b:
            target = f"silence {b['silence']}"
        return [
            e.seq,
            when(e.at),
            f"({e.kind})",
            e.subject or target,
            f"{what} by {who}",
            detail,
            "",
        ]
    if e.kind == ASSESSMENT:
        what = f"assessed by {b['by']} ({b['assessed_at'][:10]})"
        compute = "" if b.get("compute") is None else display(b["compute"], "flop")
        return [e.seq, when(e.at), "(assessment)", e.subject, what, compute, ""]
    value = b.get("value")
    return [
        e.seq,
        when(e.at),
        e.threshold,
        e.subject,
        f"{e.from_state} -> {e.to_state}",
        _logged(value, b),
        b.get("severity"),
    ]


def _logged(value: object, b: dict[str, object]) -> str:
    """A trigger's value for the log table, in its unit (the scales the entry recorded)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return ""
    return display(value, value_scale(b.get("condition"), b.get("scales")))


def unmapped(w: Warden, as_json: bool) -> None:
    with w.store.read() as conn:
        rows = obs_rows.unmapped(conn)
    data = [
        {
            "kind": kind,
            "id": raw,
            "feed": feed,
            "observations": n,
            "first_ingested_at": first.isoformat(),
            "last_ingested_at": last.isoformat(),
        }
        for kind, raw, feed, n, first, last in rows
    ]
    if as_json:
        click.echo(json.dumps(data, indent=2))
    elif not data:
        click.echo("every benchmark and model id is in the registry")
    else:
        click.echo(
            table(
                ["kind", "id", "feed", "observations", "last ingested"],
                [[kind, raw, feed, n, when(last)] for kind, raw, feed, n, _, last in rows],
            )
        )
