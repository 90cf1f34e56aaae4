"""Re-assessment triggers: `warden assess record` and `since_assessment` conditions, from the
command line through the trigger log, and in threshold tests."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from tests.support.factories import T0, obs, series
from warden.alerting.assessments import record
from warden.catalog.thresholds import Catalog, Threshold, load_catalog
from warden.core.errors import UsageError
from warden.core.model import COMPUTE, Assessment, Observation, Verdict
from warden.evaluation.evaluate import evaluate_threshold
from warden.interfaces.cli.main import main
from warden.store import Store
from warden.store import observations as obs_rows

CATALOG = """
benchmarks:
  - id: training_compute
    title: Training compute
    metrics: {flop: {scale: flop}}
models:
  - {id: acme/m1, aliases: [Acme One], organisation: Acme}
thresholds:
  - id: lab.reassess.days
    title: Six months since the last full assessment
    domain: general
    level: early_warning
    sources: [{title: S, url: "https://example.org/"}]
    when: {since_assessment: {days: 182}}
    warn_at: 150
    then: {severity: warning, mitigations: [Run the full assessment again.]}
  - id: lab.reassess.compute
    title: Four times the compute of the last full assessment
    domain: general
    level: early_warning
    sources: [{title: S, url: "https://example.org/"}]
    when: {since_assessment: {compute_ratio: 4}}
    provenance:
      when.since_assessment.compute_ratio: {kind: source, note: "4x effective compute"}
    then: {severity: warning, mitigations: [Run the full assessment again.]}
"""


def reassess(**rule: Any) -> Threshold:
    return Threshold.model_validate(
        {
            "id": "lab.reassess.x",
            "title": "T",
            "domain": "general",
            "level": "early_warning",
            "sources": [{"title": "S", "url": "https://example.org/"}],
            "when": {"since_assessment": rule},
            "then": {"severity": "warning"},
        }
    )


def test_days_and_compute_ratio_per_assessed_model() -> None:
    now = T0 + timedelta(days=200)
    assessed = {
        "old": Assessment("old", T0, "team", 1e24),
        "new": Assessment("new", now - timedelta(days=10), "team", None),
    }
    got = {
        e.subject: e
        for e in evaluate_threshold(reassess(days=182), {}, now, (), None, None, assessed)
    }
    assert got["old"].verdict is Verdict.BREACHED and got["old"].value == pytest.approx(200)
    assert "200 days since its assessment of 2026-01-01 by team (>= 182)" in got["old"].reason
    assert got["new"].verdict is Verdict.OK
    compute = {COMPUTE: series(obs("old", 5e24), obs("new", 9e25))}
    t = reassess(compute_ratio=4)
    got = {
        e.subject: e for e in evaluate_threshold(t, compute, now, ["gone"], None, None, assessed)
    }
    assert got["old"].verdict is Verdict.BREACHED and got["old"].value == pytest.approx(5)
    assert got["new"].verdict is Verdict.UNKNOWN  # no compute recorded with its assessment
    assert "no training compute was recorded" in got["new"].reason
    assert got["gone"].verdict is Verdict.UNKNOWN and got["gone"].reason == "not assessed"


@pytest.mark.parametrize(
    ("rule", "message"),
    [
        ({"compute_ratio": 1}, "a number above 1"),
        ({"days": -3}, "a number positive"),
        ({"weeks": 3}, "{days: N} or {compute_ratio: R}"),
        ({"days": 3, "compute_ratio": 4}, "{days: N} or {compute_ratio: R}"),
    ],
)
def test_bad_rules_are_refused(rule: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        reassess(**rule)


def test_compute_ratio_needs_training_compute_in_the_registry(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(CATALOG.replace("training_compute", "other_compute"))
    with pytest.raises(Exception, match="no benchmark 'training_compute' with metric 'flop'"):
        load_catalog([path])


def test_record_takes_compute_from_the_newest_observation(store: Store) -> None:
    path_catalog = Catalog(())
    now = datetime(2026, 6, 1, tzinfo=UTC)
    items = [
        Observation("acme/m1", *COMPUTE, v, t, f"k{v}", "epoch", "0" * 64)
        for v, t in ((1e24, T0), (3e24, T0 + timedelta(days=30)), (9e24, now))
    ]
    with store.write() as conn:
        obs_rows.insert_observations(conn, "epoch", items, now)
    done = record(
        store, path_catalog.registry, lambda: now, "acme/m1", "team", now - timedelta(days=1)
    )
    assert done.assessment.compute == 3e24 and done.compute_from_observation
    with pytest.raises(UsageError, match="in the future"):
        record(
            store, path_catalog.registry, lambda: now, "acme/m1", "team", now + timedelta(days=1)
        )
    with pytest.raises(UsageError, match="a positive number of FLOP"):
        record(store, path_catalog.registry, lambda: now, "acme/m1", "team", None, float("nan"))


def warden(*args: str | Path) -> Result:
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)


def test_assess_record_fires_a_reassessment_trigger_and_is_logged(tmp_path: Path) -> None:
    (tmp_path / "c.yaml").write_text(CATALOG)
    cfg = tmp_path / "w.yaml"
    cfg.write_text(
        f"database_url: sqlite:///{tmp_path / 'w.db'}\n"
        f"catalog: [{tmp_path / 'c.yaml'}]\nregistry: []\n"
    )
    assert warden("db", "upgrade", "--config", cfg).exit_code == 0  # assess needs a store
    long_ago = (datetime.now(UTC) - timedelta(days=200)).date().isoformat()
    r = warden("assess", "record", "Acme One", "--by", "Safety team", "--at", long_ago,
               "--compute", "2e24", "--note", "report 42", "--config", cfg)  # fmt: skip
    assert r.exit_code == 0, r.output
    assert "acme/m1 assessed by Safety team" in r.output
    entries = [
        json.loads(line) for line in warden("log", "--json", "--config", cfg).output.splitlines()
    ]
    kinds = [(e["kind"], e["subject"], e.get("to")) for e in entries]
    assert ("assessment", "acme/m1", "") in kinds
    assert ("transition", "acme/m1", "firing") in kinds  # 200 days >= 182
    assessment = next(e for e in entries if e["kind"] == "assessment")
    assert (assessment["by"], assessment["compute"], assessment["note"]) == (
        "Safety team",
        2e24,
        "report 42",
    )
    assert warden("log", "verify", "--config", cfg).exit_code == 0
    listed = json.loads(warden("assess", "list", "--json", "--config", cfg).output)
    assert [(a["model"], a["by"], a["compute"]) for a in listed] == [
        ("acme/m1", "Safety team", 2e24)
    ]
    aliased = warden("assess", "list", "--model", "Acme One", "--json", "--config", cfg)
    assert json.loads(aliased.output) == listed  # the registry's aliases work here too
    # A fresh assessment resolves it.
    r = warden("assess", "record", "acme/m1", "--by", "Safety team", "--config", cfg)
    assert "compute" not in r.output.split("\n", 1)[1] or "no training compute" in r.output
    entries = [
        json.loads(line) for line in warden("log", "--json", "--config", cfg).output.splitlines()
    ]
    assert entries[-1]["kind"] == "transition" and entries[-1]["to"] == "resolved"


def test_bad_command_lines_exit_2(tmp_path: Path) -> None:
    cfg = tmp_path / "w.yaml"
    cfg.write_text(f"database_url: sqlite:///{tmp_path / 'w.db'}\n")
    assert CliRunner().invoke(main, ["db", "upgrade", "--config", str(cfg)]).exit_code == 0
    for args, message in (
        (["--at", "yesterday"], "not a date or RFC 3339 time"),
        (["--at", "2026-01-01T10:00:00"], "with an offset"),
        (["--compute", "-5"], "a positive number of FLOP"),
        (["--by", " "], "name who assessed"),
    ):
        base = ["assess", "record", "m", "--config", str(cfg)]
        if "--by" not in args:
            base += ["--by", "me"]
        r = CliRunner().invoke(main, [*base, *args])
        assert r.exit_code == 2 and message in r.output, (args, r.output)


SUITE = """
catalog: [c.yaml]
registry: []
tests:
  - name: six months after an assessment the model is due again
    assessments:
      - {at: 2026-01-01T00:00:00Z, model: acme/m1, compute: 1.0e24}
    observations:
      - {at: 2026-03-01T00:00:00Z, model: Acme One, benchmark: training_compute, metric: flop,
         value: 5.0e24}
    expect:
      - at: 2026-01-02T00:00:00Z
        verdicts: {lab.reassess.days: {acme/m1: ok}}
      - at: 2026-03-01T00:00:00Z
        verdicts: {lab.reassess.compute: {acme/m1: {verdict: breached, value: 5}}}
      - at: 2026-06-01T00:00:00Z
        verdicts: {lab.reassess.days: {acme/m1: warning}}
      - at: 2026-07-03T00:00:00Z
        states: {lab.reassess.days: {acme/m1: firing}}
    triggers:
      - {threshold: lab.reassess.compute, subject: acme/m1, from: inactive, to: firing}
      - {threshold: lab.reassess.days, subject: acme/m1, from: inactive, to: warning}
      - {threshold: lab.reassess.days, subject: acme/m1, from: warning, to: firing}
"""


def test_threshold_tests_can_record_assessments(tmp_path: Path) -> None:
    (tmp_path / "c.yaml").write_text(CATALOG)
    (tmp_path / "t.yaml").write_text(SUITE)
    r = warden("thresholds", "test", tmp_path / "t.yaml")
    assert r.exit_code == 0, r.output
    (tmp_path / "t.yaml").write_text(SUITE.replace("value: 5}", "value: 4}"))
    r = warden("thresholds", "test", tmp_path / "t.yaml")
    assert r.exit_code == 1, r.output
    assert "expected breached (value 4), got breached (value 5, model acme/m1" in r.output
