"""connectors/blockyaml.py: plain block YAML read fast, exactly as yaml.safe_load reads it, and
everything else left to PyYAML."""

from __future__ import annotations

import math
from datetime import date
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from connectors.blockyaml import OUTSIDE, read
from connectors.documents import safe_yaml

SAMPLES = Path(__file__).resolve().parents[3] / "shared" / "samples"


def same(a: Any, b: Any) -> bool:
    """Equal, with equal types all the way down (True == 1 and 1 == 1.0 in Python)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return list(a) == list(b) and all(
            same(k, j) and same(a[k], b[j]) for k, j in zip(a, b, strict=True)
        )
    if isinstance(a, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, float) and math.isnan(a):
        return math.isnan(b)
    return bool(a == b)


def agrees(text: str) -> Any:
    """read(text), checked against yaml.safe_load: when read gives a document, PyYAML reads the
    same one; when PyYAML refuses the text, read gives OUTSIDE."""
    got = read(text)
    try:
        expected = yaml.safe_load(text)
    except (yaml.YAMLError, ValueError, TypeError, RecursionError):
        assert got is OUTSIDE, f"read accepted what PyYAML refuses: {text!r}"
        return got
    if got is not OUTSIDE:
        assert same(got, expected), f"{text!r}: read {got!r}, PyYAML {expected!r}"
    return got


@pytest.mark.realdata
@pytest.mark.parametrize(
    "name", ["metr/benchmark_results_1_0.yaml", "metr/benchmark_results_1_1.yaml"]
)
def test_metr_results_files_are_read_fast_and_as_pyyaml_reads_them(name: str) -> None:
    text = (SAMPLES / name).read_text(encoding="utf-8")
    got = agrees(text)
    assert got is not OUTSIDE  # the fast path is what METR's files take
    first = next(iter(got["results"].values()))
    assert isinstance(first["release_date"], date)
    assert isinstance(first["metrics"]["p50_horizon_length"]["estimate"], float)
    assert isinstance(first["scaffolds"], list)


@pytest.mark.realdata
def test_every_yaml_sample_agrees_with_pyyaml() -> None:
    files = sorted(p for p in SAMPLES.rglob("*") if p.suffix in {".yaml", ".yml"})
    assert files
    for path in files:
        agrees(path.read_text(encoding="utf-8"))


NESTED = """\
# a comment
name: METR-Horizon-v1.1
count: 12
negative: -3
ratio: 0.25
small: -0.0
flag: true
off_word: off
# YAML 1.1: the key is True, the value False
Yes: No
nothing: null
empty:
released: 2024-06-20
hash: 799cc9c4b4483a93fc3445623a49ea1bd74fdeb2
words: two words, a comma
quoted: 'a: b # c'
double: "x, y"
2024: year key
results:
  model_a~c0:
    metrics:
      p50: {}
    list:
    - one
    - 2
    - 3.5
    -   spaced
  model_b:

    scaffolds:
      - deeper
      - null
after: 1
"""


def test_a_document_of_every_supported_form() -> None:
    # `p50: {}` is a flow mapping: outside the subset, so PyYAML reads it all.
    assert agrees(NESTED) is OUTSIDE
    text = NESTED.replace("      p50: {}\n", "      p50:\n")
    got = agrees(text)
    assert got is not OUTSIDE
    assert got[True] is False and got[2024] == "year key" and got["empty"] is None
    assert got["results"]["model_b"]["scaffolds"] == ["deeper", None]
    assert got["results"]["model_a~c0"]["list"] == ["one", 2, 3.5, "spaced"]
    assert got["quoted"] == "a: b # c" and got["after"] == 1


@pytest.mark.parametrize(
    "text",
    [
        # hex, octal, underscores, exponents, sexagesimal, infinities, times: PyYAML's to build
        "a: 0x1F\n",
        "a: 017\n",
        "a: 1_000\n",
        "a: 1.5e+3\n",
        "a: 190:20:30\n",
        "a: .inf\n",
        "a: 2024-06-20 10:00:00\n",
        "a: &x 1\nb: *x\n",  # anchors and aliases
        "a: !!str 1\n",  # tags
        "a: [1, 2]\n",  # flow collections
        "a: |\n  block\n",  # block scalars
        "a: one\n  two\n",  # a multi-line plain scalar
        "---\na: 1\n",  # document markers
        "a:\n\t- 1\n",  # tabs
        "a: 1\r\n",  # CR
        "- a: 1\n",  # a sequence of mappings
        "- - 1\n",
        "",  # empty, comments only, a scalar document
        "# just a comment\n",
        "plain\n",
        "  a: 1\n",  # an indented root
        "a: 'it''s'\n",  # quotes with escapes
        'a: "\\t"\n',
    ],
)
def test_forms_outside_the_subset_are_left_to_pyyaml(text: str) -> None:
    assert agrees(text) is OUTSIDE


@pytest.mark.parametrize(
    "text",
    [
        "a: 2024-13-45\n",  # an impossible date: PyYAML raises ValueError
        "a: 1\n b: 2\n",  # a deeper line after a value
        "a:\n    b: 1\n  c: 2\n",  # inconsistent indentation
        "- x\na: 1\n",  # a mapping after a root sequence
        "a:\n  - x\n  b: 1\n",  # a key at a nested sequence's indentation
        "# \x1b control character in a comment\na: 1\n",
    ],
)
def test_what_pyyaml_refuses_is_never_read(text: str) -> None:
    assert read(text) is OUTSIDE
    with pytest.raises((yaml.YAMLError, ValueError)):
        yaml.safe_load(text)


def test_safe_yaml_takes_the_fast_path_only_within_the_subset() -> None:
    assert safe_yaml("a:\n- 1\n", max_values=10) == {"a": [1]}
    laughs = "a: &a [x, x]\nb: &b [*a, *a]\nc: [*b, *b, *b]\n"
    with pytest.raises(yaml.YAMLError):  # aliases still counted by the PyYAML path
        safe_yaml(laughs, max_values=5)
    with pytest.raises(yaml.YAMLError):
        safe_yaml(laughs, max_aliases=2)


# -- generated documents -----------------------------------------------------------------------
WORDS = st.sampled_from(
    ["yes", "No", "ON", "off", "null", "Null", "~", "true", "FALSE", "y", "n", "<<", "=", "0",
     "-0", "00", "0x1F", "0b11", "1_0", "1e3", "1.5e+3", ".5", "5.", "-.inf", ".NaN", "1:30",
     "2024-01-31", "2024-02-30", "2024-1-1", "2024-01-01t10:00:00z", "a b", "a  b", "a,b",
     "x~y", "a/b", "(x)", "@x", "a-", "-a", "-1a", "1.2.3", "799cc9", "", " ", "é", "a#b",
     "a: b", "'q'", '"q"', "it's"]
)  # fmt: skip
SCALARS = st.one_of(
    WORDS,
    st.text(st.characters(codec="ascii"), max_size=8),
    st.integers(min_value=-(10**20), max_value=10**20),
    st.floats(allow_nan=False, allow_infinity=False),
    st.booleans(),
    st.none(),
    st.dates(),
)
KEYS = st.one_of(WORDS, st.text("abz_019-.~", min_size=1, max_size=6), st.integers(-99, 99))
DOCUMENTS = st.recursive(
    SCALARS,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(KEYS, inner, max_size=4)),
    max_leaves=24,
)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(DOCUMENTS, st.sampled_from([2, 4]), st.booleans())
def test_generated_block_documents_agree_with_pyyaml(data: Any, indent: int, sort: bool) -> None:
    text = yaml.safe_dump(data, default_flow_style=False, indent=indent, sort_keys=sort)
    agrees(text)


@settings(max_examples=100, deadline=None)
@given(
    st.dictionaries(
        st.from_regex(r"[a-z_][a-z0-9_~.-]{0,12}", fullmatch=True),
        st.dictionaries(
            st.sampled_from(["estimate", "ci_low", "ci_high", "release_date", "scaffolds"]),
            st.one_of(
                st.floats(min_value=0, max_value=1e6),
                st.dates(),
                st.lists(st.from_regex(r"[a-z][a-z_/,]{0,20}", fullmatch=True), max_size=3),
            ),
            min_size=1,
        ),
        min_size=1,
    )
)
def test_documents_shaped_like_metrs_take_the_fast_path(data: dict[str, Any]) -> None:
    text = yaml.safe_dump({"results": data}, default_flow_style=False, sort_keys=False)
    assert agrees(text) is not OUTSIDE or "e" in text.replace("estimate", "")


FIXED_LINES = st.sampled_from(
    ["a:", "a: 1", "b: x", "  a:", "  b: 2", "    c: 3", "   d: 4", "- 1", "- x", "  - y",
     "    - z", "-", "- a: 1", "# c", "  # c", "", "   ", "a: b: c", "? a", ": b", "a: [1]",
     "---", "...", "a: &x 1", "b: *x", "a: 'q'", 'a: "q"', "a: 2024-13-01", "a: one two",
     "  continued", "2: two", "yes: no", "a: |", "  text"]
)  # fmt: skip
INDENT = st.sampled_from(["", "  ", "    "])
LINES = st.one_of(
    FIXED_LINES,
    st.builds(lambda i, k, v: f"{i}{k}: {v}", INDENT, WORDS, WORDS),  # every word unquoted
    st.builds(lambda i, v: f"{i}- {v}", INDENT, WORDS),
)


@settings(max_examples=1500, deadline=None)
@given(st.lists(LINES, max_size=12))
@example(["a:", "- 1", "b: 2"])
@example(["a:", "  b:", "c: 1"])
@example(["a: 1", "  continued"])
def test_arbitrary_line_sequences_agree_with_pyyaml(lines: list[str]) -> None:
    agrees("\n".join(lines) + "\n")
