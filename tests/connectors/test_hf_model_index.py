"""The Hugging Face model-card connector: `model-index` in README front matter, on the project's
own cards (tests/connectors/data/hf_model_index/), on bad and hostile input, on arbitrary text,
and on the shared real cards (realdata)."""

from __future__ import annotations

import json
import math
import os
import shutil
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from connectors.hf_model_index import MAX_FRONT_MATTER, HfModelIndex, parse_card
from tests.connectors.conftest import clock
from warden.connector import Cursor, sha256
from warden.errors import ConfigError, ParseError
from warden.ingest import run_feed
from warden.model import Observation, Payload, Rejection
from warden.store import Store
from warden.store.schema import observations

DATA = Path(__file__).parent / "data" / "hf_model_index"
ACME = DATA / "acme__model-1__README.md"
MODEL_2 = DATA / "model-2" / "README.md"
WHEN = datetime(2026, 3, 1, tzinfo=UTC)
KODIAK = "hf-model-index/kodiakllc_kdk-mlx__Qwen2.5-7B-Instruct-Uncensored-4bit__README.md"
BEAGLE = "hf-model-index/leliuga_cohere-configurations__NeuralBeagle14-7B__README.md"


def parse_file(path: Path) -> list[Observation | Rejection]:
    (item,) = list(HfModelIndex({"source": str(path)}).fetch(Cursor()))
    assert isinstance(item, Payload), item
    return parse_card(item)


def by_key(items: list[Observation | Rejection]) -> dict[tuple[str, str, str], Observation]:
    found = {(o.subject, o.benchmark, o.metric): o for o in items if isinstance(o, Observation)}
    assert len(found) == len([o for o in items if isinstance(o, Observation)])
    return found


def rejections(items: list[Observation | Rejection]) -> list[Rejection]:
    return [r for r in items if isinstance(r, Rejection)]


def card(front: Any, body: str = "\n# A model\n", source: str = "org__model__README.md") -> Payload:
    """A card whose front matter is `front` (a document to dump, or YAML text)."""
    text = front if isinstance(front, str) else yaml.safe_dump(front, sort_keys=False)
    content = f"---\n{text}---\n{body}".encode()
    return Payload(source, content, sha256(content), fetched_at=WHEN)


def result(kind: str = "cais/mmlu", value: Any = 0.5, metric: str = "acc", **dataset: Any) -> Any:
    return {
        "task": {"type": "text-generation"},
        "dataset": {"name": kind, "type": kind, **dataset},
        "metrics": [{"type": metric, "value": value}],
    }


def index(*results: Any, name: Any = "org/model") -> dict[str, Any]:
    return {"model-index": [{"name": name, "results": list(results)}]}


def error(p: Payload) -> ParseError:
    with pytest.raises(ParseError) as caught:
        parse_card(p)
    return caught.value


def one(front: Any) -> Observation:
    items = parse_card(card(front))
    assert not rejections(items), rejections(items)
    (o,) = items
    assert isinstance(o, Observation)
    return o


# -- the project's cards --------------------------------------------------------------------------


def test_card_gives_one_observation_per_result_metric() -> None:
    items = parse_file(ACME)
    assert not rejections(items)
    found = by_key(items)
    assert set(found) == {
        ("acme/model-1", "ai2_arc:ARC-Challenge", "acc_norm"),
        ("acme/model-1", "hendrycks/competition_math", "exact_match"),
        ("acme/model-1", "Idavidrein/gpqa:gpqa_diamond", "acc"),  # written twice: one
        ("acme/model-1", "cais/mmlu", "acc"),  # config "default" is left out of the id
        ("acme/model-1", "cais/mmlu", "perplexity"),
        ("acme/model-1", "openai_humaneval", "pass@1"),
        ("acme/model-1", "lukaemon/bbh", "acc"),
        ("acme/model-1-instruct", "truthful_qa:multiple_choice", "mc2"),
    }
    arc = found["acme/model-1", "ai2_arc:ARC-Challenge", "acc_norm"]
    assert (arc.value, arc.stderr, arc.n) == (61.5, None, None)
    assert arc.attributes["split"] == "test"
    assert arc.attributes["num_few_shot"] == 25
    assert arc.attributes["dataset_config"] == "ARC-Challenge"
    assert arc.attributes["dataset_name"] == "AI2 Reasoning Challenge (25-Shot)"
    assert arc.attributes["metric_name"] == "normalized accuracy"
    assert arc.attributes["source_name"] == "Open LLM Leaderboard"
    assert arc.attributes["base_model"] == "acme/model-0"
    assert arc.attributes["record"] == "model-index[0].results[0].metrics[0]"
    assert arc.source == str(ACME)


def test_every_observation_is_vendor_reported_and_stamped_with_the_file_time(
    tmp_path: Path,
) -> None:
    path = Path(shutil.copy(ACME, tmp_path / "README.md"))
    stamp = datetime(2025, 5, 4, 3, 2, 1, tzinfo=UTC)
    os.utime(path, (stamp.timestamp(), stamp.timestamp()))
    for o in by_key(parse_file(path)).values():
        assert o.attributes["vendor_reported"] is True
        assert o.attributes["timestamp_kind"] == "fetched"
        assert o.observed_at == stamp


def test_scales_follow_the_stated_rule() -> None:
    found = by_key(parse_file(ACME))
    scale = {k[1:]: (o.value, o.attributes["scale"]) for k, o in found.items()}
    # Open LLM Leaderboard results are percentages, even one below 1.
    assert scale["ai2_arc:ARC-Challenge", "acc_norm"] == (61.5, "percent")
    assert scale["hendrycks/competition_math", "exact_match"] == (0.95, "percent")
    # The developer's own fractions stay fractions beside a value written with "%".
    assert scale["Idavidrein/gpqa:gpqa_diamond", "acc"] == (0.41, "fraction")
    assert scale["cais/mmlu", "acc"] == (0.62, "fraction")  # "0.62" as text
    assert scale["openai_humaneval", "pass@1"] == (38.5, "percent")  # "38.5%"
    assert scale["cais/mmlu", "perplexity"] == (3.1, "points")  # not accuracy-like
    # A value over 1 is a percentage; "± 1.2" is kept aside, not as a stderr.
    assert scale["lukaemon/bbh", "acc"] == (20.0, "percent")
    assert scale["truthful_qa:multiple_choice", "mc2"] == (0.55, "fraction")
    bbh = found["acme/model-1", "lukaemon/bbh", "acc"]
    assert (bbh.stderr, bbh.attributes["plus_minus"]) == (None, 1.2)


def test_an_accuracy_over_one_makes_its_source_a_percentage_source() -> None:
    front = index(result("a", 0.8), result("b", 64.0))
    items = by_key(parse_card(card(front)))
    assert {k[1]: o.attributes["scale"] for k, o in items.items()} == {
        "a": "percent",
        "b": "percent",
    }
    other = index(result("a", 0.8), {**result("b", 64.0), "source": {"name": "Elsewhere"}})
    items = by_key(parse_card(card(other)))
    assert {k[1]: o.attributes["scale"] for k, o in items.items()} == {
        "a": "fraction",
        "b": "percent",
    }


def test_leaderboard_v2_scores_are_normalised_points_and_the_folder_names_the_model() -> None:
    found = by_key(parse_file(MODEL_2))
    gpqa = found["model-2", "Idavidrein/gpqa", "acc_norm"]
    assert (gpqa.value, gpqa.attributes["scale"]) == (7.05, "points")
    assert gpqa.attributes["normalised_score"] is True
    assert gpqa.attributes["model_from"] == "file_name"
    assert gpqa.attributes["base_model"] == "acme/model-1"  # recorded, never the subject


def test_verified_flag_is_kept() -> None:
    found = by_key(parse_file(ACME))
    assert found["acme/model-1", "openai_humaneval", "pass@1"].attributes["verified"] is True
    assert (
        found["acme/model-1", "Idavidrein/gpqa:gpqa_diamond", "acc"].attributes["verified"] is False
    )


def test_keys_are_stable_and_do_not_depend_on_the_file(tmp_path: Path) -> None:
    keys = sorted(o.key for o in by_key(parse_file(ACME)).values())
    path = Path(shutil.copy(ACME, tmp_path / "copy.md"))
    os.utime(path, (0, 0))
    assert sorted(o.key for o in by_key(parse_file(path)).values()) == keys
    assert len(set(keys)) == len(keys)
    changed = path.read_text().replace("value: 61.5", "value: 62.5")
    path.write_text(changed)
    after = {k: o.key for k, o in by_key(parse_file(path)).items()}
    assert after["acme/model-1", "ai2_arc:ARC-Challenge", "acc_norm"] not in keys
    assert after["acme/model-1", "cais/mmlu", "acc"] in keys


def test_split_and_shots_tell_measurements_apart() -> None:
    front = index(result(value=0.5, split="test"), result(value=0.6, split="validation"))
    assert len(parse_card(card(front))) == 2
    front = index(
        result(value=0.5, args={"num_few_shot": 0}), result(value=0.6, args={"num_few_shot": 5})
    )
    assert len(parse_card(card(front))) == 2


def test_the_same_result_with_different_values_is_rejected() -> None:
    items = parse_card(card(index(result(value=0.5), result(value=0.7), result("other"))))
    (rejection,) = rejections(items)
    assert (rejection.reason, rejection.record) == (
        "invalid_value",
        "model-index[0].results[0].metrics[0]",
    )
    assert "0.5 at" in rejection.message and "0.7 at" in rejection.message
    assert set(by_key(items)) == {("org/model", "other", "acc")}


def test_numeric_yaml_names_are_text() -> None:
    o = one(index(result(kind="2024"), name=2024))
    assert (o.subject, o.benchmark) == ("2024", "2024")


def test_a_card_named_readme_takes_its_folder_name() -> None:
    front = {"model-index": [{"results": [result()]}]}
    o = one(front)
    assert o.subject == "org__model__README"
    p = card(front, source="models/acme-9/README.md")
    (named,) = parse_card(p)
    assert isinstance(named, Observation) and named.subject == "acme-9"


def test_bad_options_name_the_key() -> None:
    with pytest.raises(ConfigError) as caught:
        HfModelIndex({"source": "/cards", "max_bytes": -1, "colour": 1}, where="feed cards")
    text = str(caught.value)
    assert "max_bytes" in text and "colour" in text and "feed cards" in text


def test_a_card_over_the_size_limit_is_rejected_when_read(tmp_path: Path) -> None:
    path = Path(shutil.copy(ACME, tmp_path / "big.md"))
    (item,) = list(HfModelIndex({"source": str(path), "max_bytes": 100}).fetch(Cursor()))
    assert isinstance(item, Rejection) and item.reason == "too_large"


# -- whole-card problems --------------------------------------------------------------------------


def raw(text: str | bytes) -> Payload:
    content = text if isinstance(text, bytes) else text.encode()
    return Payload("card.md", content, sha256(content), fetched_at=WHEN)


BILLION_LAUGHS = """\
model-index: &a ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]
b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]
c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]
d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]
e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d]
f: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e]
g: &g [*f, *f, *f, *f, *f, *f, *f, *f, *f]
h: &h [*g, *g, *g, *g, *g, *g, *g, *g, *g]
i: &i [*h, *h, *h, *h, *h, *h, *h, *h, *h]
"""


@pytest.mark.parametrize(
    ("content", "reason", "field"),
    [
        ("# Just prose\n\nNo front matter here.\n", "missing_field", "front matter"),
        ("<!DOCTYPE html><html><body>404</body></html>", "missing_field", "front matter"),
        ("", "missing_field", "front matter"),
        ("---\nlicense: mit\n---\n# no results\n", "missing_field", "model-index"),
        ("---\n---\n", "missing_field", "model-index"),
        ("---\nmodel-index: []\n---\n", "missing_field", "model-index"),
        ("---\nmodel-index:\n- name: x\n", "malformed", "front matter"),  # never closed
        ("---\nmodel-index: [unclosed\n---\n", "malformed", "front matter"),
        ("---\n- a\n- b\n---\n", "malformed", "front matter"),
        ("---\njust text\n---\n", "malformed", "front matter"),
        ("---\nmodel-index: {name: x}\n---\n", "invalid_value", "model-index"),
        ("---\nmodel-index: 3\n---\n", "invalid_value", "model-index"),
        ("---\nwhen: 2024-13-45\n---\n", "malformed", "front matter"),
        ('---\nx: !!python/object/apply:os.system ["true"]\n---\n', "malformed", "front matter"),
        ("---\n" + "[" * 5000 + "\n---\n", "malformed", "front matter"),
        (f"---\n{BILLION_LAUGHS}---\n", "malformed", "front matter"),
        (b"---\nname: caf\xe9\n---\n", "malformed", "front matter"),
    ],
)
def test_whole_card_problems_raise_parse_errors(
    content: str | bytes, reason: str, field: str
) -> None:
    caught = error(raw(content))
    assert (caught.reason, caught.field, caught.source) == (reason, field, "card.md")


def test_the_billion_laughs_is_refused_for_its_aliases() -> None:
    caught = error(raw(f"---\n{BILLION_LAUGHS}---\n"))
    assert "aliases" in caught.detail


def test_a_few_aliases_are_fine() -> None:
    text = (
        "src: &src {name: Acme evals, url: https://acme.example}\n"
        "model-index:\n- name: m\n  results:\n"
        "  - {dataset: {type: d1}, metrics: [{type: acc, value: 0.5}], source: *src}\n"
        "  - {dataset: {type: d2}, metrics: [{type: acc, value: 0.6}], source: *src}\n"
    )
    items = by_key(parse_card(card(text)))
    assert {o.attributes["source_name"] for o in items.values()} == {"Acme evals"}


def test_front_matter_over_the_limit_is_too_large() -> None:
    filler = "# padding\n" * (MAX_FRONT_MATTER // 10 + 1)
    caught = error(raw(f"---\n{filler}model-index: []\n---\n"))
    assert (caught.reason, caught.field) == ("too_large", "front matter")


def test_the_front_matter_limit_is_an_option(tmp_path: Path) -> None:
    path = Path(shutil.copy(ACME, tmp_path / "card.md"))
    connector = HfModelIndex({"source": str(path), "max_front_matter_bytes": 500})
    (item,) = list(connector.fetch(Cursor()))
    assert isinstance(item, Payload)
    with pytest.raises(ParseError) as caught:
        connector.parse(item)
    assert caught.value.reason == "too_large" and "500-byte" in caught.value.detail
    assert len(HfModelIndex({"source": str(path)}).parse(item)) == 8


def test_a_byte_order_mark_and_leading_blank_lines_are_accepted() -> None:
    content = "\ufeff\n\n---\n" + yaml.safe_dump(index(result())) + "---\n"
    (o,) = parse_card(raw(content.encode()))
    assert isinstance(o, Observation) and o.value == 0.5


@pytest.mark.parametrize(
    "fetched_at",
    [datetime(2026, 3, 1), datetime(2026, 2, 28, 19, tzinfo=timezone(timedelta(hours=-5)))],
)
def test_a_fetch_time_becomes_aware_utc(fetched_at: datetime) -> None:
    p = card(index(result()))
    (o,) = parse_card(Payload(p.source, p.content, p.content_hash, fetched_at=fetched_at))
    assert isinstance(o, Observation)
    assert o.observed_at == WHEN and o.observed_at.utcoffset() == timedelta(0)


def test_a_payload_without_fetch_time_is_refused() -> None:
    p = card(index(result()))
    p = Payload(p.source, p.content, p.content_hash)
    caught = error(p)
    assert (caught.reason, caught.field) == ("missing_field", "fetched_at")


# -- record problems: rejected alone --------------------------------------------------------------

R0 = "model-index[0].results[0]"


@pytest.mark.parametrize(
    ("bad", "reason", "record", "field"),
    [
        (result(value=float("nan")), "invalid_value", f"{R0}.metrics[0]", "value"),
        (result(value=float("inf")), "invalid_value", f"{R0}.metrics[0]", "value"),
        (result(value=True), "invalid_value", f"{R0}.metrics[0]", "value"),
        (result(value="n/a"), "invalid_value", f"{R0}.metrics[0]", "value"),
        (result(value="20 ± lots"), "invalid_value", f"{R0}.metrics[0]", "value"),
        (result(value=10**400), "invalid_value", f"{R0}.metrics[0]", "value"),
        (result(value=[0.5]), "invalid_value", f"{R0}.metrics[0]", "value"),
        (result(value=150.0), "invalid_value", f"{R0}.metrics[0]", "value"),
        (result(value=-0.1), "invalid_value", f"{R0}.metrics[0]", "value"),
        (result(value=None), "missing_field", f"{R0}.metrics[0]", None),
        (result(metric="x" * 201), "invalid_value", f"{R0}.metrics[0]", "type"),
        (result(metric="acc\x00"), "invalid_value", f"{R0}.metrics[0]", "type"),
        ({**result(), "metrics": [{"value": 0.5}]}, "missing_field", f"{R0}.metrics[0]", "type"),
        ({**result(), "metrics": ["acc"]}, "malformed", f"{R0}.metrics[0]", None),
        ({**result(), "metrics": []}, "missing_field", R0, "metrics"),
        ({"metrics": [{"type": "acc", "value": 1}]}, "missing_field", R0, "dataset.type"),
        ({**result(), "dataset": {"type": {"a": 1}}}, "invalid_value", R0, "dataset.type"),
        (result(kind="d" * 201), "invalid_value", R0, "dataset.type"),
        (result(kind="d" * 150, config="c" * 60), "invalid_value", R0, "dataset.config"),
        ("not a result", "malformed", R0, None),
    ],
)
def test_a_bad_result_is_rejected_and_the_others_kept(
    bad: Any, reason: str, record: str, field: str | None
) -> None:
    items = parse_card(card(index(bad, result("good", 0.7))))
    (rejection,) = rejections(items)
    assert (rejection.reason, rejection.record, rejection.field) == (reason, record, field)
    assert rejection.source == "org__model__README.md"
    assert set(by_key(items)) == {("org/model", "good", "acc")}


@pytest.mark.parametrize(
    ("entry", "reason", "field"),
    [
        ({"name": "", "results": [result()]}, "invalid_value", "name"),
        ({"name": "n" * 201, "results": [result()]}, "invalid_value", "name"),
        ({"name": True, "results": [result()]}, "invalid_value", "name"),
        ({"name": "m"}, "missing_field", "results"),
        ({"name": "m", "results": {"a": 1}}, "missing_field", "results"),
        ("just a name", "malformed", None),
    ],
)
def test_a_bad_entry_is_rejected_and_the_others_kept(
    entry: Any, reason: str, field: str | None
) -> None:
    front = {"model-index": [entry, {"name": "good", "results": [result()]}]}
    items = parse_card(card(front))
    (rejection,) = rejections(items)
    assert (rejection.reason, rejection.record, rejection.field) == (
        reason,
        "model-index[0]",
        field,
    )
    assert set(by_key(items)) == {("good", "cais/mmlu", "acc")}


def test_a_yaml_date_as_a_value_is_rejected() -> None:
    text = "model-index:\n- name: m\n  results:\n"
    text += "  - {dataset: {type: d}, metrics: [{type: acc, value: 2024-01-02}]}\n"
    (rejection,) = parse_card(card(text))
    assert isinstance(rejection, Rejection) and rejection.reason == "invalid_value"


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
