from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from thresholds import bundled_catalog, bundled_registry
from warden.catalog.thresholds import Level, Scope, load_catalog
from warden.core.errors import CatalogError

REPO = Path(__file__).resolve().parents[2]

GOOD = """
benchmarks:
  - {id: lab_eval, title: In-house eval}
thresholds:
  - id: lab.eval.high
    title: Lab eval crossed
    domain: cyber
    level: high
    sources: [{title: Framework, url: "https://example.org/fw"}]
    when: {benchmark: lab_eval, metric: accuracy, op: ">=", value: 0.5}
    scope: frontier
    warn_at: 0.4
    for: 2
    stale_after: 86400
    then: {severity: critical, mitigations: [Pause deployment.], labels: {team: red}}
"""


def write(tmp_path: Path, text: str, name: str = "cat.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_bundled_catalog_loads_with_real_sources() -> None:
    catalog = load_catalog([bundled_catalog()], [bundled_registry()])
    assert len(catalog.thresholds) >= 25
    for t in catalog.thresholds:
        assert t.sources and all(str(s.url).startswith("https://") for s in t.sources)
        assert all(b in catalog.benchmarks for b, _ in t.pairs)
    domains = {t.domain for t in catalog.thresholds}
    assert domains == {
        "bio_chem",
        "cyber",
        "ai_rnd_autonomy",
        "misalignment",
        "compute",
        "general",
        "evidence",
        "elicitation",
    }
    assert {p.stem for p in catalog.files} == domains


def test_demo_catalog_loads_beside_the_bundled_one() -> None:
    catalog = load_catalog(
        [bundled_catalog(), REPO / "deploy/demo/thresholds.yaml"], [bundled_registry()]
    )
    demo = catalog.by_id("demo.capability.match_accuracy.high")
    assert demo.when.metric == "match/accuracy"


def test_every_field_of_a_threshold(tmp_path: Path) -> None:
    (t,) = load_catalog([write(tmp_path, GOOD)]).thresholds
    assert t.level is Level.HIGH and t.scope is Scope.FRONTIER
    assert (t.warn_at, t.for_, t.stale_after) == (0.4, 2, 86400)
    assert t.then.mitigations == ["Pause deployment."] and t.then.labels == {"team": "red"}
    assert len(t.version) == 64


def test_version_changes_with_content_only(tmp_path: Path) -> None:
    a = load_catalog([write(tmp_path, GOOD)]).thresholds[0].version
    b = load_catalog([write(tmp_path, GOOD.replace("# x", ""), "b.yaml")]).thresholds[0].version
    c = load_catalog([write(tmp_path, GOOD.replace("value: 0.5", "value: 0.6"), "c.yaml")])
    assert a == b != c.thresholds[0].version


def test_all_errors_in_a_file_are_reported_with_line_and_id(tmp_path: Path) -> None:
    bad = GOOD.replace('op: ">="', 'op: "=>"').replace("level: high", "level: extreme")
    bad += """
  - id: second.threshold
    title: Second
    domain: cyber
    level: high
    sources: [{title: F, url: "not a url"}]
    when: {benchmark: lab_eval, metric: accuracy, op: "<", value: .nan}
    then: {severity: critical}
"""
    path = write(tmp_path, bad)
    with pytest.raises(CatalogError) as exc:
        load_catalog([path])
    problems = [str(p) for p in exc.value.problems]
    text = "\n".join(problems)
    assert f"{path}:8" in text and "level" in text and "'lab.eval.high'" in text
    assert f"{path}:10: thresholds.0.when.op" in text
    assert "sources.0.url" in text and "'second.threshold'" in text
    assert "when.value" in text  # NaN is refused
    assert len(problems) >= 4
    assert exc.value.exit_code == 2


def test_warn_at_on_the_wrong_side_is_an_error(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD.replace("warn_at: 0.4", "warn_at: 0.6"))
    with pytest.raises(CatalogError, match=r"warn_at 0\.6 must lie on the safe side"):
        load_catalog([path])


def test_unknown_benchmark_and_duplicate_ids(tmp_path: Path) -> None:
    a = write(tmp_path, GOOD.replace("benchmark: lab_eval", "benchmark: lab_evl"), "a.yaml")
    b = write(tmp_path, GOOD, "b.yaml")
    with pytest.raises(CatalogError) as exc:
        load_catalog([a, b])
    text = str(exc.value)
    assert "unknown benchmark 'lab_evl'" in text
    assert "duplicate threshold id" in text and f"{a}:" in text


def test_unknown_keys_missing_paths_and_bad_yaml(tmp_path: Path) -> None:
    with pytest.raises(CatalogError, match=r"then\.severty: unknown key"):
        load_catalog([write(tmp_path, GOOD.replace("severity:", "severty: x, severity:"))])
    with pytest.raises(CatalogError, match="no such file or folder"):
        load_catalog([tmp_path / "missing.yaml"])
    with pytest.raises(CatalogError, match="invalid YAML"):
        load_catalog([write(tmp_path, "thresholds: [\n", "broken.yaml")])
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(CatalogError, match="holds no"):
        load_catalog([empty])


yaml_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(
            st.sampled_from(["id", "when", "op", "value", "thresholds", "for"])
            | st.text(max_size=6),
            children,
            max_size=4,
        )
    ),
    max_leaves=20,
)


@settings(max_examples=150, deadline=None)
@given(doc=yaml_values)
def test_arbitrary_yaml_gives_thresholds_or_catalog_error(
    tmp_path_factory: pytest.TempPathFactory, doc: object
) -> None:
    path = tmp_path_factory.mktemp("fuzz") / "c.yaml"
    path.write_text(yaml.safe_dump({"thresholds": doc} if isinstance(doc, list) else doc))
    try:
        catalog = load_catalog([path])
    except CatalogError as exc:
        assert exc.problems and all(p.message for p in exc.problems)
    else:
        assert all(t.id and t.version for t in catalog.thresholds)


def test_grey_zone_is_rule_out_and_rule_in(tmp_path: Path) -> None:
    grey = GOOD.replace('op: ">=", value: 0.5}', "rule_out: 0.2, rule_in: 0.6}").replace(
        "    warn_at: 0.4\n", ""
    )
    (t,) = load_catalog([write(tmp_path, grey)]).thresholds
    assert (t.when.op, t.when.value, t.warn_at) == (">=", 0.6, 0.2)
    lower = grey.replace("rule_out: 0.2, rule_in: 0.6", "rule_out: 30, rule_in: 10")
    (t,) = load_catalog([write(tmp_path, lower, "lower.yaml")]).thresholds
    assert (t.when.op, t.when.value, t.warn_at) == ("<=", 10, 30)
    both = grey.replace("rule_out: 0.2", 'op: ">=", rule_out: 0.2')
    with pytest.raises(CatalogError, match=r"either op and value, or rule_out and rule_in"):
        load_catalog([write(tmp_path, both, "both.yaml")])
    same = grey.replace("rule_out: 0.2, rule_in: 0.6", "rule_out: 0.6, rule_in: 0.6")
    with pytest.raises(CatalogError, match=r"no grey zone.*'lab\.eval\.high'"):
        load_catalog([write(tmp_path, same, "same.yaml")])


def test_warn_at_as_a_margin_below_the_trigger(tmp_path: Path) -> None:
    (t,) = load_catalog(
        [write(tmp_path, GOOD.replace("warn_at: 0.4", "warn_at: {margin: 0.15}"))]
    ).thresholds
    assert t.warn_at == pytest.approx(0.35)
    bad = GOOD.replace("warn_at: 0.4", "warn_at: {margin: -1}")
    with pytest.raises(CatalogError, match=r"warn_at: a number, or \{margin"):
        load_catalog([write(tmp_path, bad, "bad.yaml")])


def test_then_carries_safeguards_runbook_and_annotations(tmp_path: Path) -> None:
    text = GOOD.replace(
        "then: {severity: critical,",
        'then: {safeguards: [ASL-3], runbook: "https://example.org/rb", '
        "annotations: {summary: Lab eval high}, severity: critical,",
    )
    (t,) = load_catalog([write(tmp_path, text)]).thresholds
    assert t.then.safeguards == ["ASL-3"] and str(t.then.runbook) == "https://example.org/rb"
    assert t.then.annotations == {"summary": "Lab eval high"}


def test_organisation_scope_is_a_frontier_with_a_filter(tmp_path: Path) -> None:
    text = GOOD.replace("scope: frontier", "scope: {organisation: DeepSeek}")
    (t,) = load_catalog([write(tmp_path, text)], [bundled_registry()]).thresholds
    assert (t.scope, t.organisation, t.is_frontier) == (Scope.FRONTIER, "DeepSeek", True)
    typo = text.replace("DeepSeek", "DeepSeak")
    with pytest.raises(CatalogError, match="organisation 'DeepSeak' has no model in the registry"):
        load_catalog([write(tmp_path, typo, "typo.yaml")], [bundled_registry()])


RATIO = """
thresholds:
  - id: cbrn.gpqa.expert_ratio.high
    title: At or above the PhD-expert baseline
    domain: cbrn
    level: high
    sources: [{title: S, url: "https://example.org/"}]
    when: {benchmark: gpqa_diamond, metric: accuracy, op: ">=", ratio: 1.0}
    warn_at: 0.9
    scope: frontier
    then: {severity: critical}
"""


def test_ratio_to_a_human_baseline_from_the_registry(tmp_path: Path) -> None:
    (t,) = load_catalog([write(tmp_path, RATIO)], [bundled_registry()]).thresholds
    assert t.when.value == pytest.approx(0.697) and t.warn_at == pytest.approx(0.6273)
    assert (t.when.ratio, t.when.baseline) == (1.0, "PhD experts in the question's field")
    assert t.when.holds(0.7) and not t.when.holds(0.69)
    named = RATIO.replace("ratio: 1.0}", 'ratio: 1.0, baseline: "Random guessing"}')
    with pytest.raises(CatalogError, match=r"when\.baseline: 'Random guessing' is not one of"):
        load_catalog([write(tmp_path, named, "named.yaml")], [bundled_registry()])
    none = RATIO.replace("gpqa_diamond", "cybench")
    with pytest.raises(CatalogError, match="no human baseline for cybench/accuracy"):
        load_catalog([write(tmp_path, none, "none.yaml")], [bundled_registry()])


def test_a_ratio_threshold_explains_its_baseline(tmp_path: Path) -> None:
    from tests.support.factories import obs, series
    from warden.evaluation.evaluate import evaluate, explain

    (t,) = load_catalog([write(tmp_path, RATIO)], [bundled_registry()]).thresholds
    (e,) = evaluate(t, series(obs("m", 0.71)), obs("m", 0).observed_at)
    assert e.verdict.value == "breached"
    expected = "best model: m; 0.71 >= 0.697 (0.697 is 1 x baseline {!r})"
    assert explain(t, e) == expected.format("PhD experts in the question's field")


def test_clear_at_on_the_wrong_side_is_an_error(tmp_path: Path) -> None:
    (t,) = load_catalog(
        [write(tmp_path, GOOD.replace("for: 2", "for: 2\n    clear_at: 0.3"))]
    ).thresholds
    assert t.clear_at == 0.3
    for bad in ("0.5", "0.7"):
        text = GOOD.replace("for: 2", f"for: 2\n    clear_at: {bad}")
        with pytest.raises(CatalogError, match=r"clear_at .* must lie on the safe side"):
            load_catalog([write(tmp_path, text, f"bad{bad}.yaml")])


def test_for_as_a_duration(tmp_path: Path) -> None:
    (t,) = load_catalog([write(tmp_path, GOOD.replace("for: 2", 'for: "6h"'))]).thresholds
    assert (t.for_, t.for_seconds) == (1, 6 * 3600)
    for bad in ('"6 hours"', '"-1h"', '"h"'):
        with pytest.raises(CatalogError, match=r"for: (a count|the duration)"):
            load_catalog([write(tmp_path, GOOD.replace("for: 2", f"for: {bad}"), "bad.yaml")])


def test_keep_firing_for_is_a_duration(tmp_path: Path) -> None:
    text = GOOD.replace("for: 2", 'for: 2\n    keep_firing_for: "2h"')
    (t,) = load_catalog([write(tmp_path, text)]).thresholds
    assert t.keep_firing_for == 7200
    bad = GOOD.replace("for: 2", 'for: 2\n    keep_firing_for: "soon"')
    with pytest.raises(CatalogError, match=r"keep_firing_for: a duration such as"):
        load_catalog([write(tmp_path, bad, "bad.yaml")])


def test_provenance_accounts_for_the_thresholds_own_numbers(tmp_path: Path) -> None:
    text = """
benchmarks: [{id: compute, title: C, metrics: {flop: {scale: flop}}}]
thresholds:
  - id: eu.compute.systemic
    title: Trained with more than 10^25 FLOP
    domain: compute
    level: high
    sources: [{title: EU AI Act art. 51, url: "https://example.org/"}]
    when: {benchmark: compute, metric: flop, op: ">=", value: 1e25}
    warn_at: {margin: 5e24}
    provenance:
      when.value: {kind: source, note: "the Act's presumption of systemic risk"}
      warn_at.margin: {kind: proxy, note: "half the trigger, chosen by us"}
    then: {severity: warning}
"""
    path = write(tmp_path, text)
    (t,) = load_catalog([path]).thresholds
    assert (t.when.value, t.warn_at) == (1e25, 5e24)  # YAML 1.2 numbers: 1e25 is a float
    assert t.provenance["when.value"].kind == "source"
    bad = text.replace("warn_at.margin:", "clear_at:").replace('note: "half', 'note: "h')
    with pytest.raises(CatalogError) as caught:
        load_catalog([write(tmp_path, bad)])
    assert "provenance: clear_at is not a number of this threshold" in str(caught.value)
    assert "(its numbers: warn_at.margin, when.value)" in str(caught.value)
    wrong = text.replace("kind: proxy", "kind: guess")
    with pytest.raises(CatalogError, match=r"provenance\.warn_at\.margin\.kind"):
        load_catalog([write(tmp_path, wrong)])


def test_defaults_do_not_change_a_version() -> None:
    from tests.support.factories import threshold

    plain = threshold()
    explicit = threshold(exclude_vendor_reported=False, missing_uncertainty="point", provenance={})
    assert plain.version == explicit.version
    assert threshold(warn_at=0.41).version != plain.version


PROXY_CRITICAL = """
benchmarks:
  - {id: bench_a, title: A, metrics: {accuracy: {scale: fraction}}}
  - {id: bench_b, title: B, metrics: {accuracy: {scale: fraction}}}
  - {id: bench_c, title: C, metrics: {p50_minutes: {scale: minutes}}}
thresholds:
  - id: lab.proxy.critical
    title: A proxy on one benchmark
    domain: cyber
    level: critical
    sources: [{title: Framework, url: "https://example.org/fw"}]
    when: {benchmark: bench_a, metric: accuracy, op: ">=", value: 0.5}
    provenance:
      when.value: {kind: proxy, note: "chosen by us: the framework states the level in words"}
    then: {severity: critical}
"""


def test_the_loader_refuses_a_critical_proxy_on_one_benchmark(tmp_path: Path) -> None:
    path = write(tmp_path, PROXY_CRITICAL)
    with pytest.raises(CatalogError) as caught:
        load_catalog([path])
    (problem,) = caught.value.problems
    assert problem.where == f"{path}:15"  # the line of `then:`, where severity is set
    assert problem.subject == "lab.proxy.critical"
    assert problem.message.startswith(
        "then.severity: critical rests on a proxy over one benchmark (bench_a/accuracy: "
        "when.value is tagged proxy)"
    )
    assert "lower it to `warning`" in problem.message and "`at_least: 2`" in problem.message
    (t,) = load_catalog(
        [write(tmp_path, PROXY_CRITICAL.replace("critical}", "warning}"))]
    ).thresholds
    assert t.then.severity == "warning" and t.basis.kind == "proxy"
    grey = PROXY_CRITICAL.replace('op: ">=", value: 0.5}', "rule_out: 0.3, rule_in: 0.6}")
    grey = grey.replace("when.value:", "when.rule_in:")
    with pytest.raises(CatalogError, match=r"when\.rule_in is tagged proxy"):
        load_catalog([write(tmp_path, grey)])


def _combined(mode: str, parts: str, tags: str) -> str:
    head = PROXY_CRITICAL.split("    when:")[0]
    tail = "    then: {severity: critical}\n"
    return f"{head}    when:\n      {mode}\n{parts}    provenance:\n{tags}{tail}"


PARTS = """        - {benchmark: bench_a, metric: accuracy, op: ">=", value: 0.5}
        - {benchmark: bench_b, metric: accuracy, op: ">=", value: 0.6}
"""


@pytest.mark.parametrize(
    ("mode", "parts", "allowed"),
    [
        ("all:", PARTS, True),  # both independent benchmarks must agree
        ("at_least: 2\n      of:", PARTS, True),
        ("any:", PARTS, False),  # either proxy alone would page
        ("at_least: 1\n      of:", PARTS, False),
        ("all:", PARTS.replace("bench_b", "bench_a"), False),  # one benchmark, twice
    ],
)
def test_corroboration_over_independent_benchmarks_earns_critical(
    tmp_path: Path, mode: str, parts: str, allowed: bool
) -> None:
    key = "of" if "of:" in mode else mode.rstrip(":")
    tags = "".join(
        f'      when.{key}[{i}].value: {{kind: proxy, note: "chosen by us"}}\n' for i in (0, 1)
    )
    path = write(tmp_path, _combined(mode, parts, tags))
    if allowed:
        (t,) = load_catalog([path]).thresholds
        assert t.then.severity == "critical"
    else:
        with pytest.raises(CatalogError, match=r"then\.severity: critical rests on a proxy"):
            load_catalog([path])


def test_a_framework_number_a_human_assessment_or_an_untagged_level_may_be_critical(
    tmp_path: Path,
) -> None:
    source = PROXY_CRITICAL.replace("kind: proxy", "kind: source")
    assert load_catalog([write(tmp_path, source, "s.yaml")]).thresholds[0].basis.kind == "framework"
    untagged = PROXY_CRITICAL.split("    provenance:")[0] + "    then: {severity: critical}\n"
    assert load_catalog([write(tmp_path, untagged, "u.yaml")]).thresholds[0].basis.kind == (
        "unstated"
    )
    assessment = PROXY_CRITICAL.replace(
        '{benchmark: bench_a, metric: accuracy, op: ">=", value: 0.5}',
        "{since_assessment: {days: 182}}",
    ).replace("when.value:", "when.since_assessment.days:")
    (t,) = load_catalog([write(tmp_path, assessment, "h.yaml")]).thresholds
    assert t.then.severity == "critical" and t.basis.kind == "proxy"


def test_scales_come_from_the_registry_and_leave_the_version_alone(tmp_path: Path) -> None:
    minutes = PROXY_CRITICAL.replace("bench_a, metric: accuracy", "bench_c, metric: p50_minutes")
    minutes = minutes.replace("value: 0.5", "value: 480").replace("critical}", "warning}")
    (t,) = load_catalog([write(tmp_path, minutes)]).thresholds
    assert t.scales == {"bench_c/p50_minutes": "minutes"}
    from warden.catalog.thresholds import Threshold

    bare = Threshold.model_validate(t.model_dump(by_alias=True, exclude_defaults=True))
    assert bare.scales == {} and bare.version == t.version


def test_bundled_levels_stated_in_words_are_proxies_and_no_single_proxy_is_critical() -> None:
    catalog = load_catalog([bundled_catalog()], [bundled_registry()])
    by_id = {t.id: t for t in catalog.thresholds}
    for tid in (
        "autonomy.metr_time_horizon.p50.high",  # RSP's 2-8 hour checkpoint, in words
        "ai_rnd_autonomy.metr_time_horizon.p50.projected",
        "ai_rnd_autonomy.metr_time_horizon.p80.checkpoint",
        "bio_chem.vct.expert_virologist.high",  # OpenAI High and ASL-3 CBRN: no VCT number
        "bio_chem.vct.open_weights.high",
        "bio_chem.vct.state_program.critical",
    ):
        assert by_id[tid].basis.kind == "proxy", tid
    assert by_id["autonomy.metr_time_horizon.p50.high"].provenance["when.value"].kind == "proxy"
    assert by_id["bio_chem.uplift_evidence.at_least_two.high"].basis.numbers[0].kind == "proxy"
    assert by_id["compute.training_compute.eu_systemic_risk.high"].basis.kind == "framework"
    assert by_id["misalignment.mask.lie_rate.high"].basis.kind == "framework"
    critical = {t.id for t in catalog.thresholds if t.then.severity == "critical"}
    assert critical == {
        "ai_rnd_autonomy.rsp_ai_rnd_4.all.high",  # all of three benchmarks
        "bio_chem.uplift_evidence.at_least_two.high",  # at least two of four
        "bio_chem.lab_bench_trio.all.high",
        "misalignment.fsf_instrumental_reasoning.all.high",
        "compute.training_compute.eu_systemic_risk.high",  # the AI Act's own number
        "misalignment.mask.lie_rate.high",  # xAI's own number
    }
