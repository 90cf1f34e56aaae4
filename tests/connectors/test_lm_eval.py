"""The lm-evaluation-harness connector on results documents: project-written files in the
harness's real shapes (tests/connectors/lm_eval_docs.py: 0.4.x with groups, filters and "N/A"
stderr; 0.4.2-style string model args; legacy v0.3) and bad input of every kind. Reading folders,
URLs, arbitrary bytes and the real samples: test_lm_eval_sources.py."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from connectors.lm_eval import parse_results
from tests.connectors.lm_eval_docs import (
    DATE,
    MTIME,
    WHEN,
    by_id,
    error,
    legacy_doc,
    parse,
    payload,
    results_doc,
    split,
)
from warden.core.errors import ParseError
from warden.core.model import Payload
from warden.ingest.connector import sha256

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
