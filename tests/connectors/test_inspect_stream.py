"""Streaming Inspect `.json` logs: the per-sample arrays are checked and dropped, the rest is the
payload; bad JSON anywhere (inside the samples too) is a rejection; memory stays small."""

from __future__ import annotations

import contextlib
import io
import json
import re
import tracemalloc
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

import connectors.json_stream as module
from connectors.files import read_one
from connectors.inspect_logs import InspectLogs, parse_log
from connectors.json_stream import BULKY, SMALL_ARRAYS, JsonLog
from tests.connectors import craft
from tests.connectors.conftest import clock
from tests.connectors.test_inspect_logs import by_metric, fetch, payload
from warden.core.errors import ConfigError, NotReady, ParseError
from warden.core.model import Payload, Rejection
from warden.ingest.connector import Cursor
from warden.ingest.feedrun import run_feed
from warden.store import Store

SETTINGS = settings(
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)


def streamed(content: bytes, limit: int = 2**30, keep_limit: int = 2**24) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(
        JsonLog(io.BytesIO(content), "x.json", limit, keep_limit).header()
    )
    return doc


def without_samples(doc: dict[str, Any]) -> dict[str, Any]:
    return {
        k: v
        for k, v in doc.items()
        if k not in BULKY and (not isinstance(v, list) or k in SMALL_ARRAYS)
    }


def big_log(inspect_logs: dict[str, Path], folder: Path, copies: int) -> tuple[Path, int]:
    """The session's real `.json` log with its samples repeated `copies` times (indent=2, as
    inspect-ai writes); returns the path and the size of one copy of the samples."""
    doc = craft.log_json(inspect_logs["json"])
    samples = doc["samples"]
    doc["samples"] = [dict(s, id=f"s{i}") for i in range(copies) for s in samples]
    path = folder / "2026-01-01T00-00-00-00-00_tiny_big.json"
    path.write_text(json.dumps(doc, indent=2))
    return path, len(json.dumps(samples, indent=2))


# -- what the payload holds ---------------------------------------------------------------------


def test_json_payload_is_the_log_without_samples(inspect_logs: dict[str, Path]) -> None:
    whole = craft.log_json(inspect_logs["json"])
    assert whole["samples"] and whole["reductions"]  # the real log has both
    (item,) = fetch(inspect_logs["json"])
    assert isinstance(item, Payload) and item.member is None
    got = json.loads(item.content)
    assert got == without_samples(whole)
    assert "samples" not in got and "reductions" not in got
    assert {"version", "status", "eval", "plan", "results", "stats", "tags"} <= set(got)
    assert len(item.content) < len(inspect_logs["json"].read_bytes()) / 4


def test_streamed_payload_parses_like_the_whole_document(inspect_logs: dict[str, Path]) -> None:
    (item,) = fetch(inspect_logs["json"])
    assert isinstance(item, Payload)
    whole = parse_log(payload(craft.log_json(inspect_logs["json"])))
    ours = InspectLogs({"source": inspect_logs["json"]}).parse(item)
    assert [(o.metric, o.value, o.stderr, o.n, o.key) for o in ours] == [
        (o.metric, o.value, o.stderr, o.n, o.key) for o in whole
    ]
    assert all(o.content_hash == item.content_hash for o in ours)


@pytest.mark.parametrize("chunk", [1, 2, 3, 5, 64, 4096])
def test_any_chunk_size_gives_the_same_payload(
    inspect_logs: dict[str, Path], chunk: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    (expected,) = fetch(inspect_logs["json"])
    monkeypatch.setattr(module, "_CHUNK", chunk)
    (item,) = fetch(inspect_logs["json"])
    assert isinstance(item, Payload) and isinstance(expected, Payload)
    assert item.content == expected.content


def test_numbers_split_across_chunks_are_read_whole(monkeypatch: pytest.MonkeyPatch) -> None:
    doc = {"a": -1.5e-05, "b": 12345678901234567890, "c": [1e300, -0.0], "d": True, "e": None}
    text = json.dumps({**doc, "samples": [1.25, 3e-7, False]}).encode()
    for chunk in range(1, 12):
        monkeypatch.setattr(module, "_CHUNK", chunk)
        assert streamed(text) == {k: v for k, v in doc.items() if k != "c"}  # c: an array


def test_nan_and_infinity_are_read_as_json_loads_reads_them() -> None:
    text = b'{"a": NaN, "b": -Infinity, "samples": [{"score": NaN}, Infinity]}'
    got = streamed(text)
    assert got["a"] != got["a"] and got["b"] == float("-inf")
    assert set(got) == {"a", "b"}


def test_dropped_arrays_and_kept_ones() -> None:
    text = json.dumps(
        {
            "samples": {"odd": "an object"},
            "reductions": None,
            "tags": ["x"],
            "log_updates": [{"a": 1}],
            "future_per_sample": [1, 2, 3],
            "metadata": {"k": [1]},
        }
    ).encode()
    assert streamed(text) == {"tags": ["x"], "log_updates": [{"a": 1}], "metadata": {"k": [1]}}


def test_a_repeated_key_keeps_its_last_value_as_json_loads_does() -> None:
    assert streamed(b'{"a": 1, "a": 2}') == {"a": 2}
    assert streamed(b'{"a": 1, "a": [2]}') == {}


def test_byte_order_mark_is_allowed() -> None:
    assert streamed(b'\xef\xbb\xbf{"a": 1}') == {"a": 1}


# -- bad JSON anywhere ------------------------------------------------------------------------


def test_every_truncation_of_a_real_log_is_rejected(
    inspect_logs: dict[str, Path], tmp_path: Path
) -> None:
    data = inspect_logs["json"].read_bytes()
    path = tmp_path / "cut.json"
    end = data.rstrip().rindex(b"}")
    cuts = [*range(0, end, 97), end - 1]
    for value in (rb": true", rb": false", rb": null", rb": \d+\.\d"):
        found = re.search(value, data)
        assert found is not None, value
        cuts.append(found.end() - 1)  # inside the value: `tr`, `fa`, `nu`, `1.`
    for cut in cuts:
        path.write_bytes(data[:cut])
        (item,) = fetch(path)
        assert isinstance(item, Rejection), cut
        assert item.reason == ("truncated" if data[:cut].strip() else "malformed"), (cut, item)
    path.write_bytes(data[: end + 1])
    (item,) = fetch(path)
    assert isinstance(item, Payload)


@pytest.mark.parametrize(
    ("damage", "words"),
    [
        (lambda t: t.replace('"epoch": 1', '"epoch": 1,,', 1), "samples[0]"),
        (lambda t: t.replace('"epoch": 1', '"epoch": tru', 1), "samples[0]"),
        (lambda t: t.replace('"epoch": 1', '"epoch": 1 2', 1), "samples[0]"),
        (lambda t: t.replace('"role": "user"', '"role": "us\x01er"', 1), "samples[0]"),
        (lambda t: t.rstrip() + " {}", "extra data"),
    ],
    ids=["double_comma", "bad_literal", "missing_comma", "control_character", "trailing_data"],
)
def test_bad_json_inside_the_samples_is_rejected_naming_where(
    inspect_logs: dict[str, Path], tmp_path: Path, damage: Any, words: str
) -> None:
    text = inspect_logs["json"].read_text()
    damaged = damage(text)
    assert damaged != text
    with pytest.raises(ValueError):
        json.loads(damaged)
    path = tmp_path / "bad.json"
    path.write_text(damaged)
    (item,) = fetch(path)
    assert isinstance(item, Rejection)
    assert item.reason == "malformed" and words in item.message


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b'{"a": fa', "truncated"),
        (b'{"a": 1.', "truncated"),
        (b'{"a": "\xc3', "truncated"),  # inside a UTF-8 character
        (b'{"samples": [{"x": 1}, ', "truncated"),
        (b'{"a": tru}', "malformed"),
        (b"{}x", "malformed"),  # the document ended: what follows is not a cut
        (b'{"a": 1,, "b": 2}', "malformed"),
    ],
)
def test_a_cut_document_is_truncated_and_a_wrong_one_malformed(content: bytes, reason: str) -> None:
    with pytest.raises(ParseError) as caught:
        streamed(content)
    assert caught.value.reason == reason, caught.value


def test_a_log_cut_inside_the_samples_says_it_looks_truncated(
    inspect_logs: dict[str, Path], tmp_path: Path
) -> None:
    data = inspect_logs["json"].read_bytes()
    path = tmp_path / "cut.json"
    path.write_bytes(data[: data.index(b'\n  "samples": [') + 2000])  # the top-level key
    (item,) = fetch(path)
    assert isinstance(item, Rejection) and item.reason == "truncated"
    assert "ends too soon" in item.message and "samples" in item.message


@pytest.mark.parametrize(
    ("content", "words"),
    [
        (b"", "empty"),
        (b"  \n", "empty"),
        (b"[1, 2]", "not a JSON object"),
        (b'"text"', "not a JSON object"),
        (b"{1: 2}", "expected a key"),
        (b'{"a" 1}', "expected ':'"),
        (b'{"a": 1,}', "expected a key"),
        (b'{"a": "\xff"}', "not UTF-8"),
        (b'{"samples": [' + b"[" * 100_000 + b"]" * 100_000 + b"]}", "nested too deeply"),
        (b'{"a": 1' + b"0" * 5000 + b"}", "4300 digits"),
    ],
)
def test_malformed_documents_are_parse_errors(content: bytes, words: str) -> None:
    with pytest.raises(ParseError) as caught:
        streamed(content)
    assert caught.value.reason == "malformed"
    assert words in caught.value.detail


# -- limits and memory --------------------------------------------------------------------------


def test_file_over_max_json_bytes_is_too_large(inspect_logs: dict[str, Path]) -> None:
    size = inspect_logs["json"].stat().st_size
    (item,) = fetch(inspect_logs["json"], max_json_bytes=size - 1)
    assert isinstance(item, Rejection) and item.reason == "too_large"
    (item,) = fetch(inspect_logs["json"], max_json_bytes=size)
    assert isinstance(item, Payload)


def test_samples_do_not_count_against_max_header_bytes(
    inspect_logs: dict[str, Path], tmp_path: Path
) -> None:
    path, _ = big_log(inspect_logs, tmp_path, 50)
    (item,) = fetch(path, max_header_bytes=8 * 1024)
    assert isinstance(item, Payload)
    (item,) = fetch(path, max_header_bytes=1024)  # the rest of a real log is about 3 KiB
    assert isinstance(item, Rejection) and item.reason == "too_large"


def test_reading_a_large_log_holds_only_a_small_part_of_it(
    inspect_logs: dict[str, Path], tmp_path: Path
) -> None:
    path, _ = big_log(inspect_logs, tmp_path, 400)
    size = path.stat().st_size
    assert size > 8 * 2**20
    stat = path.stat()
    connector = InspectLogs({"source": path})
    tracemalloc.start()
    try:
        item = read_one(path, f"{stat.st_size}:{stat.st_mtime_ns}", connector._read)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert isinstance(item, Payload)
    # About 4 MiB, whatever the size of the log: json.loads would hold several times the file.
    assert peak < 6 * 2**20, f"peak {peak} bytes for a {size}-byte log"
    assert by_metric(connector.parse(item))["match/accuracy"].n == 3


def test_large_log_ingests_once(
    store: Store, inspect_logs: dict[str, Path], tmp_path: Path
) -> None:
    big_log(inspect_logs, tmp_path, 100)
    connector = InspectLogs({"source": str(tmp_path)})
    first = run_feed(store, "lab", connector, Cursor(), clock)
    assert (first.ingested, first.rejected, first.error) == (2, 0, None)
    again = run_feed(store, "lab", connector, Cursor(), clock)
    assert (again.ingested, again.duplicates) == (0, 2)


# -- options ----------------------------------------------------------------------------------


def test_source_and_the_older_path_option_are_the_same(inspect_logs: dict[str, Path]) -> None:
    path = inspect_logs["json"]
    for raw in ({"source": path}, {"source": str(path)}, {"path": path}, {"path": str(path)}):
        connector = InspectLogs(raw)
        assert connector.options.source == str(path)
        (item,) = connector.fetch(Cursor())
        assert isinstance(item, Payload) and item.source == str(path)


def test_missing_source_is_a_config_error_naming_it() -> None:
    with pytest.raises(ConfigError) as caught:
        InspectLogs({}, where="feed lab")
    assert "options.source" in str(caught.value) and "feed lab" in str(caught.value)
    with pytest.raises(ConfigError):
        InspectLogs({"source": ""})


# -- properties ---------------------------------------------------------------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner),
    max_leaves=15,
)
keys = st.sampled_from(["samples", "reductions", "tags", "eval", "x", "results"]) | st.text(
    max_size=6
)
documents = st.dictionaries(keys, json_values, max_size=6)


@SETTINGS
@given(documents, st.integers(0, 3), st.integers(1, 9))
def test_streaming_agrees_with_json_loads_on_valid_documents(
    doc: dict[str, Any], indent: int, chunk: int
) -> None:
    text = json.dumps(doc, indent=indent or None).encode()
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(module, "_CHUNK", chunk)
        got = streamed(text)
    assert json.dumps(got, sort_keys=True) == json.dumps(without_samples(doc), sort_keys=True)


@SETTINGS
@given(documents, st.integers(0, 3), st.integers(1, 9), st.data())
def test_every_cut_of_a_valid_document_is_truncated(
    doc: dict[str, Any], indent: int, chunk: int, data: st.DataObject
) -> None:
    """A document cut short anywhere (inside a key, a string, a literal, a number or a UTF-8
    character) is `truncated`, as a cut CSV, zip or gzip is."""
    text = json.dumps(doc, indent=indent or None, ensure_ascii=False).encode()
    cut = data.draw(st.integers(1, len(text) - 1))
    assume(text[:cut].strip())
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(module, "_CHUNK", chunk)
        with pytest.raises(ParseError) as caught:
            streamed(text[:cut])
    assert caught.value.reason == "truncated", caught.value


@st.composite
def damaged_documents(draw: st.DrawFn) -> str:
    """A JSON document with a few characters inserted, removed or cut off."""
    text = json.dumps(draw(documents))
    for _ in range(draw(st.integers(1, 3))):
        at = draw(st.integers(0, len(text)))
        action = draw(st.sampled_from(["insert", "delete", "cut"]))
        if action == "insert":
            text = text[:at] + draw(st.sampled_from(list('{}[],:" 0-eE.tnNI\\'))) + text[at:]
        elif action == "delete":
            text = text[:at] + text[at + 1 :]
        else:
            text = text[:at]
    return text


@SETTINGS
@given(damaged_documents() | st.text(max_size=50), st.integers(1, 9))
def test_streaming_accepts_exactly_what_json_loads_accepts(text: str, chunk: int) -> None:
    assume("\x00" not in text[:2])  # json.loads would read such bytes as UTF-16 or UTF-32
    content = text.encode()
    try:
        doc = json.loads(content)
        valid = isinstance(doc, dict)
    except (ValueError, RecursionError):
        valid = False
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(module, "_CHUNK", chunk)
        try:
            got = streamed(content)
        except ParseError as exc:
            assert not valid, f"refused a valid document: {exc}"
            assert exc.reason in ("malformed", "truncated")
            return
    assert valid, "accepted an invalid document"
    assert json.dumps(got, sort_keys=True) == json.dumps(without_samples(doc), sort_keys=True)


@SETTINGS
@given(st.binary(max_size=300))
def test_reading_any_bytes_as_a_json_log_never_raises(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "fuzz.json"
    path.write_bytes(content)
    stat = path.stat()
    connector = InspectLogs({"source": path})
    item = read_one(path, f"{stat.st_size}:{stat.st_mtime_ns}", connector._read)
    assert isinstance(item, Payload | Rejection)
    if isinstance(item, Payload):
        with contextlib.suppress(ParseError, NotReady):
            parse_log(item)
