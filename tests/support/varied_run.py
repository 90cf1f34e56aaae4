"""A varied run of a real daemon (`Warden`) on any store: several thresholds (a confidence
bound, `for: 2`, a frontier, a combination, `stale_after` with `clear_at`), observations arriving
over several evaluations with an injected clock, early warnings, firing, pending, resolving,
nodata, a catalog change mid-run (a new version), an acknowledgement and a silence.

`run(folder, database_url)` returns the daemon (open: the caller closes it) and its clock.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from warden.alerting.actions import acknowledge, add_silence
from warden.app.daemon import Warden
from warden.app.settings import Settings, TokenSettings
from warden.core.matchers import Matchers
from warden.core.model import Observation
from warden.store import observations as obs_rows

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
HEAD = """
benchmarks:
  - {id: ctf, title: CTF, metrics: {acc: {}}}
  - {id: auto, title: Autonomy, metrics: {hours: {scale: hours}}}
thresholds:
  - id: lab.ctf.high
    title: Most CTF challenges solved
    domain: cyber
    level: high
    sources: [{title: Framework, url: "https://example.org/framework"}]
    when: {benchmark: ctf, metric: acc, op: ">=", value: 0.5}
    warn_at: WARN
    confidence: 0.9
    provenance: {when.value: {kind: proxy, note: "half of the challenges, our reading"}}
    then: {severity: warning, mitigations: [Brief the board.]}
  - id: lab.ctf.twice
    title: CTF twice in a row
    domain: cyber
    level: high
    sources: [{title: Framework, url: "https://example.org/framework"}]
    when: {benchmark: ctf, metric: acc, op: ">=", value: 0.6}
    for: 2
    then: {severity: warning}
  - id: lab.ctf.frontier
    title: The frontier solves most CTF challenges
    domain: cyber
    level: early_warning
    scope: frontier
    sources: [{title: Framework, url: "https://example.org/framework"}]
    when: {benchmark: ctf, metric: acc, op: ">=", value: 0.7}
    warn_at: 0.5
    then: {severity: info}
  - id: lab.combo.all
    title: CTF and autonomy together
    domain: cyber
    level: critical
    sources: [{title: Framework, url: "https://example.org/framework"}]
    when:
      all:
        - {benchmark: ctf, metric: acc, op: ">=", value: 0.5, warn_at: 0.4}
        - {benchmark: auto, metric: hours, op: ">=", value: 8}
    then: {severity: critical, mitigations: [Stop training.]}
  - id: lab.auto.stale
    title: Long autonomous tasks
    domain: autonomy
    level: high
    sources: [{title: Framework, url: "https://example.org/framework"}]
    when: {benchmark: auto, metric: hours, op: ">=", value: 4}
    clear_at: 3
    stale_after: 86400
    then: {severity: warning}
"""
READ_TOKEN = "read-token-0123456789"
WRITE_TOKEN = "write-token-0123456789"
ADMIN_TOKEN = "admin-token-0123456789"


def sha(token: str) -> str:
    import hashlib

    return hashlib.sha256(token.encode()).hexdigest()


def tokens() -> list[TokenSettings]:
    return [
        TokenSettings(name="reader", role="read", sha256=sha(READ_TOKEN)),
        TokenSettings(name="alice", role="write", sha256=sha(WRITE_TOKEN)),
        TokenSettings(name="root", role="admin", sha256=sha(ADMIN_TOKEN)),
    ]


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def _obs(
    subject: str, bench: str, metric: str, value: float, at: datetime, **kw: object
) -> Observation:
    key = f"{subject}:{bench}:{metric}:{value}:{at.isoformat()}"
    return Observation(
        subject,
        bench,
        metric,
        value,
        at,
        key,
        f"https://evals.example.org/{subject}/{bench}.json",
        "cd" * 32,
        attributes={"org": "acme", "vendor_reported": False},
        **kw,  # type: ignore[arg-type]
    )


def run(folder: Path, database_url: str, *, public_read: bool = False) -> tuple[Warden, Clock]:
    catalog = folder / "catalog.yaml"
    catalog.write_text(HEAD.replace("WARN", "0.4"))
    settings = Settings(
        database_url=database_url,
        catalog=[str(catalog)],
        http={"tokens": tokens(), "public_read": public_read},
        sinks=[{"id": "log", "type": "log"}],
    )
    clock = Clock(T0)
    w = Warden(settings, clock=clock)
    w.note_catalog()

    def put(*items: Observation) -> None:
        with w.store.write() as conn:
            obs_rows.insert_observations(conn, "lab", list(items), clock())
        w.evaluate()

    # m1 in the early-warning band, m2 over everything; autonomy for m2.
    put(
        _obs("acme/m1", "ctf", "acc", 0.45, T0, stderr=0.01, n=300),
        _obs("acme/m2", "ctf", "acc", 0.8, T0, stderr=0.02, n=300),
        _obs("acme/m2", "auto", "hours", 9.0, T0, stderr=1.0, n=40),
    )
    acknowledge(w.store, "lab.ctf.high", "acme/m2", "alice", "on it", clock())
    add_silence(
        w.store,
        Matchers(match={"subject": "acme/m2"}),
        clock(),
        clock() + timedelta(days=30),
        "alice",
        "drill",
        clock(),
    )
    clock.now += timedelta(hours=1)
    # m2 again (for: 2 fires); m1 falls back to ok (resolved).
    put(
        _obs("acme/m2", "ctf", "acc", 0.85, clock.now, stderr=0.02, n=300),
        _obs("acme/m1", "ctf", "acc", 0.3, clock.now, stderr=0.01, n=300),
    )
    # The catalog changes: a new version of lab.ctf.high (warn_at 0.35).
    clock.now += timedelta(hours=1)
    catalog.write_text(HEAD.replace("WARN", "0.35"))
    assert w.reload_catalog()
    put(_obs("acme/m3", "ctf", "acc", 0.36, clock.now, stderr=0.01, n=300))
    # Two days on: autonomy evidence is stale (nodata); m2 drops (everything resolves).
    clock.now += timedelta(days=2)
    put(_obs("acme/m2", "ctf", "acc", 0.2, clock.now, stderr=0.02, n=300))
    return w, clock
