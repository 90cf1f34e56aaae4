"""The lm_eval connector reading sources: folders and files of lm-eval output, any bytes or JSON
(hypothesis), and the real samples in ../shared/samples/lm-eval. Documents: test_lm_eval.py."""

from __future__ import annotations

import copy
import json
import math
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from connectors.lm_eval import LmEval, parse_results
from tests.connectors.conftest import clock
from tests.connectors.lm_eval_docs import (
    DATE,
    LM_EVAL,
    by_id,
    legacy_doc,
    payload,
    results_doc,
)
from thresholds import bundled_catalog, bundled_registry
from warden.catalog.thresholds import load_catalog
from warden.core.errors import ConfigError, ParseError
from warden.core.model import Ignored, Observation, Payload, Rejection
from warden.ingest.connector import Cursor
from warden.ingest.feedrun import run_feed
from warden.store import Store
from warden.store.schema import observations

# -- fetch ------------------------------------------------------------------------------------


def write(path: Path, doc: Any) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(doc if isinstance(doc, str) else json.dumps(doc))
    return path


def output_folder(root: Path) -> Path:
    """What `lm-eval --output_path root --log_samples` leaves after two runs of one model and
    one of another, plus files that are not results."""
    model = root / "acme__toy-7b"
    write(model / "results_2026-01-01T01-00-00.5.json", results_doc())
    later = results_doc()
    later["date"] = DATE + 3600
    write(model / "results_2026-01-01T02-00-00.5.json", later)
    write(root / "acme__legacy-7b" / "results_2023-01-01T00-00-00.json", legacy_doc())
    write(model / "samples_toy_mc_2026-01-01T01-00-00.5.jsonl", '{"doc_id": 0}\n')
    write(model / "notes.json", "not json at all, and not read")
    write(root / ".hidden" / "results_x.json", "not read either")
    return root


def test_folder_reads_only_results_files(tmp_path: Path) -> None:
    fetched = list(LmEval({"source": str(output_folder(tmp_path))}).fetch(Cursor()))
    items = [i for i in fetched if not isinstance(i, Ignored)]
    passed_over = sorted(Path(i.source).name for i in fetched if isinstance(i, Ignored))
    assert passed_over == ["notes.json", "samples_toy_mc_2026-01-01T01-00-00.5.jsonl"]
    assert all(isinstance(i, Payload) for i in items)
    assert sorted(Path(i.source).name for i in items) == [
        "results_2023-01-01T00-00-00.json",
        "results_2026-01-01T01-00-00.5.json",
        "results_2026-01-01T02-00-00.5.json",
    ]


def test_a_file_given_directly_is_read_whatever_its_name(tmp_path: Path) -> None:
    path = write(tmp_path / "acme__toy-7b__mmlu.json", results_doc())
    (item,) = LmEval({"source": str(path)}).fetch(Cursor())
    assert isinstance(item, Payload)
    assert len(LmEval({"source": str(path)}).parse(item)) == 8


def test_folder_without_results_files_is_rejected(tmp_path: Path) -> None:
    write(tmp_path / "model" / "samples_t_2026.jsonl", "{}\n")
    write(tmp_path / "model" / "other.json", {})
    write(tmp_path / ".cache" / "results_x.json", results_doc())  # hidden: never read
    *passed_over, item = LmEval({"source": str(tmp_path)}).fetch(Cursor())
    assert sorted(Path(i.source).name for i in passed_over) == [
        "other.json",
        "samples_t_2026.jsonl",
    ]
    assert all(isinstance(i, Ignored) and "not named results*.json" in i.why for i in passed_over)
    assert isinstance(item, Rejection)
    assert (item.reason, item.source) == ("malformed", str(tmp_path))
    assert "results*.json" in item.message


def test_file_over_max_bytes_is_too_large(tmp_path: Path) -> None:
    path = write(tmp_path / "results_x.json", results_doc())
    (item,) = LmEval({"source": str(path), "max_bytes": 100}).fetch(Cursor())
    assert isinstance(item, Rejection) and item.reason == "too_large"


def test_bad_options_name_the_key() -> None:
    with pytest.raises(ConfigError) as caught:
        LmEval({"source": "", "max_bytes": 0, "colour": "red"}, where="feed lm")
    text = str(caught.value)
    assert all(word in text for word in ("source", "max_bytes", "colour", "feed lm"))


def test_output_folder_ingests_and_reingests_nothing(store: Store, tmp_path: Path) -> None:
    connector = LmEval({"source": str(output_folder(tmp_path))})
    first = run_feed(store, "lm", connector, Cursor(), clock)
    assert (first.ingested, first.rejected, first.error) == (8 + 8 + 3, 0, None)
    again = run_feed(store, "lm", connector, Cursor(), clock)
    assert (again.ingested, again.duplicates, again.rejected) == (0, 19, 0)
    with store.read() as conn:
        rows = conn.execute(select(observations.c.subject, observations.c.observed_at)).all()
    assert {r.subject for r in rows} == {"acme/toy-7b", "acme/legacy-7b"}


def test_registry_maps_lm_eval_task_and_metric_names(store: Store, tmp_path: Path) -> None:
    doc = results_doc()
    doc["results"] = {"wmdp_bio": {"alias": "wmdp_bio", "acc,none": 0.62, "acc_stderr,none": 0.01}}
    doc["n-samples"] = {"wmdp_bio": {"original": 1273, "effective": 1273}}
    del doc["groups"], doc["group_subtasks"]
    write(tmp_path / "results_x.json", doc)
    registry = load_catalog([bundled_catalog()], [bundled_registry()]).registry
    result = run_feed(store, "lm", LmEval({"source": str(tmp_path)}), Cursor(), clock, registry)
    assert (result.ingested, result.rejected) == (1, 0)
    with store.read() as conn:
        (row,) = conn.execute(select(observations)).all()
    assert (row.benchmark, row.metric, row.value, row.n) == ("wmdp_bio", "accuracy", 0.62, 1273)


# -- properties -----------------------------------------------------------------------------------

SETTINGS = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()
    | st.text(max_size=12)
    | st.sampled_from(["N/A", "none", "acc,none", "acc_stderr,none", "pretrained=x"])
)
json_values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner),
    max_leaves=15,
)


@st.composite
def damaged(draw: st.DrawFn) -> Any:
    """The fixture with a few values replaced by anything."""
    doc = copy.deepcopy(draw(st.sampled_from([results_doc(), legacy_doc()])))
    for _ in range(draw(st.integers(1, 4))):
        target = doc
        path = draw(st.lists(st.sampled_from(sorted(_keys(doc))), min_size=0, max_size=3))
        for step in path:
            nxt = target.get(step) if isinstance(target, dict) else None
            if not isinstance(nxt, dict):
                break
            target = nxt
        if isinstance(target, dict) and target:
            target[draw(st.sampled_from(sorted(target)))] = draw(json_values)
    return doc


def _keys(doc: Any) -> set[str]:
    out: set[str] = set()
    if isinstance(doc, dict):
        for k, v in doc.items():
            out |= {k} | _keys(v)
    return out


def assert_storable(items: list[Observation | Rejection]) -> None:
    for o in items:
        if isinstance(o, Rejection):
            assert o.reason in ParseError.REASONS
            continue
        for text in (o.subject, o.benchmark, o.metric):
            assert 0 < len(text) <= 200 and text.isprintable()
        assert math.isfinite(o.value)
        assert o.stderr is None or (math.isfinite(o.stderr) and o.stderr >= 0)
        assert o.n is None or 0 <= o.n < 2**31
        assert o.observed_at.utcoffset() == timedelta(0)
        json.dumps(o.attributes, allow_nan=False)


def parse_or_refuse(content: bytes) -> None:
    try:
        items = parse_results(payload(content))
    except ParseError:
        return
    assert_storable(items)


@SETTINGS
@given(st.binary(max_size=2000))
def test_parse_of_any_bytes_raises_only_parse_errors(content: bytes) -> None:
    parse_or_refuse(content)


@SETTINGS
@given(json_values)
def test_parse_of_any_json_raises_only_parse_errors(doc: Any) -> None:
    parse_or_refuse(json.dumps(doc).encode())


@SETTINGS
@given(damaged())
def test_parse_of_a_damaged_results_file_raises_only_parse_errors(doc: Any) -> None:
    parse_or_refuse(json.dumps(doc).encode())


# -- the shared real samples --------------------------------------------------------------------


def parse_file(path: Path) -> list[Observation]:
    (item,) = LmEval({"source": str(path)}).fetch(Cursor())
    assert isinstance(item, Payload), item
    items = LmEval({"source": str(path)}).parse(item)
    assert all(isinstance(o, Observation) for o in items), items
    return [o for o in items if isinstance(o, Observation)]


@pytest.mark.realdata
def test_generated_dummy_run_with_a_group_and_two_filters(samples: Path) -> None:
    folder = samples / LM_EVAL / "generated_offline"
    fetched = list(LmEval({"source": str(folder)}).fetch(Cursor()))
    items = [i for i in fetched if not isinstance(i, Ignored)]  # the .jsonl and yaml files
    assert all(isinstance(i, Payload) for i in items) and len(items) == 2  # no .jsonl, no yaml
    (path,) = (folder / "vqvnukgg").glob("results_*.json")
    found = by_id(parse_file(path))
    assert set(found) == {
        ("toy_mc", "acc"),
        ("toy_mc", "acc_norm"),
        ("toy_gen", "exact_match/strict-match"),
        ("toy_gen", "exact_match/flexible-extract"),
        ("toy_suite", "acc"),
        ("toy_suite", "exact_match/strict-match"),
    }
    mc = found[("toy_mc", "acc")]
    assert mc.value == pytest.approx(1 / 3) and mc.stderr == pytest.approx(0.14213381090374033)
    assert mc.n == 12
    assert mc.subject == "dummy"  # no model in the args; lm-eval named the run "vqvnukgg"
    assert mc.attributes["model_name"] == "vqvnukgg"
    assert mc.observed_at == datetime(2026, 11, 28, 8, 22, 38, 979322, tzinfo=UTC)
    assert mc.attributes["source_version"] == "0.4.13"
    suite = found[("toy_suite", "acc")]
    assert suite.attributes["group"] is True and suite.n == 12  # sample_count, not sample_len 24
    assert suite.attributes["task_version"] == "1.0"


@pytest.mark.realdata
def test_generated_limit_1_run_has_na_stderr(samples: Path) -> None:
    (path,) = (samples / LM_EVAL / "generated_offline" / "limit1").rglob("results_*.json")
    found = by_id(parse_file(path))
    assert len(found) == 4
    assert {o.subject for o in found.values()} == {"acme/toy-7b"}
    assert all(o.stderr is None and o.n == 1 for o in found.values())
    assert all(o.attributes["partial"] and o.attributes["limit"] == 1.0 for o in found.values())
    assert found[("toy_mc", "acc")].value == 1.0


@pytest.mark.realdata
def test_real_evaleval_file_with_string_model_args(samples: Path) -> None:
    found = by_id(parse_file(next((samples / LM_EVAL / "real_evaleval").glob("results_*.json"))))
    assert set(found) == {
        ("math_perturbed_full", "exact_match"),
        ("math_rephrased_full", "exact_match"),
    }
    o = found[("math_rephrased_full", "exact_match")]
    assert o.subject == "RylanSchaeffer/mem_Qwen3-93M_minerva_math_rep_0_sbst_1.0000_epch_1_ot_1"
    assert (o.value, o.stderr, o.n) == (0.0004, 0.0002828144211304471, 5000)
    assert o.observed_at == datetime(2026, 1, 21, 2, 59, 43, 859322, tzinfo=UTC)
    assert o.attributes["source_version"] == "0.4.9.2"
    assert o.attributes["git_hash"] == "1f84a09f"


@pytest.mark.realdata
def test_real_mmlu_file_with_nested_groups(samples: Path) -> None:
    folder = samples / LM_EVAL / "real_saucam_model_evals"
    found = by_id(parse_file(folder / "saucam__PowerBot-8B__openllm__mmlu.json"))
    assert len(found) == 62  # 57 subjects and 5 groups, each once though in both lists
    groups = {b for (b, _), o in found.items() if o.attributes["group"]}
    assert groups == {"mmlu", "mmlu_humanities", "mmlu_other", "mmlu_social_sciences", "mmlu_stem"}
    mmlu = found[("mmlu", "acc")]
    assert (mmlu.subject, mmlu.value, mmlu.stderr) == (
        "saucam/PowerBot-8B",
        0.666215638797892,
        0.00375487574540659,
    )
    assert mmlu.n == 14042  # every MMLU test question, summed through the subgroups
    assert found[("mmlu_humanities", "acc")].n == 4705
    assert found[("mmlu_humanities", "acc")].attributes["alias"] == "humanities"
    logic = found[("mmlu_formal_logic", "acc")]
    assert (logic.value, logic.n, logic.attributes["n_shot"]) == (0.48412698412698413, 126, 5)
    assert mmlu.observed_at == datetime(2024, 5, 9, 18, 23, 7, 843075, tzinfo=UTC)
    assert mmlu.attributes["source_version"] == "d32ce5cf"  # no lm_eval_version before 0.4.9


@pytest.mark.realdata
def test_real_gsm8k_file_with_two_filters(samples: Path) -> None:
    folder = samples / LM_EVAL / "real_saucam_model_evals"
    found = by_id(parse_file(folder / "meta-llama__Meta-Llama-3-8B-Instruct__openllm__gsm8k.json"))
    strict = found[("gsm8k", "exact_match/strict-match")]
    flexible = found[("gsm8k", "exact_match/flexible-extract")]
    assert len(found) == 2
    assert strict.subject == "meta-llama/Meta-Llama-3-8B-Instruct"  # no model_name: model_args
    assert (strict.value, strict.stderr) == (0.7558756633813495, 0.011832404674077592)
    assert flexible.value == 0.7528430629264594
    assert strict.n is None  # no n-samples in this version
    assert strict.attributes["n_shot"] == 5 and strict.attributes["task_version"] == 3.0
    assert strict.observed_at == datetime(2024, 4, 19, 11, 16, 59, 727847, tzinfo=UTC)


@pytest.mark.realdata
def test_real_legacy_v03_agieval_file(samples: Path) -> None:
    path = samples / LM_EVAL / "real_saucam_model_evals"
    path = path / "saucam__Orpomis-Prime-7B__nous__agieval.legacy_v03.json"
    found = by_id(parse_file(path))
    assert len(found) == 16  # 8 tasks x acc, acc_norm
    o = found[("agieval_sat_math", "acc")]
    assert (o.subject, o.value, o.stderr) == (
        "saucam/Orpomis-Prime-7B",
        0.32727272727272727,
        0.03170679667686021,
    )
    assert o.attributes["timestamp_kind"] == "fetched"
    assert o.observed_at == datetime.fromtimestamp(path.stat().st_mtime, UTC)


@pytest.mark.realdata
def test_real_folder_named_without_results_files_is_rejected(samples: Path) -> None:
    folder = samples / LM_EVAL / "real_saucam_model_evals"
    *passed_over, item = LmEval({"source": str(folder)}).fetch(Cursor())
    assert len(passed_over) == 3 and all(isinstance(i, Ignored) for i in passed_over)
    assert isinstance(item, Rejection) and item.reason == "malformed"


@pytest.mark.realdata
def test_sample_folders_ingest_into_a_store(store: Store, samples: Path) -> None:
    for name, expected in (("generated_offline", 4 + 6), ("real_evaleval", 2)):
        connector = LmEval({"source": str(samples / LM_EVAL / name)})
        result = run_feed(store, name, connector, Cursor(), clock)
        assert (result.ingested, result.rejected, result.error) == (expected, 0, None)
        again = run_feed(store, name, connector, Cursor(), clock)
        assert (again.ingested, again.duplicates) == (0, expected)
