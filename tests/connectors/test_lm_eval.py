"""The lm-evaluation-harness connector: project-written results files in the harness's real
shapes (0.4.x with groups, filters and "N/A" stderr; 0.4.2-style string model args; legacy v0.3),
bad input of every kind, and the shared real samples (realdata)."""

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
from thresholds import bundled_catalog, bundled_registry
from warden.catalog import load_catalog
from warden.connector import Cursor, sha256
from warden.errors import ConfigError, ParseError
from warden.ingest import run_feed
from warden.model import Observation, Payload, Rejection
from warden.store import Store
from warden.store.schema import observations

DATE = 1767225600.25  # 2026-01-01T00:00:00.25Z
WHEN = datetime(2026, 1, 1, 0, 0, 0, 250000, tzinfo=UTC)
MTIME = datetime(2026, 2, 2, 12, tzinfo=UTC)
LM_EVAL = Path("lm-eval")


def suite_row() -> dict[str, Any]:
    """The group row: the same numbers in `results` and in `groups` (no sample_count, as
    before 0.4.13)."""
    return {
        "alias": "toy_suite",
        "acc,none": 0.75,
        "acc_stderr,none": 0.07,
        "exact_match,strict-match": 0.25,
        "exact_match_stderr,strict-match": "N/A",
    }


def results_doc() -> dict[str, Any]:
    """A 0.4.9-style results file: a group of two tasks, a generate task with two filters, a
    perplexity task, "N/A" stderrs, string model args."""
    return {
        "results": {
            "toy_suite": suite_row(),
            "toy_mc": {
                "alias": " - toy_mc",
                "acc,none": 0.75,
                "acc_stderr,none": 0.07,
                "acc_norm,none": 0.5,
                "acc_norm_stderr,none": "N/A",
            },
            "toy_gen": {
                "alias": " - toy_gen",
                "exact_match,strict-match": 0.25,
                "exact_match_stderr,strict-match": "N/A",
                "exact_match,flexible-extract": 0.5,
                "exact_match_stderr,flexible-extract": 0.11,
            },
            "wikitext": {
                "alias": "wikitext",
                "word_perplexity,none": 12.5,
                "word_perplexity_stderr,none": "N/A",
                "bits_per_byte,none": 0.61,
                "bits_per_byte_stderr,none": "N/A",
            },
        },
        "groups": {"toy_suite": suite_row()},
        "group_subtasks": {"toy_suite": ["toy_mc", "toy_gen"], "wikitext": []},
        "configs": {"toy_mc": {"task": "toy_mc", "num_fewshot": 5}},
        "versions": {"toy_suite": "1.0", "toy_mc": 1.0, "toy_gen": 2.0, "wikitext": 2},
        "n-shot": {"toy_suite": 0, "toy_mc": 5, "toy_gen": 5, "wikitext": 0},
        "higher_is_better": {
            "toy_mc": {"acc": True, "acc_norm": True},
            "wikitext": {"word_perplexity": False, "bits_per_byte": False},
        },
        "n-samples": {
            "toy_mc": {"original": 40, "effective": 40},
            "toy_gen": {"original": 20, "effective": 20},
            "wikitext": {"original": 62, "effective": 62},
        },
        "config": {
            "model": "hf",
            "model_args": "pretrained=acme/toy-7b,dtype=auto,trust_remote_code=False",
            "batch_size": "auto",
            "limit": None,
            "bootstrap_iters": 100000,
        },
        "git_hash": "1f84a09f",
        "date": DATE,
        "lm_eval_version": "0.4.9.2",
        "model_source": "hf",
        "model_name": "acme/toy-7b",
        "model_name_sanitized": "acme__toy-7b",
        "start_time": 1156433.566745526,  # perf_counter values, not wall-clock times
        "end_time": 1157844.907744182,
        "total_evaluation_time_seconds": "1411.34",
    }


def legacy_doc() -> dict[str, Any]:
    """A v0.3 results file: no filter in the keys, no date, no n-samples."""
    return {
        "results": {
            "agieval_sat_math": {
                "acc": 0.33,
                "acc_stderr": 0.03,
                "acc_norm": 0.32,
                "acc_norm_stderr": 0.031,
            },
            "agieval_lsat_ar": {"acc": 0.18, "acc_stderr": 0.025},
        },
        "versions": {"agieval_sat_math": 0, "agieval_lsat_ar": 0},
        "config": {
            "model": "hf-causal",
            "model_args": "pretrained=acme/legacy-7b,trust_remote_code=False",
            "num_fewshot": 0,
            "no_cache": False,
            "limit": None,
        },
    }


def payload(doc: Any, source: str = "results_2026-01-01T01-00-00.5.json") -> Payload:
    content = doc if isinstance(doc, bytes) else json.dumps(doc).encode()
    return Payload(source, content, sha256(content), fetched_at=MTIME)


def parse(doc: Any) -> list[Observation]:
    items = parse_results(payload(doc))
    assert all(isinstance(o, Observation) for o in items), items
    return [o for o in items if isinstance(o, Observation)]


def by_id(items: list[Observation]) -> dict[tuple[str, str], Observation]:
    out = {(o.benchmark, o.metric): o for o in items}
    assert len(out) == len(items), "a (benchmark, metric) pair repeats"
    return out


def error(doc: Any) -> ParseError:
    with pytest.raises(ParseError) as caught:
        parse_results(payload(doc))
    return caught.value


def split(doc: Any) -> tuple[list[Observation], list[Rejection]]:
    items = parse_results(payload(doc))
    return (
        [o for o in items if isinstance(o, Observation)],
        [r for r in items if isinstance(r, Rejection)],
    )


# -- tasks, metrics, filters ------------------------------------------------------------------


def test_every_task_metric_and_filter_is_one_observation() -> None:
    found = by_id(parse(results_doc()))
    assert set(found) == {
        ("toy_suite", "acc"),
        ("toy_suite", "exact_match/strict-match"),
        ("toy_mc", "acc"),
        ("toy_mc", "acc_norm"),
        ("toy_gen", "exact_match/strict-match"),
        ("toy_gen", "exact_match/flexible-extract"),
        ("wikitext", "word_perplexity"),
        ("wikitext", "bits_per_byte"),
    }
    o = found[("toy_mc", "acc")]
    assert (o.subject, o.value, o.stderr, o.n) == ("acme/toy-7b", 0.75, 0.07, 40)
    assert o.attributes["filter"] == "none"
    flexible = found[("toy_gen", "exact_match/flexible-extract")]
    assert (flexible.value, flexible.stderr, flexible.n) == (0.5, 0.11, 20)
    assert flexible.attributes["filter"] == "flexible-extract"


def test_na_stderr_is_none() -> None:
    found = by_id(parse(results_doc()))
    assert found[("toy_mc", "acc_norm")].stderr is None
    assert found[("toy_gen", "exact_match/strict-match")].stderr is None
    assert found[("wikitext", "word_perplexity")].stderr is None


def test_the_benchmark_is_the_task_key_and_the_alias_an_attribute() -> None:
    found = by_id(parse(results_doc()))
    o = found[("toy_mc", "acc")]
    assert o.benchmark == "toy_mc"
    assert o.attributes["alias"] == "toy_mc"  # " - toy_mc" without the indentation


def test_accuracy_is_a_fraction_and_perplexity_is_not() -> None:
    found = by_id(parse(results_doc()))
    assert found[("toy_mc", "acc")].attributes["scale"] == "fraction"
    assert found[("toy_gen", "exact_match/strict-match")].attributes["scale"] == "fraction"
    assert found[("wikitext", "word_perplexity")].attributes["scale"] == "points"
    assert found[("wikitext", "bits_per_byte")].attributes["scale"] == "points"
    assert found[("wikitext", "word_perplexity")].attributes["higher_is_better"] is False


@pytest.mark.parametrize("metric", ["f1", "mcc", "bleu", "ter", "byte_perplexity"])
def test_metrics_of_uncertain_scale_are_points(metric: str) -> None:
    doc = results_doc()
    doc["results"]["wikitext"][f"{metric},none"] = 42.0
    assert by_id(parse(doc))[("wikitext", metric)].attributes["scale"] == "points"


def test_a_fraction_metric_outside_0_1_is_rejected_alone() -> None:
    doc = results_doc()
    doc["results"]["toy_mc"]["acc,none"] = 75.0  # a percentage written into a results file
    found, rejections = split(doc)
    (r,) = rejections
    assert (r.reason, r.record, r.field) == ("invalid_value", "toy_mc", "results.toy_mc.acc,none")
    assert "percentage" in r.message
    assert ("toy_mc", "acc_norm") in by_id(found)


def test_a_metric_name_with_a_comma_splits_on_the_last_one() -> None:
    doc = results_doc()
    doc["results"]["wikitext"]["f1,macro,none"] = 0.5
    o = by_id(parse(doc))[("wikitext", "f1,macro")]
    assert o.attributes["filter"] == "none"


# -- groups -----------------------------------------------------------------------------------


def test_group_rows_are_emitted_once_and_flagged() -> None:
    items = parse(results_doc())
    suite = [o for o in items if o.benchmark == "toy_suite"]
    assert sorted(o.metric for o in suite) == ["acc", "exact_match/strict-match"]
    assert all(o.attributes["group"] is True for o in suite)
    assert all(o.attributes["group"] is False for o in items if o.benchmark != "toy_suite")
    assert by_id(items)[("toy_suite", "acc")].attributes["task_version"] == "1.0"


def test_group_n_counts_only_members_with_the_metric() -> None:
    found = by_id(parse(results_doc()))
    assert found[("toy_suite", "acc")].n == 40  # toy_mc only: toy_gen has no acc
    assert found[("toy_suite", "exact_match/strict-match")].n == 20  # toy_gen only


def test_group_sample_count_is_used_when_given() -> None:
    doc = results_doc()
    doc["results"]["toy_suite"]["sample_count"] = {"acc,none": 39, "exact_match,strict-match": 19}
    found = by_id(parse(doc))
    assert (found[("toy_suite", "acc")].n, found[("toy_suite", "exact_match/strict-match")].n) == (
        39,
        19,
    )


def test_nested_groups_sum_their_leaves() -> None:
    doc = results_doc()
    doc["results"]["outer"] = {"alias": "outer", "acc,none": 0.7}
    doc["groups"]["outer"] = doc["results"]["outer"]
    doc["group_subtasks"]["outer"] = ["toy_suite", "other_mc"]
    doc["results"]["other_mc"] = {"alias": " - other_mc", "acc,none": 0.6}
    doc["n-samples"]["other_mc"] = {"original": 10, "effective": 10}
    found = by_id(parse(doc))
    assert found[("outer", "acc")].n == 50
    assert found[("outer", "acc")].attributes["group"] is True


def test_group_with_a_member_of_unknown_size_has_no_n() -> None:
    doc = results_doc()
    del doc["n-samples"]["toy_mc"]
    assert by_id(parse(doc))[("toy_suite", "acc")].n is None


def test_groups_that_name_each_other_do_not_loop() -> None:
    doc = results_doc()
    doc["group_subtasks"] = {"toy_suite": ["toy_mc", "loop"], "loop": ["toy_suite"]}
    doc["results"]["loop"] = {"acc,none": 0.5}
    found = by_id(parse(doc))  # no endless recursion: a cycle leaves the count unknown
    assert found[("toy_suite", "acc")].n is None and found[("loop", "acc")].n is None
    assert found[("loop", "acc")].attributes["group"] is True
    assert found[("toy_mc", "acc")].n == 40


def test_a_group_only_in_groups_is_still_read() -> None:
    doc = results_doc()
    del doc["results"]["toy_suite"]
    assert by_id(parse(doc))[("toy_suite", "acc")].attributes["group"] is True


def test_task_with_an_empty_subtask_list_is_not_a_group() -> None:
    assert by_id(parse(results_doc()))[("wikitext", "bits_per_byte")].attributes["group"] is False


# -- samples, time, model, provenance ---------------------------------------------------------


def test_n_is_the_effective_sample_count_and_a_limit_marks_the_run_partial() -> None:
    doc = results_doc()
    doc["config"]["limit"] = 1.0
    doc["n-samples"]["toy_mc"] = {"original": 40, "effective": 1}
    found = by_id(parse(doc))
    assert found[("toy_mc", "acc")].n == 1
    assert all(o.attributes["partial"] for o in found.values())
    assert found[("toy_mc", "acc")].attributes["limit"] == 1.0
    assert not by_id(parse(results_doc()))[("toy_mc", "acc")].attributes["partial"]


def test_sample_len_gives_n_when_n_samples_is_absent() -> None:
    doc = results_doc()
    del doc["n-samples"]
    doc["results"]["toy_mc"]["sample_len"] = 12
    found = by_id(parse(doc))
    assert found[("toy_mc", "acc")].n == 12
    assert found[("toy_gen", "exact_match/strict-match")].n is None


@pytest.mark.parametrize("count", [2**31, -1, True, 1.5, "12"])
def test_implausible_sample_counts_are_dropped(count: object) -> None:
    doc = results_doc()
    doc["n-samples"]["toy_mc"]["effective"] = count
    assert by_id(parse(doc))[("toy_mc", "acc")].n is None


def test_observed_at_is_the_date_in_utc_not_the_file_name() -> None:
    for o in parse(results_doc()):
        assert o.observed_at == WHEN and o.observed_at.utcoffset() == timedelta(0)
        assert o.attributes["timestamp_kind"] == "run_start"


@pytest.mark.parametrize(
    ("args", "model_name", "expected"),
    [
        ("pretrained=org/base,dtype=auto", "org/base", "org/base"),
        ({"pretrained": "org/base", "revision": "main"}, "org/base", "org/base"),
        ("pretrained=org/base,peft=org/adapter", "org/adapter", "org/adapter"),
        ("model=gpt-4o-mini,max_tokens=10", "gpt-4o-mini", "gpt-4o-mini"),
        ("pretrained_model=org/x", "org/x", "org/x"),  # lm-eval's substring match found it
        ({}, "vqvnukgg", "hf"),  # a random name: no model in the args, so the backend
        ("", "", "hf"),
        (None, "org/only-name", "org/only-name"),
    ],
)
def test_model_id_comes_from_the_model_args(args: object, model_name: str, expected: str) -> None:
    doc = results_doc()
    doc["config"]["model_args"] = args
    doc["model_name"] = model_name
    assert {o.subject for o in parse(doc)} == {expected}


def test_no_model_at_all_is_a_parse_error() -> None:
    doc = results_doc()
    doc["config"] = {"model_args": {}}
    del doc["model_name"]
    e = error(doc)
    assert (e.reason, e.field) == ("missing_field", "config.model_args")


def test_versions_and_provenance_are_attributes() -> None:
    o = by_id(parse(results_doc()))[("toy_mc", "acc")]
    assert o.attributes["source_version"] == "0.4.9.2"
    assert o.attributes["git_hash"] == "1f84a09f"
    assert o.attributes["task_version"] == 1.0
    assert o.attributes["n_shot"] == 5
    assert o.attributes["model_backend"] == "hf"
    assert o.attributes["record"] == "toy_mc"
    assert o.source == "results_2026-01-01T01-00-00.5.json"
    assert o.content_hash == payload(results_doc()).content_hash
    doc = results_doc()
    del doc["lm_eval_version"]
    assert by_id(parse(doc))[("toy_mc", "acc")].attributes["source_version"] == "1f84a09f"


def test_keys_are_stable_distinct_and_name_the_run() -> None:
    first, again = parse(results_doc()), parse(results_doc())
    assert [o.key for o in first] == [o.key for o in again]
    assert len({o.key for o in first}) == len(first)
    later = results_doc()
    later["date"] = DATE + 60
    assert not {o.key for o in first} & {o.key for o in parse(later)}
    other = results_doc()
    other["config"]["model_args"] = "pretrained=acme/other-7b"
    assert not {o.key for o in first} & {o.key for o in parse(other)}


# -- legacy v0.3 ------------------------------------------------------------------------------


def test_legacy_file_has_metrics_without_filters() -> None:
    found = by_id(parse(legacy_doc()))
    assert set(found) == {
        ("agieval_sat_math", "acc"),
        ("agieval_sat_math", "acc_norm"),
        ("agieval_lsat_ar", "acc"),
    }
    o = found[("agieval_sat_math", "acc_norm")]
    assert (o.subject, o.value, o.stderr, o.n) == ("acme/legacy-7b", 0.32, 0.031, None)
    assert o.attributes["filter"] is None and o.attributes["task_version"] == 0


def test_undated_file_is_dated_by_its_modification_time_and_keyed_by_content() -> None:
    items = parse(legacy_doc())
    assert {(o.observed_at, o.attributes["timestamp_kind"]) for o in items} == {(MTIME, "fetched")}
    content = payload(legacy_doc()).content
    with pytest.raises(ParseError) as caught:  # no modification time either: nothing to date by
        parse_results(Payload("copy.json", content, sha256(content)))
    assert (caught.value.reason, caught.value.field) == ("missing_field", "date")
    changed = legacy_doc()
    changed["results"]["agieval_lsat_ar"]["acc"] = 0.19
    assert not {o.key for o in items} & {o.key for o in parse(changed)}


# -- bad records: rejected alone ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "value", "field"),
    [
        ("acc,none", float("nan"), "acc,none"),
        ("acc,none", float("inf"), "acc,none"),
        ("acc,none", "0.75", "acc,none"),
        ("acc,none", True, "acc,none"),
        ("acc,none", None, "acc,none"),
        ("acc,none", 10**400, "acc,none"),
        ("acc_stderr,none", -0.1, "acc_stderr,none"),
        ("acc_stderr,none", float("inf"), "acc_stderr,none"),
        ("acc_stderr,none", False, "acc_stderr,none"),
        ("acc_stderr,none", "n/a?", "acc_stderr,none"),
    ],
)
def test_a_bad_number_rejects_that_metric_only(key: str, value: object, field: str) -> None:
    doc = results_doc()
    doc["results"]["toy_mc"][key] = value
    found, rejections = split(doc)
    (r,) = rejections
    assert (r.reason, r.record, r.field) == ("invalid_value", "toy_mc", f"results.toy_mc.{field}")
    assert r.message and r.source == "results_2026-01-01T01-00-00.5.json"
    assert ("toy_mc", "acc") not in by_id(found)
    assert len(found) == 7


def test_nan_stderr_is_unknown_not_rejected() -> None:
    doc = results_doc()
    doc["results"]["toy_mc"]["acc_stderr,none"] = float("nan")
    assert by_id(parse(doc))[("toy_mc", "acc")].stderr is None


@pytest.mark.parametrize("row", [[1, 2], "acc", None, 0.5])
def test_a_task_that_is_not_an_object_is_rejected_alone(row: object) -> None:
    doc = results_doc()
    doc["results"]["toy_gen"] = row
    found, rejections = split(doc)
    assert [(r.record, r.field) for r in rejections] == [("toy_gen", "results.toy_gen")]
    assert len(found) == 6


@pytest.mark.parametrize("task", ["t" * 201, "bad\nname"])
def test_a_task_name_that_is_not_an_id_is_rejected_alone(task: str) -> None:
    doc = results_doc()
    doc["results"][task] = {"acc,none": 0.5}
    found, rejections = split(doc)
    (r,) = rejections
    assert r.reason == "invalid_value" and len(found) == 8


def test_an_overlong_metric_id_is_rejected_alone() -> None:
    doc = results_doc()
    doc["results"]["toy_mc"]["m" * 150 + ",f" + "x" * 60] = 0.5
    found, rejections = split(doc)
    assert [r.record for r in rejections] == ["toy_mc"] and len(found) == 8


def test_unknown_metadata_keys_are_ignored() -> None:
    doc = results_doc()
    doc["results"]["toy_mc"].update(name="toy_mc", sample_len=40, note={"free": "text"})
    assert len(parse(doc)) == 8


# -- bad files: rejected whole --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("content", "reason", "field"),
    [
        (b"", "malformed", None),
        (b"<!DOCTYPE html><html><body>Not found</body></html>", "malformed", None),
        (json.dumps(results_doc()).encode()[:300], "truncated", None),  # a cut download
        (b"[1, 2]", "malformed", None),
        (b'{"config": {}}', "missing_field", "results"),
        (b'{"results": {}}', "missing_field", "results"),
        (b'{"results": [1]}', "missing_field", "results"),
        (b'{"results": {"t": {"alias": "t"}}, "date": 1.0, "model_name": "m"}', "missing_field",
         "results"),
    ],
)  # fmt: skip
def test_bad_files_are_parse_errors(content: bytes, reason: str, field: str | None) -> None:
    e = error(content)
    assert (e.reason, e.field) == (reason, field)
    assert e.detail


@pytest.mark.parametrize("date", ["2026-01-01T00:00:00", float("nan"), 1e20, -1e20, True, [1]])
def test_a_bad_date_is_a_parse_error(date: object) -> None:
    doc = results_doc()
    doc["date"] = date
    e = error(doc)
    assert (e.reason, e.field) == ("invalid_value", "date")


@pytest.mark.parametrize("model", ["m" * 201, "org/\x00model"])
def test_a_model_id_that_is_not_an_id_is_a_parse_error(model: str) -> None:
    doc = results_doc()
    doc["config"]["model_args"] = {"pretrained": model}
    e = error(doc)
    assert (e.reason, e.field) == ("invalid_value", "config.model_args")


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
    items = list(LmEval({"source": str(output_folder(tmp_path))}).fetch(Cursor()))
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
    (item,) = LmEval({"source": str(tmp_path)}).fetch(Cursor())
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
    items = list(LmEval({"source": str(folder)}).fetch(Cursor()))
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
    (item,) = LmEval({"source": str(folder)}).fetch(Cursor())
    assert isinstance(item, Rejection) and item.reason == "malformed"


@pytest.mark.realdata
def test_sample_folders_ingest_into_a_store(store: Store, samples: Path) -> None:
    for name, expected in (("generated_offline", 4 + 6), ("real_evaleval", 2)):
        connector = LmEval({"source": str(samples / LM_EVAL / name)})
        result = run_feed(store, name, connector, Cursor(), clock)
        assert (result.ingested, result.rejected, result.error) == (expected, 0, None)
        again = run_feed(store, name, connector, Cursor(), clock)
        assert (again.ingested, again.duplicates) == (0, expected)
