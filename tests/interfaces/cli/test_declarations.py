"""`warden declarations candidates|confirm|reject` on a real SQLite store: a system card read by
a configured `system_cards` feed gives candidates, which no threshold reads until a person
confirms one; the bundled `declarations.anthropic_rsp.asl_3_cbrn.declared` threshold breaches
only after that. The main path runs the real `warden` command in subprocesses."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import select

from warden.interfaces.cli.main import main
from warden.store import Store
from warden.store.schema import observations

DATA = Path(__file__).resolve().parents[2] / "connectors" / "data" / "system_cards"
THRESHOLD = "declarations.anthropic_rsp.asl_3_cbrn.declared"
URL = "https://acme.example.org/m1-system-card"
# Two models in one document, and a sentence naming neither: its model is the person's to give.
TWO_MODELS = b"""# Acme M1 and Acme M2

Acme M1 and Acme M2 are our new models.

We could not rule out that the larger model requires ASL-3 protections for CBRN weapons.
"""


def configure(tmp_path: Path, card: Path, **extra: str) -> Path:
    cfg = tmp_path / "warden.yaml"
    options = {
        "source": str(card),
        "organisation": "Acme",
        "framework": "anthropic-rsp",
        "date": "2026-01-10",
        "models": {"acme/m1": ["Acme M1"], "acme/m2": ["Acme M2"]},
        **extra,
    }
    cfg.write_text(
        f"database_url: sqlite:///{tmp_path / 'w.db'}\n"
        "catalog: [bundled]\n"
        "feeds:\n"
        f"  - {{id: cards, connector: system_cards, every: 1h, options: {json.dumps(options)}}}\n"
    )
    return cfg


def run(cfg: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """The real `warden` command, in a process of its own."""
    command = [sys.executable, "-m", "warden.interfaces.cli.main", "--config", str(cfg), *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)


def verdicts(cfg: Path) -> dict[tuple[str, str], str]:
    out = run(cfg, "evaluate", "--json")
    assert out.returncode == 0, out.stderr
    rows = json.loads(out.stdout)["evaluations"]
    return {(r["threshold"], r["subject"]): r["verdict"] for r in rows}


def ids(listing: str) -> dict[str, int]:
    """Candidate id by framework level, from the table `candidates` prints."""
    found = re.findall(r"^(\d+)\s+\S+\s+anthropic-rsp / (ASL-\d)", listing, re.M)
    return {level: int(i) for i, level in found}


def test_a_confirmed_candidate_counts_and_only_then_breaches(tmp_path: Path) -> None:
    cfg = configure(tmp_path, DATA / "acme-m1-system-card.md")
    out = run(cfg, "backfill", "cards")
    assert out.returncode == 0 and "2 new" in out.stdout, out.stdout + out.stderr
    listed = run(cfg, "declarations", "candidates")
    assert listed.returncode == 0, listed.stderr
    assert "We could not clearly rule out that Acme M1 requires ASL-3" in listed.stdout
    candidate = ids(listed.stdout)
    assert set(candidate) == {"ASL-3", "ASL-4"}
    # A candidate is not a declaration: the threshold on declarations does not see it.
    assert verdicts(cfg).get((THRESHOLD, "acme/m1")) != "breached"
    # Read from a file: where the lab published it must be given.
    refused = run(cfg, "declarations", "confirm", str(candidate["ASL-3"]), "--by", "alice")
    assert refused.returncode == 2 and "--source-url" in refused.stderr
    assert "Traceback" not in refused.stderr
    args = ("declarations", "confirm", str(candidate["ASL-3"]), "--by", "alice")
    done = run(cfg, *args, "--source-url", URL)
    assert done.returncode == 0, done.stderr
    assert "confirmed by alice: acme/m1 declared could_not_rule_out" in done.stdout
    assert verdicts(cfg)[(THRESHOLD, "acme/m1")] == "breached"
    again = run(cfg, *args, "--source-url", URL)
    assert again.returncode == 0 and "already confirmed by alice" in again.stdout
    left = run(cfg, "declarations", "candidates").stdout
    assert set(ids(left)) == {"ASL-4"}


@pytest.fixture
def cfg(tmp_path: Path) -> Path:
    card = tmp_path / "card.md"
    card.write_bytes(TWO_MODELS)
    cfg = configure(tmp_path, card, source_url=URL)
    assert warden(cfg, "backfill", "cards").exit_code == 0
    return cfg


def warden(cfg: Path, *args: str) -> Result:
    return CliRunner().invoke(main, ["--config", str(cfg), *args], catch_exceptions=False)


def only_candidate(cfg: Path) -> int:
    listed = warden(cfg, "declarations", "candidates", "--json").output
    rows = [json.loads(line) for line in listed.splitlines()]
    (row,) = rows
    assert row["model"] is None and row["source_url"] == URL
    return int(row["id"])


def stored(cfg: Path) -> list[dict[str, object]]:
    store = Store(f"sqlite:///{cfg.parent / 'w.db'}")
    try:
        with store.read() as conn:
            q = select(observations).where(observations.c.benchmark == "declaration")
            return [dict(r) for r in conn.execute(q).mappings()]
    finally:
        store.dispose()


def test_a_candidate_without_a_model_needs_one_and_bad_values_are_refused(cfg: Path) -> None:
    n = str(only_candidate(cfg))
    r = warden(cfg, "declarations", "confirm", n, "--by", "bob")
    assert r.exit_code == 2 and "names no model" in r.output and "--model" in r.output
    confirm = ("declarations", "confirm", n, "--by", "bob")
    r = warden(cfg, *confirm, "--model", "acme/m2", "--status", "probably")
    assert r.exit_code == 2 and "--status" in r.output and "could_not_rule_out" in r.output
    r = warden(cfg, "declarations", "confirm", "999", "--by", "bob")
    assert r.exit_code == 2 and "candidate 999: no such candidate" in r.output
    r = warden(cfg, *confirm[:-1], " ", "--model", "acme/m2")
    assert r.exit_code == 2 and "--by: give who decides" in r.output
    assert stored(cfg) == []
    r = warden(
        cfg, *confirm, "--model", "acme/m2", "--status", "crossed", "--note", "read the card"
    )
    assert r.exit_code == 0, r.output
    (row,) = stored(cfg)
    assert (row["subject"], row["metric"], row["value"], row["measured_by"], row["feed"]) == (
        "acme/m2",
        "anthropic-rsp.asl-3.cbrn",
        3.0,
        "vendor",
        "declarations-review",
    )
    a = row["attributes"]
    assert isinstance(a, dict)
    assert a["verified"] is True and a["confirmed_by"] == "bob" and a["source_url"] == URL
    assert a["proposed_status"] == "could_not_rule_out" and a["status"] == "crossed"
    assert a["quote"].startswith("We could not rule out that the larger model")
    assert a["verification"].startswith(f"confirmed by bob from candidate {n} (sentence ")
    assert a["verification"].endswith(": read the card")
    assert isinstance(a["candidate"], str) and len(a["candidate"]) == 64
    # Rejecting what was confirmed is refused; the declaration stays.
    r = warden(cfg, "declarations", "reject", n, "--by", "carol")
    assert r.exit_code == 2 and "confirmed by bob" in r.output
    assert len(stored(cfg)) == 1


def test_a_rejected_candidate_is_no_longer_listed_and_cannot_be_confirmed(cfg: Path) -> None:
    n = str(only_candidate(cfg))
    r = warden(cfg, "declarations", "reject", n, "--by", "carol", "--note", "not a declaration")
    assert r.exit_code == 0 and f"candidate {n} rejected by carol" in r.output
    assert warden(cfg, "declarations", "candidates").output.strip() == (
        "no candidate declarations waiting"
    )
    again = warden(cfg, "declarations", "reject", n, "--by", "carol")
    assert again.exit_code == 0 and "already rejected by carol" in again.output
    shown = warden(cfg, "declarations", "candidates", "--all").output
    assert "rejected by carol" in shown
    r = warden(cfg, "declarations", "confirm", n, "--by", "bob", "--model", "acme/m2")
    assert r.exit_code == 2 and "rejected by carol" in r.output
    assert stored(cfg) == []
    # Reading the card again does not bring the candidate back.
    assert warden(cfg, "backfill", "cards").exit_code == 0
    assert "no candidate" in warden(cfg, "declarations", "candidates").output


def test_each_command_explains_itself() -> None:
    runner = CliRunner()
    assert "system cards" in runner.invoke(main, ["declarations", "--help"]).output
    for command, words in (
        ("candidates", "counts only once confirmed"),
        ("confirm", "thresholds on declarations"),
        ("reject", "no longer listed"),
    ):
        r = runner.invoke(main, ["declarations", command, "--help"])
        assert r.exit_code == 0 and words in " ".join(r.output.split()), r.output


def test_the_catalog_refuses_a_threshold_reading_candidates(tmp_path: Path) -> None:
    bad = tmp_path / "candidates.yaml"
    bad.write_text("""
thresholds:
  - id: reads.candidates
    title: Reads candidate declarations
    domain: bio_chem
    level: high
    sources: [{title: A card, url: "https://acme.example.org/"}]
    when: {benchmark: declaration_candidate, metric: anthropic-rsp.asl-3.cbrn, op: ">=", value: 2}
    provenance: {when.value: {kind: proxy, note: chosen by us}}
    then: {severity: warning}
""")
    cfg = tmp_path / "warden.yaml"
    cfg.write_text(f"catalog: [bundled, {bad}]\n")
    r = warden(cfg, "check", "--config-only")
    assert r.exit_code == 2
    assert (
        "candidate declarations count only once confirmed: warden declarations confirm" in r.output
    )
    assert "reads.candidates" in r.output
