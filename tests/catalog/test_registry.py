"""The registry: canonical ids, aliases, normalisation at ingest and the unmapped ids."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner
from prometheus_client import generate_latest

from thresholds import bundled_catalog, bundled_registry
from warden.catalog.thresholds import load_catalog
from warden.core.errors import CatalogError
from warden.core.model import Observation
from warden.interfaces.cli.main import main
from warden.metrics.collector import Metrics
from warden.store import Store

T = datetime(2026, 1, 1, tzinfo=UTC)


@pytest.fixture(scope="module")
def registry():  # type: ignore[no-untyped-def]
    return load_catalog([bundled_catalog()], [bundled_registry()]).registry


def obs(benchmark: str, metric: str, model: str) -> Observation:
    return Observation(
        model, benchmark, metric, 0.5, T, "k", "src", "0" * 64, attributes={"scorer": "includes"}
    )


def test_aliases_map_to_canonical_ids_case_insensitively(registry) -> None:  # type: ignore[no-untyped-def]
    assert registry.benchmark_id("inspect_evals/cybench") == "cybench"
    assert registry.benchmark_id("CYBENCH") == "cybench"
    assert registry.benchmark_id("no_such_eval") is None
    assert registry.metric("cybench", "includes/accuracy")[0] == "accuracy"
    _, spec = registry.metric("gpqa_diamond", "accuracy")
    assert spec is not None and spec.direction == "higher" and spec.scale == "fraction"
    assert spec.baselines[0].value == 0.697
    model = registry.model("openai/azure/gpt-4o-mini")
    assert model is not None and model.id == "openai/gpt-4o-mini" and model.open_weights is False


def test_normalise_keeps_raw_ids_and_adds_model_facts(registry) -> None:  # type: ignore[no-untyped-def]
    o = registry.normalise(obs("inspect_evals/cybench", "includes/accuracy", "DeepSeek-R1"))
    assert (o.benchmark, o.metric, o.subject) == ("cybench", "accuracy", "deepseek/deepseek-r1")
    assert (o.benchmark_known, o.model_known) == (True, True)
    assert o.attributes["raw_benchmark"] == "inspect_evals/cybench"
    assert o.attributes["raw_metric"] == "includes/accuracy"
    assert o.attributes["raw_model"] == "DeepSeek-R1"
    assert o.attributes["organisation"] == "DeepSeek" and o.attributes["open_weights"] is True
    assert o.attributes["scorer"] == "includes"  # the connector's attributes stay
    assert o.key == "k"  # identity is the source's: re-ingest stays idempotent


def test_unknown_ids_are_kept_raw_and_flagged(registry) -> None:  # type: ignore[no-untyped-def]
    o = registry.normalise(obs("lab/secret_eval", "accuracy", "lab/model-x"))
    assert (o.benchmark, o.subject) == ("lab/secret_eval", "lab/model-x")
    assert (o.benchmark_known, o.model_known) == (False, False)
    assert "raw_benchmark" not in o.attributes


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


THRESHOLD = """
thresholds:
  - id: t.one.high
    title: T
    domain: d
    level: high
    sources: [{title: S, url: "https://example.org/"}]
    when: {benchmark: BENCH, metric: accuracy, op: ">=", value: 0.5}
    then: {severity: critical}
"""


def test_a_threshold_must_name_the_canonical_id(tmp_path: Path) -> None:
    cat = write(tmp_path, "c.yaml", THRESHOLD.replace("BENCH", "inspect_evals/cybench"))
    with pytest.raises(CatalogError, match="is an alias: use the canonical id 'cybench'"):
        load_catalog([cat], [bundled_registry()])


def test_catalogs_add_benchmarks_and_models_of_their_own(tmp_path: Path) -> None:
    cat = write(
        tmp_path,
        "c.yaml",
        THRESHOLD.replace("BENCH", "lab_eval")
        + """
benchmarks:
  - {id: lab_eval, title: Lab eval, aliases: [lab/eval-v2]}
models:
  - {id: lab/model-7, aliases: [m7], organisation: Lab, open_weights: false}
""",
    )
    reg = load_catalog([cat], [bundled_registry()]).registry
    assert reg.benchmark_id("lab/eval-v2") == "lab_eval"
    model = reg.model("M7")
    assert model is not None and model.id == "lab/model-7"


def test_conflicting_aliases_and_bad_registry_files_are_errors(tmp_path: Path) -> None:
    clash = write(
        tmp_path,
        "r1.yaml",
        """
benchmarks:
  - {id: a_eval, title: A, aliases: [shared]}
  - {id: b_eval, title: B, aliases: [Shared]}
""",
    )
    bad = write(
        tmp_path,
        "r2.yaml",
        """
benchmarks:
  - {id: c_eval, title: C, metrics: {acc: {scale: parsecs}}}
widgets: []
""",
    )
    with pytest.raises(CatalogError) as exc:
        load_catalog([write(tmp_path, "c.yaml", "thresholds: []\n")], [clash, bad])
    text = str(exc.value)
    assert f"{clash}:4: alias 'Shared' of benchmark 'b_eval' already names 'a_eval'" in text
    assert f"{bad}:4: widgets: unknown key" in text
    assert f"{bad}:3: benchmarks.0.metrics.acc.scale" in text


def test_ingest_normalises_and_counts_unmapped_ids(tmp_path: Path, db_url: str) -> None:
    data = [
        {
            "model": "DeepSeek-R1",
            "benchmark": "inspect_evals/cybench",
            "metric": "includes/accuracy",
            "value": 0.6,
            "observed_at": "2026-01-01T00:00:00Z",
        },
        {
            "model": "DeepSeek-R1",
            "benchmark": "inspect_evals/cybench",
            "metric": "includes/accuracy",
            "value": 0.7,
            "observed_at": "2026-01-02T00:00:00Z",
        },
        {
            "model": "lab/model-x",
            "benchmark": "lab/secret_eval",
            "metric": "accuracy",
            "value": 0.1,
            "observed_at": "2026-01-02T00:00:00Z",
        },
    ]
    push = write(tmp_path, "obs.json", json.dumps(data))
    cfg = write(tmp_path, "w.yaml", f"database_url: {db_url}\n")
    r = CliRunner().invoke(
        main,
        ["ingest", "--config", str(cfg), "--connector", "observations_json", str(push)],
        catch_exceptions=False,
    )
    assert r.exit_code == 0, r.output
    # both cybench runs arrive together: two confirmations at once, so straight to firing
    assert "3 new" in r.output and "1 triggers" in r.output
    log = CliRunner().invoke(main, ["log", "--json", "--config", str(cfg)])
    entries = [json.loads(line) for line in log.output.splitlines()][1:]  # after the catalog
    assert [(e["threshold"], e["subject"], e["to"], e["confirmations"]) for e in entries] == [
        ("cyber.cybench.unguided.high", "deepseek/deepseek-r1", "firing", 2)
    ]
    assert entries[0]["evidence"][0]["benchmark"] == "cybench"
    out = CliRunner().invoke(main, ["registry", "unmapped", "--json", "--config", str(cfg)])
    rows = json.loads(out.output)
    assert {(r["kind"], r["id"], r["feed"], r["observations"]) for r in rows} == {
        ("benchmark", "lab/secret_eval", "cli", 1),
        ("model", "lab/model-x", "cli", 1),
    }
    store = Store(db_url)
    catalog = load_catalog([bundled_catalog()], [bundled_registry()])
    text = generate_latest(Metrics(store, lambda: (catalog, {}, {}), ["cli"]).registry).decode()
    store.dispose()
    assert 'warden_unmapped_observations_total{feed="cli",kind="benchmark"} 1.0' in text
    assert 'warden_unmapped_observations_total{feed="cli",kind="model"} 1.0' in text


def test_a_threshold_names_a_declared_metric_with_possible_values(tmp_path: Path) -> None:
    base = THRESHOLD.replace("BENCH", "cybench")
    (t,) = load_catalog([write(tmp_path, "ok.yaml", base)], [bundled_registry()]).thresholds
    assert t.when.metric == "accuracy"
    cases = {
        "alias.yaml": (
            base.replace("metric: accuracy", "metric: includes/accuracy"),
            "'includes/accuracy' is an alias: use the canonical name 'accuracy'",
        ),
        "unknown.yaml": (
            base.replace("metric: accuracy", "metric: f1"),
            "when.metric 'f1': cybench declares ['accuracy']",
        ),
        "scale.yaml": (
            base.replace("value: 0.5", "value: 50"),
            "when.value 50.0 is impossible for a fraction (must be in [0, 1])",
        ),
    }
    for name, (text, message) in cases.items():
        with pytest.raises(CatalogError) as exc:
            load_catalog([write(tmp_path, name, text)], [bundled_registry()])
        assert message in str(exc.value) and "'t.one.high'" in str(exc.value), name


def test_what_the_registry_leaves_unset_the_source_may_still_say(registry) -> None:  # type: ignore[no-untyped-def]
    spec = registry.model("DeepSeek-R1")
    given = {"release_date": "2099-01-01", "scaffold": "x"}
    o = Observation("DeepSeek-R1", "cybench", "accuracy", 0.5, T, "k", "s", "0" * 64,
                    attributes=given)  # fmt: skip
    got = registry.normalise(o).attributes
    assert got["organisation"] == spec.organisation and got["scaffold"] == "x"
    if spec.release_date is not None:
        assert got["release_date"] == spec.release_date.isoformat()  # the registry's fact wins
    raw = Observation("lab/x", "cybench", "accuracy", 0.5, T, "k", "s", "0" * 64,
                      attributes={"open_weights": True})  # fmt: skip
    assert registry.normalise(raw).attributes["open_weights"] is True
