"""Hugging Face model cards on arbitrary input (hypothesis), into the store, and the shared real
cards. The cards: test_hf_model_index.py."""

from __future__ import annotations

import json
import math
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from connectors.hf_model_index import HfModelIndex, parse_card
from tests.connectors.conftest import clock
from tests.connectors.hf_cards import (
    ACME,
    BEAGLE,
    DATA,
    KODIAK,
    by_key,
    card,
    parse_file,
    raw,
    rejections,
)
from warden.core.errors import ParseError
from warden.core.model import Observation, Payload, Rejection
from warden.ingest.connector import Cursor
from warden.ingest.feedrun import run_feed
from warden.store import Store
from warden.store.schema import observations

# -- properties -----------------------------------------------------------------------------------

SETTINGS = settings(
    max_examples=200,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()
    | st.text(max_size=20)
    | st.sampled_from(["72.04", "0.5%", "20 ± 1", "acc", "Open LLM Leaderboard", "x" * 201])
)
values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4)
    ),
    max_leaves=12,
)


def anything(valid: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.one_of(valid, valid, valid, values)


metric_docs = anything(
    st.fixed_dictionaries(
        {"type": anything(st.sampled_from(["acc", "acc_norm", "perplexity", "pass@1", ""]))},
        optional={"value": anything(st.floats() | st.integers() | st.text(max_size=8))},
    )
)
result_docs = anything(
    st.fixed_dictionaries(
        {
            "dataset": anything(
                st.fixed_dictionaries(
                    {"type": anything(st.sampled_from(["gsm8k", "cais/mmlu"]))},
                    optional={"config": values, "split": values, "args": values},
                )
            ),
            "metrics": anything(st.lists(metric_docs, max_size=3)),
        },
        optional={"source": values},
    )
)
card_docs = st.fixed_dictionaries(
    {
        "model-index": anything(
            st.lists(
                anything(
                    st.fixed_dictionaries(
                        {"results": anything(st.lists(result_docs, max_size=4))},
                        optional={"name": values},
                    )
                ),
                max_size=3,
            )
        )
    },
    optional={"base_model": values},
)


def assert_storable(items: list[Observation | Rejection]) -> None:
    for o in items:
        if isinstance(o, Rejection):
            assert o.reason in ParseError.REASONS
            continue
        for text in (o.subject, o.benchmark, o.metric):
            assert 0 < len(text) <= 200 and text.isprintable()
        assert math.isfinite(o.value) and o.stderr is None and o.n is None
        assert o.observed_at.utcoffset() == timedelta(0)
        assert o.attributes["vendor_reported"] is True
        assert o.attributes["scale"] in {"fraction", "percent", "points"}
        json.dumps(o.attributes, allow_nan=False)


def parse_or_refuse(p: Payload) -> None:
    try:
        items = parse_card(p)
    except ParseError:
        return
    assert_storable(items)


@SETTINGS
@given(st.binary(max_size=2000))
def test_parse_of_any_bytes_raises_only_parse_errors(content: bytes) -> None:
    parse_or_refuse(raw(content))


@SETTINGS
@given(st.text(max_size=1000))
def test_parse_of_any_front_matter_text_raises_only_parse_errors(text: str) -> None:
    parse_or_refuse(raw(f"---\n{text}\n---\n"))


@SETTINGS
@given(values)
def test_parse_of_any_yaml_document_raises_only_parse_errors(doc: Any) -> None:
    parse_or_refuse(card(yaml.safe_dump(doc, allow_unicode=True)))


@SETTINGS
@given(card_docs)
def test_parse_of_any_model_index_shaped_card_raises_only_parse_errors(doc: Any) -> None:
    parse_or_refuse(card(yaml.safe_dump(doc, allow_unicode=True)))


# -- into the store -------------------------------------------------------------------------------


def test_cards_ingest_into_a_store_and_reingest_adds_nothing(store: Store) -> None:
    connector = HfModelIndex({"source": str(DATA)})
    first = run_feed(store, "cards", connector, Cursor(), clock)
    assert (first.error, first.rejected, first.ingested) == (None, 0, 8 + 2)
    again = run_feed(store, "cards", connector, Cursor(), clock)
    assert (again.ingested, again.duplicates, again.rejected) == (0, 10, 0)
    with store.read() as conn:
        assert conn.execute(select(func.count()).select_from(observations)).scalar_one() == 10
        row = conn.execute(
            select(observations).where(observations.c.benchmark == "ai2_arc:ARC-Challenge")
        ).one()
    assert (row.subject, row.value, row.attributes["scale"]) == ("acme/model-1", 61.5, "percent")


def test_a_card_without_model_index_is_one_reject(store: Store, tmp_path: Path) -> None:
    shutil.copy(ACME, tmp_path / "acme.md")
    (tmp_path / "plain.md").write_text("---\nlicense: mit\n---\n# Nothing to see\n")
    result = run_feed(store, "cards", HfModelIndex({"source": str(tmp_path)}), Cursor(), clock)
    assert (result.ingested, result.rejected) == (8, 1)
    (rejection,) = result.rejections
    assert (rejection.source, rejection.reason, rejection.field) == (
        str(tmp_path / "plain.md"),
        "missing_field",
        "model-index",
    )


# -- the shared real cards ------------------------------------------------------------------------


@pytest.mark.realdata
def test_real_leaderboard_v2_card(samples: Path) -> None:
    items = parse_file(samples / KODIAK)
    assert not rejections(items)
    found = by_key(items)
    subject = "Qwen2.5-7B-Instruct-Uncensored"  # the entry's name, not the mlx repo
    assert {k[1:] for k in found} == {
        ("HuggingFaceH4/ifeval", "inst_level_strict_acc and prompt_level_strict_acc"),
        ("BBH", "acc_norm"),
        ("hendrycks/competition_math", "exact_match"),
        ("Idavidrein/gpqa", "acc_norm"),
        ("TAUR-Lab/MuSR", "acc_norm"),
        ("TIGER-Lab/MMLU-Pro:main", "acc"),
    }
    gpqa = found[subject, "Idavidrein/gpqa", "acc_norm"]
    assert (gpqa.value, gpqa.attributes["scale"], gpqa.attributes["normalised_score"]) == (
        7.05,
        "points",
        True,
    )
    mmlu_pro = found[subject, "TIGER-Lab/MMLU-Pro:main", "acc"]
    assert (mmlu_pro.value, mmlu_pro.attributes["split"]) == (38.07, "test")
    assert mmlu_pro.attributes["num_few_shot"] == 5
    assert mmlu_pro.attributes["base_model"] == "Orion-zhen/Qwen2.5-7B-Instruct-Uncensored"
    assert found[subject, "hendrycks/competition_math", "exact_match"].value == 1.36


@pytest.mark.realdata
def test_real_leaderboard_v1_card(samples: Path) -> None:
    path = samples / BEAGLE
    found = by_key(parse_file(path))
    assert len(found) == 6
    arc = found["NeuralBeagle14-7B", "ai2_arc:ARC-Challenge", "acc_norm"]
    assert (arc.value, arc.attributes["scale"]) == (72.95, "percent")
    assert (arc.attributes["split"], arc.attributes["num_few_shot"]) == ("test", 25)
    assert "normalised_score" not in arc.attributes
    tqa = found["NeuralBeagle14-7B", "truthful_qa:multiple_choice", "mc2"]
    assert (tqa.value, tqa.attributes["scale"], tqa.attributes["split"]) == (
        69.93,
        "percent",
        "validation",
    )
    assert found["NeuralBeagle14-7B", "winogrande:winogrande_xl", "acc"].value == 82.4
    assert found["NeuralBeagle14-7B", "gsm8k:main", "acc"].value == 70.28
    assert found["NeuralBeagle14-7B", "cais/mmlu:all", "acc"].value == 64.55
    assert found["NeuralBeagle14-7B", "hellaswag", "acc_norm"].value == 88.34
    assert arc.observed_at == datetime.fromtimestamp(path.stat().st_mtime, UTC)


@pytest.mark.realdata
def test_real_cards_ingest_into_a_store(store: Store, samples: Path) -> None:
    connector = HfModelIndex({"source": str(samples / "hf-model-index")})
    first = run_feed(store, "cards", connector, Cursor(), clock)
    assert (first.error, first.rejected, first.ingested) == (None, 0, 12)
    again = run_feed(store, "cards", connector, Cursor(), clock)
    assert (again.ingested, again.duplicates) == (0, 12)
