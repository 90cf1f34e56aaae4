"""Proposed aliases for unmapped model ids: spelling and the feeds' facts, never merging
models a source keeps apart; `model_aliases:` in a registry file."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from thresholds import bundled_registry
from warden.catalog.registry import Registry, add_file, load_registry
from warden.catalog.suggestions import Sighting, render, spelling, suggest
from warden.core.errors import CatalogError, Problem


def registry_of(tmp_path: Path, text: str) -> Registry:
    file = tmp_path / "models.yaml"
    file.write_text(text)
    return load_registry([file])


BASE = """
models:
  - id: meta/llama-3-8b
    aliases: [Meta-Llama-3-8B]
    organisation: Meta AI
    release_date: 2024-04-18
  - id: openai/gpt-4o-2024-05-13
    aliases: [gpt-4o-2024-05-13, gpt_4o]
    organisation: OpenAI
    release_date: 2024-05-13
"""


def test_spelling_sets_aside_case_prefix_stamp_and_effort_suffix() -> None:
    a = spelling("gpt-5.2-2025-12-11_xhigh")
    assert a.key == ("gpt", "5", "2") and a.stamp == date(2025, 12, 11)
    assert a.base == "gpt-5.2-2025-12-11"  # the effort suffix never reaches an alias
    assert spelling("meta-llama/Meta-Llama-3-8B").key == spelling("Llama 3 8B").key
    assert spelling("claude_3_opus_inspect").key == spelling("claude-3-opus-20240229").key
    assert spelling("claude_3_opus_inspect").base == "claude_3_opus_inspect"  # METR's own key


def test_base_and_instruct_models_stay_apart(tmp_path: Path) -> None:
    registry = registry_of(tmp_path, BASE)
    seen = [
        Sighting("Llama-3-8B-Instruct", "hub", organisation="Meta AI"),
        Sighting("llama_3_8b", "metr", release_date=date(2024, 4, 18)),
    ]
    out = suggest(registry, seen)
    assert [(p.model, p.aliases) for p in out.aliases] == [("meta/llama-3-8b", ["llama_3_8b"])]
    assert [p.model for p in out.new] == ["meta/llama-3-8b-instruct"]
    assert out.new[0].aliases == ["Llama-3-8B-Instruct"]


def test_a_snapshot_of_another_date_is_another_model(tmp_path: Path) -> None:
    registry = registry_of(tmp_path, BASE)
    out = suggest(registry, [Sighting("gpt-4o-2024-08-06", "hub", organisation="OpenAI")])
    assert out.aliases == [] and [p.model for p in out.new] == ["openai/gpt-4o"]
    # the same snapshot under another spelling is an alias
    out = suggest(registry, [Sighting("GPT-4o_2024_05_13", "x")])
    assert out.aliases == []  # underscores in a date are not a date stamp: no guess
    out = suggest(registry, [Sighting("openai/gpt-4o-20240513", "x")])
    assert [(p.model, p.aliases) for p in out.aliases] == [
        ("openai/gpt-4o-2024-05-13", ["openai/gpt-4o-20240513"])
    ]


def test_facts_that_disagree_block_a_match(tmp_path: Path) -> None:
    registry = registry_of(tmp_path, BASE)
    seen = [
        Sighting("llama-3-8b", "a", organisation="Other Lab"),
        Sighting("LLAMA 3 8B", "b", release_date=date(2023, 1, 1)),
    ]
    out = suggest(registry, seen)
    assert out.aliases == []
    # and two unmapped spellings join only when their facts agree
    seen = [
        Sighting("Foo-7B", "a", organisation="Lab", parameters=7e9),
        Sighting("foo_7b", "b", organisation="Lab", parameters=7.1e9),
        Sighting("foo 7b", "c", organisation="Lab", parameters=70e9),
    ]
    out = suggest(registry, seen)
    assert [p.model for p in out.new] == ["lab/foo-7b"]
    assert [sorted(p.aliases) for p in out.new] == [["Foo-7B", "foo_7b"]]
    assert [raw for raw, _ in out.left] == ["foo 7b"]  # its name is taken by the group


def test_ensembles_and_ids_without_facts_get_no_proposal(tmp_path: Path) -> None:
    registry = registry_of(tmp_path, BASE)
    ensemble = Sighting.from_attributes(
        "a + b",
        "swebench",
        1,
        {"models": ["a", "b"], "organisation": "Submitter", "entry_name": "Agent"},
    )
    assert ensemble.ensemble and ensemble.organisation is None  # SWE-bench's org: submitter
    out = suggest(registry, [ensemble, Sighting("dummy", "lmeval")])
    assert out.new == [] and out.aliases == []
    assert [raw for raw, _ in out.left] == ["a + b", "dummy"]


def test_the_proposals_are_a_registry_file_that_loads(tmp_path: Path) -> None:
    registry = registry_of(tmp_path, BASE)
    seen = [
        Sighting("llama_3_8b", "metr", release_date=date(2024, 4, 18)),
        Sighting("Bar-2", "hub", organisation="Bar AI", release_date=date(2025, 1, 2)),
        Sighting("bar_2", "metr", release_date=date(2025, 1, 10), open_weights=True),
    ]
    text = render(suggest(registry, seen), "proposed\nby a test")
    file = tmp_path / "proposed.yaml"
    file.write_text(text)
    problems: list[Problem] = []
    add_file(registry, file, problems)
    assert problems == []
    assert registry.model("llama_3_8b").id == "meta/llama-3-8b"  # type: ignore[union-attr]
    bar = registry.model("BAR_2")
    assert bar is not None and bar.id == "bar-ai/bar-2" and bar.open_weights is True
    assert bar.release_date == date(2025, 1, 2) and bar.organisation == "Bar AI"


def test_model_aliases_must_name_a_known_model_and_a_free_alias(tmp_path: Path) -> None:
    registry = registry_of(tmp_path, BASE)
    file = tmp_path / "more.yaml"
    file.write_text("model_aliases:\n  meta/llama-3-8bb: [x]\n  meta/llama-3-8b: [gpt_4o, y]\n")
    problems: list[Problem] = []
    add_file(registry, file, problems)
    messages = [p.message for p in problems]
    assert messages[0].startswith("model_aliases: unknown model 'meta/llama-3-8bb'")
    assert "did you mean 'meta/llama-3-8b'" in messages[0]
    assert "alias 'gpt_4o' of model 'meta/llama-3-8b' already names" in messages[1]
    assert registry.model("y").id == "meta/llama-3-8b"  # type: ignore[union-attr]
    assert str(file) in problems[0].where


def test_the_bundled_registry_loads_and_keeps_base_and_instruct_apart() -> None:
    registry = load_registry([bundled_registry()])
    assert registry.model("Qwen2.5-72B").id == "alibaba/qwen2.5-72b"  # type: ignore[union-attr]
    assert registry.model("qwen2.5-72b-instruct").id == "alibaba/qwen2.5-72b-instruct"  # type: ignore[union-attr]
    assert registry.model("Meta-Llama-3-8B-Instruct").id == "meta/llama-3-8b-instruct"  # type: ignore[union-attr]
    # no alias of the bundled registry carries an effort suffix added with this file's section
    assert registry.model("gpt-5-nano-2025-08-07_high") is None
    with pytest.raises(CatalogError):
        load_registry([Path("/nonexistent/registry.yaml")])
