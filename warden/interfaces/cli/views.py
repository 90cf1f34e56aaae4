"""How the CLI shows things: tables for people, JSON and CSV for programs."""

from __future__ import annotations

import csv
import json
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import click

from warden.core.chain import ASSESSMENT, CATALOG, Entry
from warden.evaluation.evaluate import explain
from warden.store import alerts, stats
from warden.store import observations as obs_rows

if TYPE_CHECKING:
    from warden.alerting.cycle import CycleResult
    from warden.app.daemon import Warden
    from warden.catalog.thresholds import Catalog


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    cells = [[str(h) for h in headers]] + [["" if c is None else str(c) for c in r] for r in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    lines = [
        "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in cells
    ]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


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
                        "" if r["value"] is None else f"{r['value']:g}",
                        r["reason"],
                    ]
                    for r in rows
                ],
            )
        )
    click.echo(f"\n{len(result.transitions)} new triggers")


def status(w: Warden, as_json: bool) -> None:
    with w.store.read() as conn:
        states = stats.states(conn)
        feeds = stats.feed_times(conn)
        outbox = stats.outbox_counts(conn)
    with w.store.read() as conn:
        seen = obs_rows.pairs_with_evidence(conn)
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
    }
    if as_json:
        click.echo(json.dumps(data, indent=2))
        return
    click.echo(
        table(
            ["threshold", "subject", "state", "since"],
            [[r["threshold"], r["subject"], r["state"], r["since"]] for r in data["states"]],
        )
        if states
        else "no alert states yet"
    )
    if data["thresholds_without_evidence"]:
        click.echo(f"\nno evidence yet (unknown): {', '.join(data['thresholds_without_evidence'])}")
    if feeds:
        click.echo(
            "\n"
            + table(
                ["feed", "last attempt", "last success"],
                [[f["feed"], f["last_attempt_at"], f["last_success_at"]] for f in data["feeds"]],
            )
        )
    click.echo(f"\noutbox: {', '.join(f'{k} {v}' for k, v in sorted(outbox.items())) or 'empty'}")


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
]


def trigger_log(w: Warden, fmt: str, threshold: str | None) -> None:
    with w.store.read() as conn:
        entries = list(alerts.entries(conn, threshold=threshold))
    if fmt == "json":
        for e in entries:
            body = {"kind": e.kind, **e.body, "prev_hash": e.prev_hash, "hash": e.hash}
            click.echo(json.dumps(body, sort_keys=True))
        return
    if fmt == "csv":
        writer = csv.writer(sys.stdout)
        writer.writerow(LOG_FIELDS)
        for e in entries:
            b = e.body
            writer.writerow(
                [
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
                ]
            )
        return
    if not entries:
        click.echo("the trigger log is empty")
        return
    click.echo(
        table(
            ["seq", "at", "threshold", "subject", "transition", "value", "severity"],
            [_row(e) for e in entries],
        )
    )


def _row(e: Entry) -> list[object]:
    b = e.body
    if e.kind == CATALOG:
        change = f"+{len(b['added'])} ~{len(b['changed'])} -{len(b['removed'])} thresholds"
        return [e.seq, e.at.isoformat(), "(catalog)", "", change, "", ""]
    if e.kind in ("ack", "silence", "delivery"):
        what = str(b.get("action", e.kind))
        detail = b.get("note") or b.get("comment") or b.get("error") or ""
        who = b.get("actor", "")
        target = e.threshold or (f"trigger {b['trigger']}" if "trigger" in b else "")
        if "silence" in b:
            target = f"silence {b['silence']}"
        return [
            e.seq,
            e.at.isoformat(),
            f"({e.kind})",
            e.subject or target,
            f"{what} by {who}",
            detail,
            "",
        ]
    if e.kind == ASSESSMENT:
        what = f"assessed by {b['by']} ({b['assessed_at'][:10]})"
        compute = "" if b.get("compute") is None else f"{b['compute']:g} FLOP"
        return [e.seq, e.at.isoformat(), "(assessment)", e.subject, what, compute, ""]
    value = b.get("value")
    return [
        e.seq,
        e.at.isoformat(),
        e.threshold,
        e.subject,
        f"{e.from_state} -> {e.to_state}",
        "" if value is None else f"{value:g}",
        b.get("severity"),
    ]


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
                [
                    [d["kind"], d["id"], d["feed"], d["observations"], d["last_ingested_at"]]
                    for d in data
                ],
            )
        )
