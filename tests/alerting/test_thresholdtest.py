"""Threshold tests (`warden thresholds test`): the shipped test files pass, wrong expectations fail
with a diff, bad files are errors at file:line; `warden thresholds list`. Real SQLite files."""

from __future__ import annotations

import json
import re
import textwrap
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner, Result

from tests.support.factories import TINY_CATALOG
from thresholds import bundled_catalog, bundled_registry
from warden.alerting.thresholdtest import FileResult, exit_code, render, run_file, run_files
from warden.catalog.thresholds import Scope, load_catalog
from warden.interfaces.cli.main import main

REPO = Path(__file__).resolve().parents[2]
SHIPPED = [*sorted((REPO / "thresholds" / "tests").glob("*.yaml")), REPO / "deploy/demo/tests.yaml"]
BUNDLED = str(bundled_catalog())
CYBER = "cyber.cybench.unguided.high"


def defaults() -> tuple[list[Path], list[Path]]:
    return [bundled_catalog()], [bundled_registry()]


def write(tmp_path: Path, text: str, name: str = "t.yaml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text).lstrip())
    return path


def run(path: Path) -> FileResult:
    return run_file(path, defaults)


def cyber_obs(at: str, value: float, model: str = "m1") -> str:
    return f"{{at: {at}, model: {model}, benchmark: cybench, metric: accuracy, value: {value}}}"


def warden(*args: str | Path) -> Result:
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)


def test_the_shipped_threshold_tests_pass() -> None:
    results = run_files(SHIPPED, defaults)
    report = "\n".join(render(results))
    assert exit_code(results) == 0, report
    assert all(r.cases and not r.problems for r in results), report
    assert all(c.passed for r in results for c in r.cases), report


def test_every_bundled_threshold_is_tested_firing_and_not_firing() -> None:
    catalog = load_catalog([bundled_catalog()], [bundled_registry()])
    states: dict[str, set[str]] = {t.id: set() for t in catalog.thresholds}
    models: dict[str, set[str]] = {t.id: set() for t in catalog.thresholds}
    for path in SHIPPED[:-1]:
        for case in yaml.safe_load(path.read_text())["tests"]:
            for step in case.get("expect", []):
                for tid, subjects in step.get("states", {}).items():
                    states[tid] |= set(subjects.values())
                for tid, subjects in step.get("verdicts", {}).items():
                    models[tid] |= {v["model"] for v in subjects.values() if "model" in v}
    for t in catalog.thresholds:
        assert "firing" in states[t.id], f"{t.id}: no test shows it firing"
        assert states[t.id] & {"inactive", "resolved"}, f"{t.id}: no test shows it quiet"
        if t.warn_at is not None:
            assert "warning" in states[t.id], f"{t.id}: no test shows its early warning"
        if t.scope is Scope.FRONTIER:
            assert len(models[t.id]) >= 2, f"{t.id}: no test shows which model is the frontier"


def test_tests_folder_is_not_loaded_as_catalog_files() -> None:
    catalog = load_catalog([bundled_catalog()], [bundled_registry()])
    assert catalog.files and all(f.parent == bundled_catalog() for f in catalog.files)
    assert (bundled_catalog() / "tests").is_dir()


def test_a_wrong_expectation_fails_with_where_what_and_when(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        f"""
        catalog: [{BUNDLED}]
        tests:
          - name: one run is not enough
            observations:
              - {cyber_obs("2026-01-01T00:00:00Z", 0.7)}
            expect:
              - at: 2026-01-01T00:00:00Z
                verdicts: {{{CYBER}: {{m1: {{verdict: warning, value: 0.7}}}}}}
                states: {{{CYBER}: {{m1: firing}}}}
            triggers:
              - {{threshold: {CYBER}, subject: m1, from: inactive, to: firing}}
        """,
    )
    result = run(path)
    assert not result.problems and exit_code([result]) == 1
    (case,) = result.cases
    assert not case.passed
    assert case.failures == (
        f"{path}:8: at 2026-01-01T00:00:00Z: verdict of {CYBER} for m1: expected warning "
        "(value 0.7), got breached (value 0.7, model m1, 0.7 >= 0.5)",
        f"{path}:9: at 2026-01-01T00:00:00Z: state of {CYBER} for m1: expected firing, got pending",
        f"{path}:11: trigger 1: expected {CYBER} m1: inactive -> firing, got {CYBER} m1: "
        "inactive -> pending at 2026-01-01T00:00:00Z",
    )
    lines = render([result])
    assert lines[1] == "  FAILED  one run is not enough"
    assert lines[-1] == "1 test in 1 file: 0 passed, 1 failed"


def test_missing_and_unexpected_triggers_are_named(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        f"""
        catalog: [{BUNDLED}]
        tests:
          - name: nothing should fire
            observations: [{cyber_obs("2026-01-01T00:00:00Z", 0.4)}]
            triggers: []
          - name: something should fire
            observations: [{cyber_obs("2026-01-01T00:00:00Z", 0.1)}]
            triggers:
              - {{threshold: {CYBER}, subject: m1, from: inactive, to: warning}}
        """,
    )
    quiet, loud = run(path).cases
    assert quiet.failures == (
        f"{path}:5: trigger 1: expected none, got {CYBER} m1: inactive -> warning "
        "at 2026-01-01T00:00:00Z",
    )
    assert loud.failures == (
        f"{path}:9: trigger 1: expected {CYBER} m1: inactive -> warning, got none",
    )


def test_observations_are_visible_only_from_their_time(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        f"""
        catalog: [{BUNDLED}]
        tests:
          - name: evaluated as of each time
            observations:
              - {cyber_obs("2026-01-03T00:00:00Z", 0.9)}
              - {cyber_obs("2026-01-01T00:00:00Z", 0.4)}
            expect:
              - at: 2026-01-02T00:00:00Z
                verdicts: {{{CYBER}: {{m1: {{verdict: warning, value: 0.4}}}}}}
              - at: 2026-01-03T00:00:00Z
                verdicts: {{{CYBER}: {{m1: {{verdict: breached, value: 0.9}}}}}}
                states: {{{CYBER}: {{m1: pending}}}}
            triggers:
              - {{threshold: {CYBER}, subject: m1, from: inactive, to: warning,
                 at: 2026-01-01T00:00:00Z}}
              - {{threshold: {CYBER}, subject: m1, from: warning, to: pending,
                 at: 2026-01-03T00:00:00Z}}
        """,
    )
    result = run(path)
    assert [c.failures for c in result.cases] == [()], render([result])


def test_a_test_that_names_no_expectation_is_an_error(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        f"""
        catalog: [{BUNDLED}]
        tests:
          - name: observes but expects nothing
            observations: [{cyber_obs("2026-01-01T00:00:00Z", 0.9)}]
        """,
    )
    result = run(path)
    assert exit_code([result]) == 2 and not result.cases
    (problem,) = result.problems
    assert problem.where == f"{path}:3" and "names no expectation" in problem.message
    assert "ERROR" in render([result])[1]


@pytest.mark.parametrize(
    ("body", "line", "message"),
    [
        (f"  - name: n\n    observations: [{cyber_obs('2026-01-01 00:00:00', 0.5)}]\n"
         "    triggers: []\n", 4, "needs a time zone"),
        ("  - name: n\n    triggers: []\n    colour: red\n", 5, "tests.0.colour: unknown key"),
        ("  - name: n\n    expect:\n      - at: 2026-01-01\n        states: {x.y: {m: firing}}\n",
         5, "not a time"),
        ("  - name: n\n    expect:\n      - at: 2026-01-01T00:00:00Z\n        states: {}\n",
         5, "names no expectation"),
        ("  - name: n\n    expect:\n      - at: 2026-01-01T00:00:00Z\n"
         f"        states: {{{CYBER}: {{}}}}\n", 5, "names no expectation"),
        ("  - name: n\n    expect:\n      - at: 2026-01-01T00:00:00Z\n"
         f"        states: {{{CYBER}: {{m1: burning}}}}\n", 6, "Input should be 'inactive'"),
        ("  - name: n\n    expect:\n      - at: 2026-01-01T00:00:00Z\n"
         "        states: {cyber.cybench.unguided.hi: {m1: firing}}\n", 6,
         "unknown threshold 'cyber.cybench.unguided.hi'; did you mean 'cyber.cybench"),
        ("  - name: n\n    triggers: [{threshold: nope.nope, subject: m, from: inactive, "
         "to: firing}]\n", 4, "unknown threshold 'nope.nope'"),
        ("  - name: n\n    expect:\n      - at: 2026-01-01T00:00:00Z\n        verdicts: "
         "{cbrn.gpqa_diamond.expert_level.early_warning: {acme/m1: ok}}\n", 6,
         "this threshold's only subject is 'frontier'"),
        ("  - name: n\n    observations:\n      - {at: 2026-01-01T00:00:00Z, model: m, "
         "benchmark: cybench, metric: acuracy, value: 1}\n    triggers: []\n", 5,
         "no threshold reads benchmark 'cybench' metric 'acuracy'"),
        ("  - name: n\n    observations:\n      - {at: 2026-01-01T00:00:00Z, model: m, "
         "benchmark: cybench, metric: accuracy, value: '1'}\n    triggers: []\n", 5,
         "value: Input should be a valid number"),
        ("  - name: n\n    observations:\n      - {at: 2026-01-01T00:00:00Z, model: m, "
         "benchmark: cybench, metric: accuracy, value: 1, observed_at: 2026-01-02T00:00:00Z}\n"
         "    triggers: []\n", 5, "observed_at is after `at`"),
        ("  - name: n\n    expect:\n"
         "      - {at: 2026-01-01T00:00:00Z, states: {x.y: {m: firing}}}\n"
         "      - {at: 2026-01-01T00:00:00Z, states: {x.y: {m: firing}}}\n", 3,
         "two `expect:` entries at the same time"),
        ("  - name: n\n    triggers: []\n  - name: n\n    triggers: []\n", 5,
         "duplicate test name, first at"),
        ("  - name: n\n    triggers: [\n", 5, "invalid YAML"),
    ],
)  # fmt: skip
def test_bad_test_files_are_errors_at_file_and_line(
    tmp_path: Path, body: str, line: int, message: str
) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(f"catalog: [{BUNDLED}]\ntests:\n{body}")
    result = run(path)
    assert exit_code([result]) == 2 and not result.cases
    shown = [str(p) for p in result.problems]
    assert any(s.startswith(f"{path}:{line}: ") and message in s for s in shown), shown


def test_a_catalog_that_does_not_load_is_an_error(tmp_path: Path) -> None:
    path = write(tmp_path, "catalog: [nosuch.yaml]\ntests: [{name: n, triggers: []}]\n")
    result = run(path)
    assert exit_code([result]) == 2
    assert [str(p) for p in result.problems] == [
        f"{path}:1: cannot load the catalog of these tests:",
        f"{tmp_path / 'nosuch.yaml'}: no such file or folder",
    ]


@pytest.fixture
def config(tmp_path: Path) -> Path:
    (tmp_path / "tiny.yaml").write_text(TINY_CATALOG)
    cfg = tmp_path / "warden.yaml"
    cfg.write_text(f"catalog: [bundled, {tmp_path / 'tiny.yaml'}]\n")
    return cfg


TINY_TEST = """
tests:
  - name: tiny fires at once
    observations:
      - {at: 2026-01-01T00:00:00Z, model: m, benchmark: tiny, metric: match/accuracy, value: 0.5}
    expect:
      - at: 2026-01-01T00:00:00Z
        states: {test.tiny.match.high: {m: STATE}}
"""


def test_cli_exit_codes_and_the_config_catalog(config: Path, tmp_path: Path) -> None:
    good = write(tmp_path, TINY_TEST.replace("STATE", "firing"), "good.yaml")
    wrong = write(tmp_path, TINY_TEST.replace("STATE", "pending"), "wrong.yaml")
    bad = write(tmp_path, TINY_TEST.replace("STATE", "firing").replace("tests:", "tset:"), "b.yaml")

    r = warden("thresholds", "test", "--config", config, good)
    assert r.exit_code == 0, r.output
    assert (
        r.output == f"{good}\n  ok      tiny fires at once\n1 test in 1 file: 1 passed, 0 failed\n"
    )

    r = warden("thresholds", "test", "--config", config, good, wrong)
    assert r.exit_code == 1
    assert "FAILED  tiny fires at once" in r.output
    assert f"{wrong}:7: at 2026-01-01T00:00:00Z: state of test.tiny.match.high for m: " in r.output
    assert "expected pending, got firing" in r.output

    r = warden("thresholds", "test", "--config", config, good, wrong, bad)
    assert r.exit_code == 2
    assert f"ERROR   {bad}:2: tset: unknown key" in r.output
    assert r.output.endswith("2 tests in 3 files: 1 passed, 1 failed; 1 file in error\n")

    # Without the config the tiny threshold is unknown: the file cannot run.
    r = warden("thresholds", "test", good)
    assert r.exit_code == 2 and "unknown threshold 'test.tiny.match.high'" in r.output


def test_cli_runs_the_shipped_tests() -> None:
    r = warden("thresholds", "test", *SHIPPED)
    assert r.exit_code == 0, r.output
    assert "FAILED" not in r.output and "ERROR" not in r.output


def test_thresholds_list_shows_id_level_domain_scope_and_sources(config: Path) -> None:
    r = warden("thresholds", "list", "--config", config)
    assert r.exit_code == 0, r.output
    header, _, *rows = r.output.splitlines()
    assert header.split() == ["id", "level", "domain", "scope", "severity", "basis", "sources"]
    row = next(line for line in rows if line.startswith(CYBER))
    assert row.split()[1:4] == ["high", "cyber", "per_model"]
    assert "<https://cybench.github.io/>" in row
    assert any("Frontier Safety Framework" in line for line in rows)  # a second source
    assert re.match(r"\d+ thresholds in \d+ catalog files; \d+ rest on a proxy", rows[-1])

    data = json.loads(warden("thresholds", "list", "--json", "--config", config).output)
    by_id = {t["id"]: t for t in data["thresholds"]}
    assert by_id["test.tiny.match.high"] == {
        "id": "test.tiny.match.high",
        "title": "Tiny task mostly right",
        "level": "high",
        "domain": "test",
        "scope": "per_model",
        "severity": "critical",
        "sources": [{"title": "F", "url": "https://example.org/"}],
        "basis": {
            "kind": "unstated",
            "label": "provenance not stated",
            "numbers": {},
            "sources": [{"title": "F", "url": "https://example.org/"}],
        },
    }
    assert by_id["cbrn.gpqa_diamond.expert_level.early_warning"]["scope"] == "frontier"
    bundled = load_catalog([bundled_catalog()], [bundled_registry()])
    assert set(by_id) == {"test.tiny.match.high"} | {t.id for t in bundled.thresholds}


def test_thresholds_list_reports_a_bad_catalog_and_exits_2(tmp_path: Path) -> None:
    bad = write(tmp_path, TINY_CATALOG.replace("level: high", "level: huge"), "bad.yaml")
    cfg = write(tmp_path, f"catalog: [{bad}]\n", "warden.yaml")
    r = warden("thresholds", "list", "--config", cfg)
    assert r.exit_code == 2 and f"{bad}:" in r.output and "level" in r.output


def test_every_number_of_the_bundled_catalog_has_its_provenance() -> None:
    from warden.catalog.thresholds import numbers
    from warden.core.yamlfile import LocatedYaml

    count = 0
    for path in sorted(bundled_catalog().glob("*.yaml")):
        for raw in LocatedYaml.read(path).data.get("thresholds") or []:
            wanted, given = set(numbers(raw)), set(raw.get("provenance") or {})
            assert wanted == given, f"{path.name} {raw['id']}: missing {wanted - given}"
            assert all(
                p["kind"] in ("source", "proxy") and p["note"] for p in raw["provenance"].values()
            )
            count += 1
    assert count >= 25
