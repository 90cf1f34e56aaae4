"""`warden declarations candidates|confirm|reject`: the declaration sentences the `system_cards`
connector found, for a person to confirm (they count from then on) or reject (not listed again).

A candidate is an observation of the `declaration_candidate` benchmark, which no threshold may
read. Confirming one writes a real observation of the `declaration` benchmark (what the
`declarations` connector writes: `measured_by: vendor`, the quote and source URL, plus
`confirmed_by`, `candidate`, `verified: true` and `verification`) through the same ingest path as
a push, under the feed `declarations-review`, and evaluates the thresholds it touches at once.
Rejecting one writes a `declaration_candidate` observation of that feed with `review: rejected`,
so the decision is kept in the store (who, when, why) without a table of its own. Both are keyed
by the candidate (`confirmed` or `rejected` + its key), so doing either twice adds nothing.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, ClassVar, NamedTuple

import click

from warden.interfaces.cli.common import Context, config_option, pass_ctx, user_errors

if TYPE_CHECKING:
    from warden.app.daemon import Warden
    from warden.core.model import Observation, Payload, StoredObservation
    from warden.ingest.connector import Cursor
    from warden.ingest.feedrun import IngestResult

REVIEW_FEED = "declarations-review"  # the feed confirmations and rejections are stored under
QUOTE_SHOWN = 90


@dataclass(frozen=True)
class Review:
    verdict: str  # confirmed | rejected
    by: str
    at: datetime
    what: str  # the declaration written, or the note


@dataclass(frozen=True)
class Candidate:
    id: int  # the first stored row of its key
    row: StoredObservation
    review: Review | None

    @property
    def a(self) -> Mapping[str, Any]:
        return self.row.attributes

    @property
    def model(self) -> str | None:
        return self.row.subject if self.a.get("model_named", True) else None

    @property
    def target(self) -> str:
        a = self.a
        return f"{a.get('framework')} / {a.get('level')} / {a.get('domain') or '?'}"


def load_candidates(w: Warden) -> list[Candidate]:
    """Every candidate in the store, oldest first, with its review when it has one."""
    from warden.core.declarations import CANDIDATE, DECLARATION
    from warden.store import observations as obs_rows

    with w.store.read() as conn:
        pairs = [p for p in obs_rows.pairs_with_evidence(conn) if p[0] in (CANDIDATE, DECLARATION)]
        rows = [o for series in obs_rows.history(conn, pairs).values() for o in series]
    reviews: dict[str, Review] = {}
    found: dict[str, StoredObservation] = {}
    for o in sorted(rows, key=lambda r: r.id):
        a = o.attributes
        if o.feed == REVIEW_FEED and isinstance(a.get("candidate"), str):
            if o.benchmark == DECLARATION:
                what = f"{o.subject} {o.metric} {a.get('status')} ({o.observed_at.date()})"
                by = a.get("confirmed_by", "?")
                reviews[a["candidate"]] = Review("confirmed", by, _reviewed_at(o), what)
            elif a.get("review") == "rejected":
                by, note = a.get("rejected_by", "?"), a.get("note", "")
                review = Review("rejected", by, _reviewed_at(o), note)
                reviews.setdefault(a["candidate"], review)
        elif o.benchmark == CANDIDATE and o.feed != REVIEW_FEED:
            found.setdefault(o.key, o)
    return sorted(
        (Candidate(o.id, o, reviews.get(o.key)) for o in found.values()), key=lambda c: c.id
    )


def _reviewed_at(o: StoredObservation) -> datetime:
    """When the person decided (`reviewed_at`, written by confirm and reject)."""
    try:
        return datetime.fromisoformat(str(o.attributes.get("reviewed_at")))
    except ValueError:
        return o.ingested_at or o.observed_at


def find(w: Warden, candidate_id: int, by: str | None = None) -> Candidate:
    """Candidate `candidate_id`, for a person named `by` (not blank) to decide on."""
    from warden.core.errors import NotFound, UsageError

    if by is not None and not by.strip():
        raise UsageError("--by: give who decides (a person or team)")
    for c in load_candidates(w):
        if c.id == candidate_id:
            return c
    raise NotFound(
        f"candidate {candidate_id}: no such candidate declaration "
        "(`warden declarations candidates --all` lists them)"
    )


@click.group()
def declarations() -> None:
    """Lab declarations found in system cards (the `system_cards` connector): list the
    candidates, confirm them (they count from then on) or reject them."""


@declarations.command("candidates")
@click.option("--all", "show_all", is_flag=True, help="Include confirmed and rejected ones.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON lines instead of a table.")
@config_option
@pass_ctx
@user_errors
def candidates(ctx: Context, show_all: bool, as_json: bool) -> None:
    """Candidate declarations waiting for a person: id, model, framework / level / domain,
    proposed status, date, source and the quoted sentence (shortened; --json gives it whole).

    A candidate counts only once confirmed (`warden declarations confirm ID --by NAME`);
    `warden declarations reject ID --by NAME` takes it off this list."""
    from warden.interfaces.cli import tables

    w = ctx.warden()
    try:
        found = [c for c in load_candidates(w) if show_all or c.review is None]
    finally:
        w.close()
    if as_json:
        for c in found:
            line = {
                "id": c.id,
                "model": c.model,
                **{k: c.a.get(k) for k in ("organisation", "framework", "level", "domain")},
                "proposed_status": c.a.get("status"),
                "date": c.row.observed_at.date().isoformat(),
                "source": c.row.source,
                "source_url": c.a.get("source_url"),
                "record": c.a.get("record"),
                "quote": c.a.get("quote"),
                "review": None if c.review is None else _review_json(c.review),
            }
            click.echo(json.dumps(line))
        return
    if not found:
        click.echo("no candidate declarations waiting" if not show_all else "no candidates")
        return
    headers = ["id", "model", "framework / level / domain", "status", "date", "source", "quote"]
    if show_all:
        headers.append("review")
    rows = []
    for c in found:
        quote = str(c.a.get("quote", ""))
        short = quote if len(quote) <= QUOTE_SHOWN else quote[: QUOTE_SHOWN - 3] + "..."
        row = [
            c.id,
            c.model or "(give --model)",
            c.target,
            c.a.get("status"),
            c.row.observed_at.date().isoformat(),
            f"{c.row.source} ({c.a.get('record')})",
            short,
        ]
        if show_all:
            row.append("" if c.review is None else f"{c.review.verdict} by {c.review.by}")
        rows.append(row)
    click.echo(tables.table(headers, rows, wrap=["source", "quote", "review"]))


@declarations.command("confirm")
@click.argument("candidate_id", metavar="ID", type=int)
@click.option("--by", required=True, help="Who confirms it (a person or team).")
@click.option("--model", help="The model it is about (required when the candidate names none).")
@click.option("--status", help="crossed, could_not_rule_out, early_warning_reached or below.")
@click.option("--level", help="The framework's level, if the proposed one is wrong (ASL-3).")
@click.option("--domain", help="The domain (required when the candidate names none): CBRN, ...")
@click.option("--date", "day", help="When the lab said it (YYYY-MM-DD; default the candidate's).")
@click.option("--source-url", help="Where the lab published it (required for a local file).")
@click.option("--note", default="", help="Why, or what was checked.")
@config_option
@pass_ctx
@user_errors
def confirm(
    ctx: Context,
    candidate_id: int,
    by: str,
    model: str | None,
    status: str | None,
    level: str | None,
    domain: str | None,
    day: str | None,
    source_url: str | None,
    note: str,
) -> None:
    """Confirm candidate ID (from `warden declarations candidates`): write it as a declaration,
    which thresholds on declarations (`when: {declared: ...}`) read from then on, and evaluate
    them now. Options correct what the sentence did not say or the connector got wrong;
    confirming a confirmed candidate again changes nothing and says so."""
    from warden.core.errors import Conflict, UsageError

    w = ctx.warden()
    try:
        c = find(w, candidate_id, by)
        if c.review is not None and c.review.verdict == "confirmed":
            click.echo(
                f"candidate {c.id} was already confirmed by {c.review.by} on "
                f"{c.review.at.date()} as {c.review.what}: nothing changed"
            )
            return
        if c.review is not None:
            raise Conflict(f"candidate {c.id} was rejected by {c.review.by}: not confirmed")
        fixes = Corrections(model, status, level, domain, day, source_url, note)
        declaration = _declaration(c, by, fixes, now=w.clock())
        result = _store(w, declaration, c)
        if result.rejections:
            raise UsageError(f"candidate {c.id}: {result.rejections[0].message}")
    finally:
        w.close()
    a = declaration.attributes
    verb = "confirmed" if result.ingested else "was already confirmed"
    click.echo(
        f"candidate {c.id} {verb} by {by}: {declaration.subject} declared {a['status']} for "
        f"{a['framework']} {a['level']} ({a['domain']}) on {declaration.observed_at.date()}"
    )


@declarations.command("reject")
@click.argument("candidate_id", metavar="ID", type=int)
@click.option("--by", required=True, help="Who rejects it (a person or team).")
@click.option("--note", default="", help="Why (not a declaration, wrong document, ...).")
@config_option
@pass_ctx
@user_errors
def reject(ctx: Context, candidate_id: int, by: str, note: str) -> None:
    """Reject candidate ID: it is not a declaration (or not one to count). Kept in the store
    with who and why, and no longer listed by `warden declarations candidates`."""
    from warden.core.errors import Conflict
    from warden.ingest.connector import content_key

    w = ctx.warden()
    try:
        c = find(w, candidate_id, by)
        if c.review is not None and c.review.verdict == "confirmed":
            raise Conflict(
                f"candidate {c.id} was confirmed by {c.review.by} as {c.review.what}: a "
                "confirmed declaration is not rejected afterwards"
            )
        if c.review is not None:
            click.echo(f"candidate {c.id} was already rejected by {c.review.by}: nothing changed")
            return
        attributes = {
            **c.a,
            "review": "rejected",
            "candidate": c.row.key,
            "candidate_id": c.id,
            "rejected_by": by,
            "reviewed_at": w.clock().isoformat(),
            "note": note,
        }
        record = _observation(c.row, key=content_key("rejected", c.row.key), attributes=attributes)
        _store(w, record, c)
    finally:
        w.close()
    click.echo(f"candidate {c.id} rejected by {by}")


def _review_json(review: Review) -> dict[str, str]:
    return {
        "verdict": review.verdict,
        "by": review.by,
        "at": review.at.isoformat(),
        "what": review.what,
    }


class Corrections(NamedTuple):
    """What the person confirming a candidate gives or corrects (`confirm`'s options)."""

    model: str | None
    status: str | None
    level: str | None
    domain: str | None
    day: str | None
    source_url: str | None
    note: str


def _declaration(c: Candidate, by: str, fixes: Corrections, *, now: datetime) -> Observation:
    """The declaration candidate `c` stands for, with the person's corrections."""
    from warden.core.declarations import DECLARATION, STATUSES, declaration_metric, status_value
    from warden.core.errors import UsageError
    from warden.ingest.connector import content_key
    from warden.interfaces.cli.common import parse_time

    a = c.a
    model, status, level, domain, day, source_url, note = fixes
    model = model or c.model
    if not model:
        raise UsageError(
            f"candidate {c.id} names no model ({a.get('record')} of {c.row.source}): give "
            "--model MODEL"
        )
    try:
        status = STATUSES[status_value(status or str(a.get("status")))]
    except ValueError as exc:
        raise UsageError(f"--status: {exc}") from exc
    level = level or a.get("level")
    domain = domain or a.get("domain")
    if not domain:
        raise UsageError(f"candidate {c.id} names no domain: give --domain (CBRN, cyber, ...)")
    url = source_url or a.get("source_url")
    if not url or not str(url).startswith(("http://", "https://")):
        raise UsageError(
            f"candidate {c.id} was read from {c.row.source}, which is not a web address: give "
            "--source-url URL (where the lab published it)"
        )
    when = parse_time(day, "--date") if day else c.row.observed_at
    assert when is not None
    when = datetime(when.year, when.month, when.day, tzinfo=UTC)
    framework = str(a.get("framework"))
    attributes: dict[str, Any] = {
        "measured_by": "vendor",
        "vendor_reported": True,
        "timestamp_kind": "declared",
        "record": a.get("record"),
        "organisation": a.get("organisation"),
        "framework": framework,
        "level": level,
        "domain": domain,
        "status": status,
        "quote": a.get("quote"),
        "source_url": url,
        "verified": True,
        "verification": (
            f"confirmed by {by} from candidate {c.id} ({a.get('record')} of {c.row.source})"
            + (f": {note}" if note else "")
        ),
        "confirmed_by": by,
        "reviewed_at": now.isoformat(),
        "candidate": c.row.key,
        "candidate_id": c.id,
        "proposed_status": a.get("status"),
    }
    return _observation(
        c.row,
        subject=model,
        benchmark=DECLARATION,
        metric=declaration_metric(framework, str(level), str(domain)),
        value=float(status_value(status)),
        observed_at=when,
        key=content_key("confirmed", c.row.key),
        attributes=attributes,
    )


def _observation(row: StoredObservation, **changes: Any) -> Observation:
    from warden.core.model import Observation

    base = Observation(
        subject=row.subject,
        benchmark=row.benchmark,
        metric=row.metric,
        value=row.value,
        observed_at=row.observed_at,
        key=row.key,
        source=row.source,
        content_hash=row.content_hash,
        attributes=dict(row.attributes),
    )
    return replace(base, **changes)


class _Reviewed:
    """A person's decision arrives as a payload, like a push: nothing to fetch, one prepared
    observation to store, through the same checks and normalisation as any feed's."""

    name: ClassVar[str] = REVIEW_FEED

    def __init__(self, observations: Sequence[Observation]) -> None:
        self.observations = list(observations)

    def fetch(self, cursor: Cursor) -> Iterator[Payload]:
        return iter(())

    def parse(self, payload: Payload) -> list[Observation]:
        return [replace(o, content_hash=payload.content_hash) for o in self.observations]


def _store(w: Warden, o: Observation, c: Candidate) -> IngestResult:
    """Store `o` under the review feed and evaluate the thresholds it touches."""
    from warden.core.model import Payload
    from warden.ingest.connector import sha256

    body = json.dumps({"candidate": c.row.key, "key": o.key, **o.attributes}, sort_keys=True)
    data = body.encode()
    payload = Payload(c.row.source, data, sha256(data), fetched_at=w.clock())
    return w.ingest_payload(REVIEW_FEED, _Reviewed([o]), payload)


def register(main: click.Group) -> None:
    main.add_command(declarations)
