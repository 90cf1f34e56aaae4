"""HELM on arbitrary input (hypothesis), into the store, and the shared real samples. Fetching and
parsing: test_helm.py."""

from __future__ import annotations

import json
import math
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from connectors.files import read_one
from connectors.helm import Helm, parse_run
from tests.connectors.conftest import clock
from tests.connectors.helm_runs import (
    MMLU,
    REAL_RUN,
    REAL_SUITE,
    SUITE,
    WHEN,
    fetch,
    only_observations,
    parse_folder,
    payload,
    rejections,
)
from warden.core.errors import ParseError
from warden.core.model import Observation, Payload, Rejection
from warden.ingest.connector import Cursor, sha256
from warden.ingest.feedrun import run_feed
from warden.store import Store
from warden.store.schema import observations

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
