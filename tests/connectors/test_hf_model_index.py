"""Hugging Face model cards (`hf_model_index`): the project's cards, whole-card problems and
records rejected alone. Properties, the store and the real cards: test_hf_model_index_sources.py."""

from __future__ import annotations

import os
import shutil
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
import yaml

from connectors.hf_model_index import MAX_FRONT_MATTER, HfModelIndex, parse_card
from tests.connectors.hf_cards import (
    ACME,
    MODEL_2,
    WHEN,
    by_key,
    card,
    error,
    index,
    one,
    parse_file,
    raw,
    rejections,
    result,
)
from warden.core.errors import ConfigError, ParseError
from warden.core.model import Observation, Payload, Rejection
from warden.ingest.connector import Cursor

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
