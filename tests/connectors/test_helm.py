"""The HELM connector: run folders (stats.json + run_spec.json) of a suite, on the project's own
fixtures (tests/connectors/data/helm/), on bad input of every kind, on arbitrary bytes, and on
the shared real samples (realdata)."""

from __future__ import annotations

import json
import math
import os
import shutil
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from connectors.files import read_one
from connectors.helm import Helm, pack, parse_run
from tests.connectors.conftest import clock
from warden.connector import Cursor, sha256
from warden.errors import ConfigError, ParseError
from warden.ingest import run_feed
from warden.model import Observation, Payload, Pending, Rejection
from warden.store import Store
from warden.store.schema import observations

DATA = Path(__file__).parent / "data" / "helm"
SUITE = DATA / "suite_v1"
GPQA = SUITE / "gpqa-subset=gpqa_diamond,use_chain_of_thought=true,model=acme_model-1"
MMLU = SUITE / "mmlu-subject=anatomy,method=multiple_choice_joint,model=acme_model-2"
WHEN = datetime(2026, 2, 1, 12, tzinfo=UTC)
REAL_RUN = "helm/runs/mmlu-subject=philosophy,method=multiple_choice_joint,model=openai_gpt2"
REAL_SUITE = "helm/generated_offline/benchmark_output_runs_test"


def fetch(source: Path, **opts: object) -> list[Payload | Rejection | Pending]:
    return list(Helm({"source": str(source), **opts}).fetch(Cursor()))


def parse_folder(run: Path) -> list[Observation | Rejection]:
    (item,) = fetch(run)
    assert isinstance(item, Payload), item
    return parse_run(item)


def only_observations(items: list[Observation | Rejection]) -> dict[str, Observation]:
    found = {o.metric: o for o in items if isinstance(o, Observation)}
    assert len(found) == len([o for o in items if isinstance(o, Observation)])
    return found


def payload(spec: Any, stats: Any, source: str = "runs/s/run/stats.json") -> Payload:
    """A packed run from documents (or raw bytes), as fetch makes it."""
    texts = [x if isinstance(x, bytes) else json.dumps(x).encode() for x in (spec, stats)]
    content = pack(texts[0], texts[1], source)
    return Payload(source, content, sha256(content), fetched_at=WHEN)


def spec_doc(**adapter: Any) -> dict[str, Any]:
    return {
        "name": "gpqa:subset=gpqa_main,model=acme_model-9",
        "scenario_spec": {"class_name": "helm.GPQAScenario", "args": {"subset": "gpqa_main"}},
        "adapter_spec": {"model": "acme/model-9", "model_deployment": "acme/serve-9", **adapter},
    }


def stat(name: str, mean: Any, split: str = "test", **more: Any) -> dict[str, Any]:
    return {"name": {"name": name, "split": split, **more}, "count": 1, "mean": mean}


GOOD_STATS = [stat("exact_match", 0.5), stat("num_instances", 10.0)]


def error(spec: Any, stats: Any) -> ParseError:
    with pytest.raises(ParseError) as caught:
        parse_run(payload(spec, stats))
    return caught.value


def rejections(items: list[Observation | Rejection]) -> list[Rejection]:
    return [r for r in items if isinstance(r, Rejection)]


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


# -- properties -----------------------------------------------------------------------------------

SETTINGS = settings(
    max_examples=200,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
scalars = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20)
json_values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4)
    ),
    max_leaves=12,
)
names = st.sampled_from(["exact_match", "num_instances", "inference_runtime", "", "x" * 201])
splits = st.sampled_from(["test", "valid"])
stat_docs = st.fixed_dictionaries(
    {
        "name": st.fixed_dictionaries(
            {
                "name": names | json_values,
                "split": st.sampled_from(["test", "valid"]) | json_values,
            },
            optional={"perturbation": json_values, "sub_split": json_values},
        )
        | json_values,
        "count": st.integers(-1, 3) | json_values,
    },
    optional={"mean": st.floats() | st.integers() | json_values},
)
spec_docs = st.fixed_dictionaries(
    {
        "name": st.sampled_from(["mmlu:subject=x,model=m", "ifeval", ":", ""]) | json_values,
        "adapter_spec": st.fixed_dictionaries(
            {}, optional={"model": names | json_values, "model_deployment": json_values}
        )
        | json_values,
    },
    optional={"scenario_spec": json_values},
)


def assert_storable(items: list[Observation | Rejection]) -> None:
    for o in items:
        if isinstance(o, Rejection):
            assert o.reason in ParseError.REASONS
            continue
        for text in (o.subject, o.benchmark, o.metric):
            assert 0 < len(text) <= 200 and text.isprintable()
        assert math.isfinite(o.value) and o.stderr is None
        assert o.n is None or 0 <= o.n < 2**31
        assert o.observed_at.utcoffset() == timedelta(0)
        json.dumps(o.attributes, allow_nan=False)


def parse_or_refuse(p: Payload) -> None:
    try:
        items = parse_run(p)
    except ParseError:
        return
    assert_storable(items)


@SETTINGS
@given(st.binary(max_size=2000))
def test_parse_of_any_bytes_raises_only_parse_errors(content: bytes) -> None:
    parse_or_refuse(Payload("fuzz", content, sha256(content), fetched_at=WHEN))


@SETTINGS
@given(st.binary(max_size=500), st.binary(max_size=500))
def test_parse_of_any_packed_bytes_raises_only_parse_errors(spec: bytes, stats: bytes) -> None:
    try:
        p = payload(spec, stats)
    except ParseError:
        return  # not UTF-8: fetch rejects it before parse
    parse_or_refuse(p)


@SETTINGS
@given(json_values, json_values)
def test_parse_of_any_json_documents_raises_only_parse_errors(spec: Any, stats: Any) -> None:
    parse_or_refuse(payload(spec, stats))


@SETTINGS
@given(spec_docs, st.lists(stat_docs, max_size=6))
def test_parse_of_any_run_shaped_documents_raises_only_parse_errors(
    spec: Any, stats: list[Any]
) -> None:
    parse_or_refuse(payload(spec, stats))


@SETTINGS
@given(st.binary(max_size=300), st.binary(max_size=300) | st.none())
def test_reading_any_run_folder_never_raises(
    tmp_path_factory: pytest.TempPathFactory, stats: bytes, spec: bytes | None
) -> None:
    run = tmp_path_factory.mktemp("run")
    path = run / "stats.json"
    path.write_bytes(stats)
    if spec is not None:
        (run / "run_spec.json").write_bytes(spec)
    stat_ = path.stat()
    connector = Helm({"source": str(run)})
    item = read_one(path, f"{stat_.st_size}:{stat_.st_mtime_ns}", connector._read)
    assert isinstance(item, Payload | Rejection)
    if isinstance(item, Payload):
        parse_or_refuse(item)
    else:
        assert item.reason in ParseError.REASONS


# -- into the store -------------------------------------------------------------------------------


def count(store: Store) -> int:
    with store.read() as conn:
        return conn.execute(select(func.count()).select_from(observations)).scalar_one()


def test_suite_ingests_into_a_store_and_reingest_adds_nothing(store: Store) -> None:
    connector = Helm({"source": str(SUITE)})
    first = run_feed(store, "helm", connector, Cursor(), clock)
    assert (first.error, first.rejected, first.ingested) == (None, 0, 8 + 2)
    again = run_feed(store, "helm", connector, Cursor(), clock)  # a fresh cursor reads it all
    assert (again.ingested, again.duplicates, again.rejected) == (0, 10, 0)
    assert count(store) == 10
    with store.read() as conn:
        row = conn.execute(
            select(observations).where(observations.c.metric == "exact_match").order_by("value")
        ).all()
    assert [(r.subject, r.value, r.n) for r in row] == [
        ("acme/model-2", 0.25, 4),
        ("acme/model-1", 0.45, 20),
    ]


def test_a_bad_run_is_rejected_and_the_others_ingested(store: Store, tmp_path: Path) -> None:
    suite = Path(shutil.copytree(SUITE, tmp_path / "suite"))
    (suite / MMLU.name / "stats.json").write_text('[{"name": ')
    result = run_feed(store, "helm", Helm({"source": str(suite)}), Cursor(), clock)
    assert (result.ingested, result.rejected) == (8, 1)
    (rejection,) = result.rejections
    assert rejection.reason == "truncated"
    assert rejection.source == str(suite / MMLU.name / "stats.json")


# -- the shared real samples ----------------------------------------------------------------------


@pytest.mark.realdata
def test_real_mmlu_run_from_helm(samples: Path) -> None:
    run = samples / REAL_RUN
    items = parse_folder(run)
    assert not rejections(items)
    found = only_observations(items)
    assert len(found) == 29
    em = found["exact_match"]
    assert (em.subject, em.benchmark, em.metric) == (
        "openai/gpt2",
        "helm/mmlu:subject=philosophy,method=multiple_choice_joint",
        "exact_match",
    )
    assert em.value == pytest.approx(1 / 9)  # the valid split's 0.0 is not read
    assert (em.n, em.stderr) == (9, None)
    assert em.attributes["scale"] == "fraction"
    assert em.attributes["model_deployment"] == "huggingface/gpt2"
    assert em.attributes["scenario_class"] == "helm.benchmark.scenarios.mmlu_scenario.MMLUScenario"
    assert found["num_prompt_tokens"].value == pytest.approx(350.44444444444446)
    assert found["inference_runtime"].value == pytest.approx(0.2946600914001465)
    assert "training_co2_cost" not in found
    mtime = (run / "stats.json").stat().st_mtime
    assert em.observed_at == datetime.fromtimestamp(mtime, UTC)


@pytest.mark.realdata
def test_real_generated_suite(samples: Path) -> None:
    items = fetch(samples / REAL_SUITE)
    assert [Path(i.source).parent.name for i in items] == [
        "simple1:model=simple_model1",
        "simple_mcqa:model=simple_model1",
    ]
    simple1, mcqa = (only_observations(parse_run(i)) for i in items if isinstance(i, Payload))
    assert len(simple1) == 21 and "exact_match" not in simple1
    assert simple1["num_prompt_tokens"].value == pytest.approx(216.9666666666667)
    assert simple1["num_train_trials"].n == 10  # num_instances, not the 3 trials
    assert (mcqa["exact_match"].value, mcqa["exact_match"].n) == (0.0, 10)
    assert mcqa["exact_match"].benchmark == "helm/simple_mcqa"
    assert mcqa["exact_match"].subject == "simple/model1"


@pytest.mark.realdata
def test_real_samples_ingest_into_a_store(store: Store, samples: Path) -> None:
    connector = Helm({"source": str(samples / "helm")})
    first = run_feed(store, "helm", connector, Cursor(), clock)
    assert (first.error, first.rejected, first.ingested) == (None, 0, 29 + 21 + 29)
    again = run_feed(store, "helm", connector, Cursor(), clock)
    assert (again.ingested, again.duplicates) == (0, 79)
