"""Backtest: replaying stored observations through a catalog, on synthetic series whose
warnings, firings and lead times are known, and end to end over Epoch's samples; and the
`warden backtest` command."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from warden.alerting.backtest import Backtest, Options, Replayed, run
from warden.catalog.thresholds import Catalog, load_catalog
from warden.core.model import Observation
from warden.interfaces.cli.forecast import register
from warden.interfaces.cli.main import main
from warden.store import Store
from warden.store import observations as obs_rows

T0 = datetime(2023, 1, 1, tzinfo=UTC)
THEN = {"severity": "critical"}
CATALOG = """
benchmarks:
  - {id: horizon, title: H, metrics: {p50: {direction: higher, scale: minutes}}}
  - {id: quiz, title: Q, metrics: {acc: {direction: higher, scale: fraction}}}
thresholds:
  - id: test.horizon.frontier
    title: T
    domain: test
    level: high
    sources: [{title: S, url: "https://example.org/"}]
    when: {benchmark: horizon, metric: p50, op: ">=", value: 480}
    warn_at: 240
    scope: frontier
    then: {severity: critical}
  - id: test.quiz.per_model
    title: T
    domain: test
    level: high
    sources: [{title: S, url: "https://example.org/"}]
    when: {benchmark: quiz, metric: acc, op: ">=", value: 0.9}
    warn_at: 0.8
    then: {severity: critical}
  - id: test.quiz.never
    title: T
    domain: test
    level: high
    sources: [{title: S, url: "https://example.org/"}]
    when: {benchmark: quiz, metric: acc, op: ">=", value: 0.99}
    warn_at: 0.9
    then: {severity: critical}
  - id: test.both
    title: T
    domain: test
    level: high
    sources: [{title: S, url: "https://example.org/"}]
    when:
      all:
        - {benchmark: quiz, metric: acc, op: ">=", value: 0.9, warn_at: 0.8}
        - {benchmark: horizon, metric: p50, op: ">=", value: 480, warn_at: 240}
    then: {severity: critical}
  - id: test.reassess
    title: T
    domain: test
    level: high
    sources: [{title: S, url: "https://example.org/"}]
    when: {since_assessment: {days: 30}}
    then: {severity: critical}
"""


@pytest.fixture
def catalog(tmp_path: Path) -> Catalog:
    (tmp_path / "catalog.yaml").write_text(CATALOG)
    return load_catalog([tmp_path / "catalog.yaml"])


def day(d: float) -> datetime:
    return T0 + timedelta(days=d)


_keys = iter(range(10**9))


def obs(
    subject: str, benchmark: str, metric: str, value: float, d: float, **attrs: Any
) -> Observation:
    return Observation(
        subject,
        benchmark,
        metric,
        value,
        day(d),
        f"k{next(_keys)}",
        "t",
        "0" * 64,
        attributes=attrs,
    )


def history() -> list[Observation]:
    """A horizon doubling every 100 days from 1 minute, one new model a month (240 minutes is
    reached on day 791, 480 on day 891: seen on days 810 and 900); quiz: qa warns on day 100,
    qb fires on day 300 and warns `test.quiz.never`, which never fires; day 700 ends it."""
    out = [obs(f"m{d}", "horizon", "p50", 2 ** (d / 100), d) for d in range(0, 901, 30)]
    out += [
        obs("qa", "quiz", "acc", 0.82, 100),
        obs("qa", "quiz", "acc", 0.85, 200),
        obs("qb", "quiz", "acc", 0.95, 300),
        obs("qc", "quiz", "acc", 0.5, 700),
    ]
    return out


def replayed(store: Store, catalog: Catalog, items: list[Observation], **kw: Any) -> Backtest:
    with store.write() as conn:
        obs_rows.insert_observations(conn, "f", [catalog.registry.normalise(o) for o in items], T0)
    return run(store, catalog, Options(**kw))


def by_id(result: Backtest) -> dict[str, Replayed]:
    return {t.threshold: t for t in result.thresholds}


def test_margin_and_projection_warnings_lead_the_firing_by_known_days(
    store: Store, catalog: Catalog
) -> None:
    result = replayed(store, catalog, history())
    assert (result.steps, result.observations) == (34, 35)
    assert result.skipped == ("test.reassess",)
    h = by_id(result)["test.horizon.frontier"]
    assert h.fired == ((day(900), "frontier"),)
    margin, projection = h.lead("margin"), h.lead("projection")
    assert margin is not None and (margin.at, margin.lead_days) == (day(810), 90)
    # The fit is exact: 891 days is within 365 days from day 526 on, first seen on day 540.
    assert projection is not None and (projection.at, projection.lead_days) == (day(540), 360)
    assert projection.detail.startswith("P(cross within 365 d) = 1.00; median crossing 2025-06-")
    assert h.false_warnings == [] and h.notes == ()


def test_false_warnings_are_those_no_firing_followed_within_the_horizon(
    store: Store, catalog: Catalog
) -> None:
    t = by_id(replayed(store, catalog, history()))
    quiz = t["test.quiz.per_model"]
    # Per subject: qa's warning is not borne out by qb's firing (qa never fires), and qb
    # fired with no warning of its own.
    assert [(w.kind, w.at, w.subject, w.outcome) for w in quiz.warnings] == [
        ("margin", day(100), "qa", "false")
    ]
    assert quiz.fired == ((day(300), "qb"),) and quiz.lead("margin") is None
    assert quiz.notes[-1] == "fired with no warning before it (qb)"
    never = t["test.quiz.never"]
    assert [(w.at, w.subject, w.outcome) for w in never.false_warnings] == [
        (day(300), "qb", "false")
    ]
    assert never.notes == (
        "no forecast at the end: too few points: 3 at 3 distinct times "
        "(a fit needs 4 at 3 distinct times at least)",
    )
    assert t["test.both"].notes == ("a combination: warnings by margin only",)


def test_a_shorter_horizon_leaves_warnings_open_and_a_jump_fires_unwarned(
    store: Store, catalog: Catalog
) -> None:
    t = by_id(replayed(store, catalog, history(), until=day(850)))
    h = t["test.horizon.frontier"]
    assert h.fired == () and [w.outcome for w in h.warnings] == ["open", "open"]
    jump = [obs("qz", "quiz", "acc", 0.3, 0), obs("qz", "quiz", "acc", 0.97, 10)]
    q = by_id(replayed(store, catalog, jump, until=day(20)))["test.quiz.per_model"]
    assert q.fired == ((day(10), "qz"),) and q.warnings == ()
    assert q.notes[-1] == "fired with no warning before it (qz)"


def test_from_starts_warden_late_with_everything_observed_before(
    store: Store, catalog: Catalog
) -> None:
    result = replayed(store, catalog, history(), since=day(500))
    assert result.start == day(500)
    quiz = by_id(result)["test.quiz.per_model"]
    assert quiz.fired == ((day(500), "qb"),)
    assert [(w.at, w.subject) for w in quiz.warnings] == [(day(500), "qa")]


def test_results_known_by_release_date_are_replayed_on_it(store: Store, catalog: Catalog) -> None:
    fetched = {"timestamp_kind": "fetched"}
    items = [
        obs("r1", "quiz", "acc", 0.85, 900, release_date="2023-02-01", **fetched),
        obs("r2", "quiz", "acc", 0.95, 900, release_date="2023-03-01", **fetched),
        obs("r3", "quiz", "acc", 0.99, 900, **fetched),  # no release date: left out
    ]
    result = replayed(store, catalog, items)
    assert result.left_out == (("no measurement time and no release date", 1),)
    quiz = by_id(result)["test.quiz.per_model"]
    assert [w.at for w in quiz.warnings] == [datetime(2023, 2, 1, tzinfo=UTC)]
    assert quiz.fired_at == datetime(2023, 3, 1, tzinfo=UTC)


def test_the_same_data_replay_identically_and_serialise(store: Store, catalog: Catalog) -> None:
    first = replayed(store, catalog, history())
    again = run(store, catalog, Options())
    assert first.as_dict() == again.as_dict()
    doc = json.loads(json.dumps(first.as_dict()))
    h = next(t for t in doc["thresholds"] if t["threshold"] == "test.horizon.frontier")
    assert (h["lead_days_margin"], h["lead_days_projection"]) == (90, 360)
    assert h["warned_at"] == day(810).isoformat() and h["fired_subject"] == "frontier"


def test_an_empty_store_replays_nothing(store: Store, catalog: Catalog) -> None:
    result = run(store, catalog)
    assert (result.steps, result.start, result.end, result.thresholds) == (0, None, None, ())


def test_lead_time_is_per_subject_and_the_summary_counts_true_false_and_missed(
    store: Store, catalog: Catalog
) -> None:
    """qb warns first and never fires; qa warns on day 100 and fires on day 250 (its own lead:
    150 days, not qb's 200); qc fires unwarned on day 300; day 500 closes qb's horizon."""
    items = [
        obs("qb", "quiz", "acc", 0.81, 50),
        obs("qa", "quiz", "acc", 0.82, 100),
        obs("qa", "quiz", "acc", 0.95, 250),
        obs("qc", "quiz", "acc", 0.97, 300),
        obs("qd", "quiz", "acc", 0.1, 500),
    ]
    quiz = by_id(replayed(store, catalog, items))["test.quiz.per_model"]
    margins = [w for w in quiz.warnings if w.kind == "margin"]
    assert [(w.subject, w.outcome, w.fired_at, w.lead_days) for w in margins] == [
        ("qb", "false", None, None),
        ("qa", "crossed", day(250), 150),
    ]
    assert quiz.fired == ((day(250), "qa"), (day(300), "qc"))
    assert quiz.lead("margin").subject == "qa"  # type: ignore[union-attr]
    s = quiz.summary("margin")
    assert (s.true, s.false, s.open, s.missed, s.fired, s.lead_days) == (1, 1, 0, 1, 2, (150,))
    assert (s.precision, s.recall) == (0.5, 0.5)
    assert quiz.notes[-1] == "fired with no warning before it (qc)"
    doc = json.loads(json.dumps(quiz.as_dict()))
    assert doc["summary"]["margin"]["precision"] == 0.5
    assert doc["summary"]["margin"]["missed"] == 1


SPARSE = """
benchmarks:
  - {id: compute, title: C, metrics: {flop: {direction: higher, scale: flop}}}
thresholds:
  - id: test.compute.frontier
    title: T
    domain: test
    level: high
    sources: [{title: S, url: "https://example.org/"}]
    when: {benchmark: compute, metric: flop, op: ">=", value: 1.0e+24}
    scope: frontier
    then: {severity: critical}
"""


def early_era(year: int, value: float) -> Observation:
    at = datetime(year, 1, 1, tzinfo=UTC)
    o = obs(f"m{year}", "compute", "flop", value, 0)
    return Observation(o.subject, o.benchmark, o.metric, o.value, at, o.key, o.source,
                       o.content_hash, attributes={"timestamp_kind": "release_date"})  # fmt: skip


def test_no_projection_from_a_sparse_early_era(store: Store, tmp_path: Path) -> None:
    """Four records in 1950-1960 put the trend line past 1e24 FLOP by 1980; compute is fitted
    from 2010 on (its default window), so the replay makes no projection from them."""
    items = [
        early_era(1950, 40),
        early_era(1957, 6.9e5),
        early_era(1959, 6e8),
        early_era(1960, 7.2e8),
        early_era(1966, 1e8),
        early_era(1980, 2.7e8),
        early_era(1982, 3e8),
    ]
    (tmp_path / "sparse.yaml").write_text(SPARSE)
    catalog = load_catalog([tmp_path / "sparse.yaml"])
    (t,) = replayed(store, catalog, items).thresholds
    assert t.warnings == () and t.summary().false == 0
    assert t.notes == (
        "no forecast at the end: too few points: 0 at 0 distinct times (a fit needs 4 at 3 "
        "distinct times at least)",
    )
    # The whole history asked for, the same four points warn in 1980: a false warning.
    (tmp_path / "sparse.yaml").write_text(SPARSE + "    forecast: {since: all}\n")
    everything = load_catalog([tmp_path / "sparse.yaml"])
    (old,) = run(store, everything, Options()).thresholds
    assert [(w.kind, w.at.year, w.outcome) for w in old.warnings] == [("projection", 1980, "false")]
    # ... unless a fit needs more points than the era has.
    (tmp_path / "sparse.yaml").write_text(SPARSE + "    forecast: {since: all, min_points: 5}\n")
    strict = load_catalog([tmp_path / "sparse.yaml"])
    assert run(store, strict, Options()).thresholds[0].warnings == ()


def test_no_projection_from_a_window_shorter_than_its_minimum_span(
    store: Store, tmp_path: Path
) -> None:
    spanned = CATALOG.replace(
        "    warn_at: 240\n    scope: frontier\n",
        "    warn_at: 240\n    scope: frontier\n    forecast: {min_span: 600d}\n",
        1,
    )
    (tmp_path / "spanned.yaml").write_text(spanned)
    catalog = load_catalog([tmp_path / "spanned.yaml"])
    h = by_id(replayed(store, catalog, history()))["test.horizon.frontier"]
    first = h.first("projection")
    assert first is not None and first.at == day(600)  # day 540 before, with 180 days


# -- real data --------------------------------------------------------------------------------


@pytest.mark.realdata
def test_backtest_over_epoch_samples_with_the_default_catalog(
    samples: Path, tmp_path: Path
) -> None:
    from connectors.epoch_benchmarks import EpochBenchmarks
    from thresholds import bundled_catalog, bundled_registry
    from warden.ingest.connector import Cursor
    from warden.ingest.feedrun import run_feed

    catalog = load_catalog([bundled_catalog()], [bundled_registry()])
    store = Store(f"sqlite:///{tmp_path / 'w.db'}")
    store.upgrade()
    source = EpochBenchmarks({"source": str(samples / "epoch/benchmark_data")})
    clock = lambda: datetime(2026, 1, 1, tzinfo=UTC)  # noqa: E731
    assert run_feed(store, "epoch", source, Cursor(), clock, catalog.registry).ingested == 274
    result = run(store, catalog)
    store.dispose()
    t = by_id(result)
    for r in result.thresholds:
        margin, projection = r.lead("margin"), r.lead("projection")
        print(
            f"{r.threshold}: warned {r.first('margin') and r.first('margin').at.date()}, "  # type: ignore[union-attr]
            f"projected {r.first('projection') and r.first('projection').at.date()}, "  # type: ignore[union-attr]
            f"fired {r.fired_at and r.fired_at.date()}, lead margin "
            f"{margin and round(margin.lead_days or 0)} d, lead projection "
            f"{projection and round(projection.lead_days or 0)} d"
        )
    assert result.steps == 94 and result.observations == 274
    gpqa = t["general.gpqa_diamond.beyond_experts.early_warning"]
    assert gpqa.fired_at is not None and gpqa.fired_at.date().isoformat() == "2025-11-13"
    assert gpqa.lead("margin").lead_days == pytest.approx(273.1, abs=0.1)  # type: ignore[union-attr]
    # Placed at release dates, Epoch's first day of runs already shows two years of trend.
    assert gpqa.lead("projection").lead_days == pytest.approx(273.1, abs=0.1)  # type: ignore[union-attr]
    assert gpqa.first("projection").at == gpqa.first("margin").at  # type: ignore[union-attr]
    expert = t["cbrn.gpqa_diamond.expert_level.early_warning"]
    assert expert.fired_at is not None and expert.notes == ("fired with no warning before it",)
    horizon = t["autonomy.metr_time_horizon.p50.high"]
    assert horizon.fired_at is None and horizon.first("projection") is not None
    assert horizon.first("margin").at.date().isoformat() == "2025-11-24"  # type: ignore[union-attr]


# -- the command --------------------------------------------------------------------------------


@pytest.fixture
def config(tmp_path: Path, catalog: Catalog) -> Path:
    register(main)
    cfg = tmp_path / "warden.yaml"
    cfg.write_text(
        f"database_url: sqlite:///{tmp_path / 'w.db'}\ncatalog: [{tmp_path / 'catalog.yaml'}]\n"
    )
    store = Store(f"sqlite:///{tmp_path / 'w.db'}")
    store.upgrade()
    with store.write() as conn:
        obs_rows.insert_observations(
            conn, "f", [catalog.registry.normalise(o) for o in history()], T0
        )
    store.dispose()
    return cfg


def warden(*args: str | Path) -> Result:
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)


def test_backtest_command_prints_a_table_and_json(config: Path, tmp_path: Path) -> None:
    r = warden("backtest", "--config", config)
    assert r.exit_code == 0, r.output
    row = next(line for line in r.output.splitlines() if line.startswith("test.horizon.frontier"))
    assert row.split() == [
        "test.horizon.frontier",
        "2025-03-21",
        "2024-06-24",
        "2025-06-19",
        "90",
        "d",
        "360",
        "d",
        "0",
        "0",
        "1.00",
        "1.00",
    ]
    assert (
        "summary: test.horizon.frontier: margin 1 true (lead 90 d), 0 false, 0 open, 0 of 1 "
        "firings missed (precision 1.00, recall 1.00); projection 1 true (lead 360 d)"
    ) in " ".join(r.output.split())
    assert "false warning: test.quiz.never margin on 2023-10-28" in r.output
    assert "replayed 35 observations in 34 daily steps, 2023-01-01 to 2025-06-19" in r.output
    doc = json.loads(warden("backtest", "--json", "--to", "2024-12-31", "--config", config).output)
    assert doc["end"] == "2024-12-31T23:59:59.999999+00:00"
    only = tmp_path / "only.yaml"
    only.write_text(CATALOG.split("  - id: test.quiz.per_model")[0])
    one = json.loads(warden("backtest", "--json", "--catalog", only, "--config", config).output)
    assert [t["threshold"] for t in one["thresholds"]] == ["test.horizon.frontier"]


def test_backtest_command_refuses_bad_dates(config: Path) -> None:
    r = warden("backtest", "--from", "2024-13-01", "--config", config)
    assert r.exit_code == 2 and "--from: not a date or RFC 3339 time: '2024-13-01'" in r.output
    r = warden("backtest", "--from", "2024-06-01", "--to", "2024-01-01", "--config", config)
    assert r.exit_code == 2 and "is after --to" in r.output
