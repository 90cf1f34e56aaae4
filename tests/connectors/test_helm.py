"""The HELM connector: run folders (stats.json + run_spec.json) of a suite, fetched and parsed on
the project's own fixtures (tests/connectors/data/helm/) and on bad input of every kind.
Arbitrary bytes, the store and the shared real samples: test_helm_sources.py."""

from __future__ import annotations

import json
import os
import shutil
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from connectors.helm import Helm, pack, parse_run
from tests.connectors.helm_runs import (
    GOOD_STATS,
    GPQA,
    MMLU,
    SUITE,
    WHEN,
    error,
    fetch,
    only_observations,
    parse_folder,
    payload,
    rejections,
    spec_doc,
    stat,
)
from warden.core.errors import ConfigError, ParseError
from warden.core.model import Payload, Rejection
from warden.ingest.connector import Cursor, sha256

# -- fetch ----------------------------------------------------------------------------------------


def test_a_suite_folder_gives_one_payload_per_run_folder() -> None:
    items = fetch(SUITE)
    assert [Path(i.source) for i in items] == [GPQA / "stats.json", MMLU / "stats.json"]
    assert all(isinstance(i, Payload) for i in items)


def test_a_payload_holds_the_two_files_and_nothing_else() -> None:
    (item,) = fetch(GPQA)
    assert isinstance(item, Payload)
    envelope = json.loads(item.content)
    assert set(envelope) == {"format", "run_spec.json", "stats.json"}
    assert envelope["run_spec.json"] == (GPQA / "run_spec.json").read_text()
    assert envelope["stats.json"] == (GPQA / "stats.json").read_text()
    # per_instance_stats.json and scenario_state.json there are not even JSON: never read.
    assert item.content_hash == sha256(item.content)


def test_the_source_may_be_a_run_folder_or_its_stats_file() -> None:
    (a,) = fetch(GPQA)
    (b,) = fetch(GPQA / "stats.json")
    assert isinstance(a, Payload) and isinstance(b, Payload)
    assert (a.source, a.content_hash) == (b.source, b.content_hash)


def test_observed_at_is_the_stats_file_modification_time(tmp_path: Path) -> None:
    run = Path(shutil.copytree(GPQA, tmp_path / "run"))
    stamp = datetime(2025, 6, 1, 8, 30, tzinfo=UTC).timestamp()
    os.utime(run / "stats.json", (stamp, stamp))
    items = only_observations(parse_folder(run))
    for o in items.values():
        assert o.observed_at == datetime(2025, 6, 1, 8, 30, tzinfo=UTC)
        assert o.attributes["timestamp_kind"] == "fetched"


def test_an_unchanged_run_is_not_read_again() -> None:
    connector, cursor = Helm({"source": str(SUITE)}), Cursor()
    first = list(connector.fetch(cursor))
    for item in first:
        assert isinstance(item, Payload) and item.version
        cursor.versions[item.source] = item.version
    assert list(connector.fetch(cursor)) == []


def test_a_folder_without_runs_is_one_rejection(tmp_path: Path) -> None:
    (tmp_path / "notes.json").write_text("{}")
    (item,) = fetch(tmp_path)
    assert isinstance(item, Rejection)
    assert (item.source, item.reason) == (str(tmp_path), "malformed")
    assert "stats.json" in item.message


@pytest.mark.parametrize("name", ["runs.json", "suite.zip", "run_spec.json"])
def test_a_file_other_than_stats_json_is_refused(tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    path.write_bytes(b"PK\x05\x06" + b"\x00" * 18 if name.endswith(".zip") else b"[]")
    (item,) = fetch(path)
    assert isinstance(item, Rejection)
    assert (item.source, item.reason) == (str(path), "malformed")


def test_a_missing_source_fails_the_run(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        fetch(tmp_path / "absent")


def test_hidden_folders_are_skipped(tmp_path: Path) -> None:
    shutil.copytree(GPQA, tmp_path / ".trash" / "run")
    shutil.copytree(MMLU, tmp_path / "run")
    assert [Path(i.source).parent.name for i in fetch(tmp_path)] == ["run"]


def test_stats_without_run_spec_is_rejected(tmp_path: Path) -> None:
    run = Path(shutil.copytree(GPQA, tmp_path / "run"))
    (run / "run_spec.json").unlink()
    (item,) = fetch(run)
    assert isinstance(item, Rejection)
    assert (item.reason, item.field) == ("missing_field", "run_spec.json")
    assert item.version  # the same folder gives the same answer until it changes


def test_a_stats_file_over_the_limit_is_rejected() -> None:
    (item,) = fetch(GPQA, max_stats_bytes=1000)
    assert isinstance(item, Rejection)
    assert (item.reason, item.field) == ("too_large", "stats.json")


def test_a_run_spec_that_is_not_utf8_is_rejected(tmp_path: Path) -> None:
    run = Path(shutil.copytree(GPQA, tmp_path / "run"))
    (run / "run_spec.json").write_bytes(b'{"name": "caf\xe9"}')
    (item,) = fetch(run)
    assert isinstance(item, Rejection)
    assert (item.reason, item.field) == ("malformed", "run_spec.json")


def test_bad_options_name_the_key() -> None:
    with pytest.raises(ConfigError) as caught:
        Helm({"source": "/runs", "max_stats_bytes": 0, "colour": "red"}, where="feed helm")
    text = str(caught.value)
    assert "max_stats_bytes" in text and "colour" in text and "feed helm" in text


def test_a_url_source_is_refused_at_configuration() -> None:
    with pytest.raises(ConfigError) as caught:
        Helm({"source": "https://storage.googleapis.com/crfm-helm-public/lite/runs/v1.0.0/"})
    assert "source" in str(caught.value) and "local folder" in str(caught.value)


# -- parse: the fixtures --------------------------------------------------------------------------


def test_run_gives_whole_split_unperturbed_stats_only() -> None:
    found = only_observations(parse_folder(GPQA))
    assert set(found) == {
        "num_references",
        "num_prompt_tokens",
        "inference_runtime",
        "exact_match",
        "exact_match@5",
        "quasi_exact_match",  # written twice with the same mean: one observation
        "chain_of_thought_correctness",
        "num_instances",
    }  # no training_co2_cost (no values), no perturbed, sub-split or valid-split stats
    em = found["exact_match"]
    assert (em.subject, em.benchmark) == (
        "acme/model-1",
        "helm/gpqa:subset=gpqa_diamond,use_chain_of_thought=true",
    )
    assert (em.value, em.stderr) == (0.45, None)  # not the perturbed 0.40 / 0.42 or valid 0.6
    assert em.n == 20  # num_instances on the test split, not Stat.count (3 trials)
    assert em.attributes["split"] == "test"
    assert em.attributes["model_deployment"] == "acme/model-1-serving"
    assert (
        em.attributes["run"]
        == "gpqa:subset=gpqa_diamond,use_chain_of_thought=true,model=acme_model-1"
    )
    assert em.attributes["record"] == GPQA.name
    assert em.attributes["scenario"] == "gpqa"
    assert em.attributes["max_eval_instances"] == 20
    assert em.source == str(GPQA / "stats.json")


def test_scales_follow_the_metric() -> None:
    found = only_observations(parse_folder(GPQA))
    scales = {m: o.attributes["scale"] for m, o in found.items()}
    assert scales["exact_match"] == scales["exact_match@5"] == "fraction"
    assert scales["quasi_exact_match"] == scales["chain_of_thought_correctness"] == "fraction"
    assert scales["inference_runtime"] == "seconds"
    assert scales["num_prompt_tokens"] == scales["num_instances"] == "points"


def test_a_run_without_test_stats_uses_the_valid_split() -> None:
    found = only_observations(parse_folder(MMLU))
    assert set(found) == {"exact_match", "num_instances"}
    em = found["exact_match"]
    assert (em.value, em.n, em.attributes["split"]) == (0.25, 4, "valid")
    # No adapter_spec.model: the deployment names the model.
    assert em.subject == "acme/model-2"
    assert em.benchmark == "helm/mmlu:subject=anatomy,method=multiple_choice_joint"


def test_run_name_comes_from_run_spec_not_the_renamed_folder(tmp_path: Path) -> None:
    run = Path(shutil.copytree(MMLU, tmp_path / "anything at all"))
    found = only_observations(parse_folder(run))
    assert found["exact_match"].benchmark.startswith("helm/mmlu:")


def test_keys_depend_on_the_measurement_not_on_time_or_place(tmp_path: Path) -> None:
    keys = {o.metric: o.key for o in only_observations(parse_folder(GPQA)).values()}
    moved = Path(shutil.copytree(GPQA, tmp_path / "elsewhere" / "run"))
    os.utime(moved / "stats.json", (0, 0))
    again = {o.metric: o.key for o in only_observations(parse_folder(moved)).values()}
    assert again == keys
    assert len(set(keys.values())) == len(keys)
    stats = json.loads((moved / "stats.json").read_text())
    for s in stats:
        if s["name"] == {"name": "exact_match", "split": "test"}:
            s["mean"] = 0.5  # a re-run with another result
    (moved / "stats.json").write_text(json.dumps(stats))
    rerun = {o.metric: o.key for o in only_observations(parse_folder(moved)).values()}
    assert rerun["exact_match"] != keys["exact_match"]
    assert rerun["exact_match@5"] == keys["exact_match@5"]


# -- parse: bad input -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("spec", "stats", "reason", "field"),
    [
        (b'{"name": "x", "adapter', GOOD_STATS, "truncated", "run_spec.json"),
        (spec_doc(), b'[{"name": {"name": "exact_match", "split": "te', "truncated", "stats.json"),
        (spec_doc(), b"<html><body>Not found</body></html>", "malformed", "stats.json"),
        (spec_doc(), b"[1, 2,, 3]", "malformed", "stats.json"),
        (spec_doc(), {"stats": GOOD_STATS}, "malformed", "stats.json"),
        ([spec_doc()], GOOD_STATS, "malformed", "run_spec.json"),
        (b"[" * 100_000, GOOD_STATS, "malformed", "run_spec.json"),
        ({**spec_doc(), "name": None}, GOOD_STATS, "missing_field", "run_spec.json: name"),
        ({**spec_doc(), "name": 7}, GOOD_STATS, "invalid_value", "run_spec.json: name"),
        ({"name": "x:model=y"}, GOOD_STATS, "missing_field", "run_spec.json: adapter_spec"),
        (
            {"name": "x", "adapter_spec": {"temperature": 0}},
            GOOD_STATS,
            "missing_field",
            "run_spec.json: adapter_spec.model_deployment",
        ),
        (spec_doc(model="m" * 201), GOOD_STATS, "invalid_value", "adapter_spec.model"),
        ({**spec_doc(), "name": "x" * 300}, GOOD_STATS, "invalid_value", "name"),
        (spec_doc(), [], "missing_field", "stats.json"),
        (
            spec_doc(),
            [stat("exact_match", 0.5, perturbation={"name": "robustness"})],
            "missing_field",
            "stats.json",
        ),
        (spec_doc(), [stat("exact_match", 0.5, split="train")], "missing_field", "stats.json"),
    ],
)
def test_whole_run_problems_raise_parse_errors(
    spec: Any, stats: Any, reason: str, field: str
) -> None:
    caught = error(spec, stats)
    assert (caught.reason, caught.field) == (reason, field)
    assert caught.source == "runs/s/run/stats.json"


def test_a_payload_that_is_not_a_packed_run_is_malformed() -> None:
    for content in (b"[]", b'{"format": "other"}', b"\x00\xff", b""):
        with pytest.raises(ParseError) as caught:
            parse_run(Payload("p", content, sha256(content), fetched_at=WHEN))
        assert caught.value.reason == "malformed"
    content = json.dumps({"format": "warden.helm_run/1", "stats.json": "[]"}).encode()
    with pytest.raises(ParseError) as missing:
        parse_run(Payload("p", content, sha256(content), fetched_at=WHEN))
    assert (missing.value.reason, missing.value.field) == ("missing_field", "run_spec.json")


@pytest.mark.parametrize(
    "fetched_at",
    [datetime(2026, 2, 1, 12), datetime(2026, 2, 1, 14, tzinfo=timezone(timedelta(hours=2)))],
)
def test_a_fetch_time_becomes_aware_utc(fetched_at: datetime) -> None:
    p = payload(spec_doc(), GOOD_STATS)
    p = Payload(p.source, p.content, p.content_hash, fetched_at=fetched_at)
    for o in only_observations(parse_run(p)).values():
        assert o.observed_at == WHEN and o.observed_at.utcoffset() == timedelta(0)


def test_a_payload_without_fetch_time_is_refused() -> None:
    content = pack(json.dumps(spec_doc()).encode(), json.dumps(GOOD_STATS).encode())
    with pytest.raises(ParseError) as caught:
        parse_run(Payload("p", content, sha256(content)))
    assert (caught.value.reason, caught.value.field) == ("missing_field", "fetched_at")


@pytest.mark.parametrize(
    ("bad", "reason", "field"),
    [
        (stat("exact_match", float("nan")), "invalid_value", "mean"),
        (stat("exact_match", float("inf")), "invalid_value", "mean"),
        (stat("exact_match", True), "invalid_value", "mean"),
        (stat("exact_match", "0.5"), "invalid_value", "mean"),
        (stat("exact_match", 10**400), "invalid_value", "mean"),
        (stat("exact_match", 1.5), "invalid_value", "mean"),  # a fraction cannot be 1.5
        (stat("exact_match", None), "missing_field", "mean"),  # a count but no mean
        (stat("x" * 201, 1.0), "invalid_value", "name.name"),
        (stat("bad\nname", 1.0), "invalid_value", "name.name"),
        ({"name": {"split": "test"}, "mean": 1.0}, "missing_field", "name.name"),
        ({"name": "exact_match", "mean": 1.0}, "malformed", "name"),
        ("exact_match", "malformed", "name"),
    ],
)
def test_a_bad_stat_is_rejected_and_the_others_kept(bad: Any, reason: str, field: str) -> None:
    items = parse_run(payload(spec_doc(), [stat("quasi_exact_match", 0.5), bad, *GOOD_STATS]))
    (rejection,) = rejections(items)
    assert (rejection.reason, rejection.record, rejection.field) == (reason, "stats[1]", field)
    assert rejection.source == "runs/s/run/stats.json"
    assert set(only_observations(items)) == {"quasi_exact_match", "exact_match", "num_instances"}


def test_a_stat_repeated_with_different_means_is_rejected_whole() -> None:
    stats = [stat("exact_match", 0.5), stat("exact_match", 0.7), stat("num_instances", 10.0)]
    items = parse_run(payload(spec_doc(), stats))
    (rejection,) = rejections(items)
    assert (rejection.reason, rejection.record) == ("invalid_value", "stats[0]")
    assert "0.5 at stats[0]" in rejection.message and "0.7 at stats[1]" in rejection.message
    assert set(only_observations(items)) == {"num_instances"}


@pytest.mark.parametrize("instances", [2.0**31, -1.0, 9.5, "10", True, None])
def test_an_implausible_instance_count_leaves_n_empty(instances: Any) -> None:
    items = parse_run(
        payload(spec_doc(), [stat("exact_match", 0.5), stat("num_instances", instances)])
    )
    assert only_observations(items)["exact_match"].n is None


def test_sub_split_stats_are_left_out() -> None:
    stats = [*GOOD_STATS, stat("exact_match", 0.9, sub_split="hard")]
    found = only_observations(parse_run(payload(spec_doc(), stats)))
    assert found["exact_match"].value == 0.5


def test_a_run_name_without_arguments_is_the_scenario() -> None:
    found = only_observations(parse_run(payload({**spec_doc(), "name": "ifeval"}, GOOD_STATS)))
    assert found["exact_match"].benchmark == "helm/ifeval"
