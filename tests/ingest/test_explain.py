"""Ingest explains itself: a file the chosen connector does not read names the connector that
does (by its shape), files passed over by name or suffix are counted and listed with why, and
the end line says new, known, rejected, skipped and not finished (warden/ingest/sniff.py)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from tests.connectors.lm_eval_docs import results_doc
from warden.ingest.sniff import hint, sniff
from warden.interfaces.cli.main import main


def warden(*args: str | Path) -> Result:
    return CliRunner().invoke(main, [str(a) for a in args])


@pytest.fixture
def config(tmp_path: Path, db_url: str) -> Path:
    cfg = tmp_path / "warden.yaml"
    cfg.write_text(f"database_url: {db_url!r}\n")
    return cfg


INSPECT = {"version": 2, "status": "success", "eval": {"task": "t"}, "results": {}}
OBSERVATIONS = [{"model": "m", "benchmark": "b", "metric": "acc", "value": 0.5}]
EPOCH = "Model version,mean_score,Release date,Organization,stderr,id\nx,0.5,2026-01-01,A,0.1,1\n"
EPOCH_MODELS = "Model,Domain,Organization,Training compute (FLOP)\nx,Language,A,1e25\n"
METR = "benchmark_name: METR-Horizon-v1.1\nresults:\n  m:\n    metrics: {}\n"
CARD = "---\nmodel-index:\n- name: m\n  results: []\n---\n# m\n"
SWEBENCH = {"total_instances": 3, "completed_ids": ["a"], "resolved_ids": ["a"]}


@pytest.mark.parametrize(
    ("name", "content", "connector"),
    [
        ("results_2026-01-01.json", json.dumps(results_doc()), "lm_eval"),
        ("2026-01-01_task_abc.json", json.dumps(INSPECT), "inspect_logs"),
        ("batch.json", json.dumps(OBSERVATIONS), "observations_json"),
        ("frontiermath.csv", EPOCH, "epoch_benchmarks"),
        ("notable_ai_models.csv", EPOCH_MODELS, "epoch_models"),
        ("benchmark_results_1_1.yaml", METR, "metr_horizons"),
        ("README.md", CARD, "hf_model_index"),
        ("results.json", json.dumps(SWEBENCH), "swebench"),
        ("runs/x:model=y/stats.json", "[]", "helm"),
        ("notes.txt", "nothing to see", None),
        ("odd.json", '{"a": 1}', None),
    ],
)
def test_sniff_names_the_connector_by_the_shape(
    name: str, content: str, connector: str | None
) -> None:
    found = sniff(name, content.encode())
    assert (found[0] if found else None) == connector
    if connector is not None:
        assert hint(name, content.encode(), connector) == ""  # the right one: no hint


def test_a_file_for_another_connector_names_it(config: Path, tmp_path: Path) -> None:
    results = tmp_path / "results_2026-01-01T00-00-00.json"
    results.write_text(json.dumps(results_doc()))
    r = warden("ingest", "--config", config, results)  # the default connector: inspect_logs
    assert r.exit_code == 1
    assert "missing_field: required field is missing (it looks like lm-eval results: " in r.output
    assert "connector 'lm_eval' reads it)" in r.output
    r = warden("ingest", "--config", config, "--connector", "lm_eval", results)
    assert r.exit_code == 0 and " 0 rejected" in r.output and "looks like" not in r.output


def test_files_passed_over_are_counted_and_listed_with_why(config: Path, tmp_path: Path) -> None:
    run = tmp_path / "runs" / "acme__toy"
    run.mkdir(parents=True)
    (run / "results_2026-01-01T00-00-00.json").write_text(json.dumps(results_doc()))
    (run / "samples_task_2026-01-01T00-00-00.jsonl").write_text("{}\n")
    (run / "model_card.json").write_text("{}")
    r = warden("ingest", "--config", config, "--connector", "lm_eval", tmp_path / "runs")
    assert r.exit_code == 0, r.output
    first = r.output.splitlines()[0]
    assert first.endswith("0 rejected, 2 skipped, 0 not finished; 0 triggers") and " new, " in (
        first
    )
    assert f"  skipped {run / 'model_card.json'}: not named results*.json" in r.output
    assert f"  skipped {run / 'samples_task_2026-01-01T00-00-00.jsonl'}: not one of the" in (
        r.output
    )


def test_a_folder_of_another_format_says_what_reads_it(config: Path, tmp_path: Path) -> None:
    folder = tmp_path / "epoch"
    folder.mkdir()
    (folder / "gpqa_diamond.csv").write_text(EPOCH)
    r = warden("ingest", "--config", config, folder)  # inspect_logs reads *.eval and *.json
    assert "0 new, 0 already known, 1 rejected, 1 skipped, 0 not finished" in r.output
    assert "no Inspect logs (*.eval, *.json) found in the folder" in r.output
    assert (
        f"  skipped {folder / 'gpqa_diamond.csv'}: not one of the Inspect logs (*.eval, *.json) "
        "(it looks like an Epoch AI benchmark table: connector 'epoch_benchmarks' reads it)"
    ) in r.output


@pytest.mark.realdata
def test_the_multi_swe_bench_sample_under_lm_eval_is_explained(
    config: Path, tmp_path: Path, samples: Path
) -> None:
    """`0 new, 0 rejected` and no reason, before."""
    folder = tmp_path / "msb"
    shutil.copytree(samples / "swe-bench" / "multi-swe-bench-experiments", folder)
    r = warden("ingest", "--config", config, "--connector", "lm_eval", folder)
    assert "0 new, 0 already known, 1 rejected, 1 skipped, 0 not finished" in r.output
    assert "(it looks like SWE-bench results: connector 'swebench' reads it)" in r.output
    assert f"skipped {folder / 'metadata.yaml'}: not one of the lm-eval results files" in r.output
