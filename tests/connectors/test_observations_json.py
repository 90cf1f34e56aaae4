"""Warden's own observation schema: a JSON list of observations, read as a stream (large files in
bounded memory, all or nothing)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from connectors.observations_json import ObservationsJson, parse_batch
from connectors.observations_json import observations as stream
from tests.connectors.conftest import clock
from thresholds import bundled_catalog, bundled_registry
from warden.catalog.thresholds import load_catalog
from warden.core.errors import ParseError
from warden.core.model import Payload
from warden.ingest.connector import Cursor, sha256
from warden.ingest.feedrun import run_feed
from warden.store import Store
from warden.store.schema import observations, rejects

GOOD = {
    "model": "acme/model-1",
    "benchmark": "gpqa_diamond",
    "metric": "accuracy",
    "value": 0.62,
    "stderr": 0.03,
    "n": 198,
    "observed_at": "2026-03-01T12:00:00+00:00",
}


def payload(body: Any, source: str = "push.json") -> Payload:
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    return Payload(source, content, sha256(content))


def error(body: Any) -> ParseError:
    with pytest.raises(ParseError) as caught:
        parse_batch(payload(body))
    return caught.value


def test_valid_list_gives_observations() -> None:
    second = {**GOOD, "model": "acme/model-2", "value": 1, "stderr": None}
    del second["n"]
    first, other = parse_batch(payload([GOOD, second]))
    assert (first.subject, first.benchmark, first.metric) == (
        "acme/model-1",
        "gpqa_diamond",
        "accuracy",
    )
    assert (first.value, first.stderr, first.n) == (0.62, 0.03, 198)
    assert first.observed_at == datetime(2026, 3, 1, 12, tzinfo=UTC)
    assert (
        first.source == "push.json" and first.content_hash == payload([GOOD, second]).content_hash
    )
    assert (other.value, other.stderr, other.n) == (1.0, None, None)
    assert isinstance(other.value, float)
    assert first.key != other.key


def test_empty_list_gives_nothing() -> None:
    assert parse_batch(payload([])) == []


def test_keys_depend_on_content_not_on_the_batch() -> None:
    (alone,) = parse_batch(payload([GOOD]))
    again = parse_batch(payload([{**GOOD, "model": "other"}, GOOD], source="elsewhere.json"))
    assert again[1].key == alone.key
    changed = parse_batch(payload([{**GOOD, "value": 0.63}]))
    assert changed[0].key != alone.key


def test_offsets_become_utc_and_the_same_instant_is_the_same_observation() -> None:
    (utc,) = parse_batch(payload([GOOD]))
    (local,) = parse_batch(payload([{**GOOD, "observed_at": "2026-03-01T14:00:00+02:00"}]))
    (zulu,) = parse_batch(payload([{**GOOD, "observed_at": "2026-03-01T12:00:00Z"}]))
    assert local.observed_at.utcoffset() == timedelta(0)
    assert utc.observed_at == local.observed_at == zulu.observed_at
    assert utc.key == local.key == zulu.key


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("value", "0.5"),
        ("value", True),
        ("value", None),
        ("value", [0.5]),
        ("stderr", "0.1"),
        ("stderr", -0.1),
        ("n", 1.5),
        ("n", -1),
        ("n", True),
        ("n", 2**31),
        ("model", ""),
        ("model", 7),
        ("model", "x" * 201),
        ("model", "bad\x00id"),
        ("metric", "tab\there"),
        ("observed_at", "yesterday"),
        ("observed_at", 1767225600),
        ("observed_at", "2026-03-01T12:00:00"),
        ("observed_at", "0001-01-01T00:00:00+05:00"),
    ],
)
def test_wrong_value_names_record_and_field(field: str, value: Any) -> None:
    body = [GOOD, {**GOOD, field: value}]
    exc = error(body)
    assert (exc.reason, exc.record, exc.field) == ("invalid_value", "1", field)
    assert exc.source == "push.json"
    assert exc.detail.isprintable()


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity"])
@pytest.mark.parametrize("field", ["value", "stderr"])
def test_nan_and_infinity_are_invalid(literal: str, field: str) -> None:
    # Python's json module reads these non-standard literals as floats.
    text = json.dumps([{**GOOD, field: "@"}]).replace('"@"', literal)
    exc = error(text.encode())
    assert (exc.reason, exc.record, exc.field) == ("invalid_value", "0", field)


@pytest.mark.parametrize("field", ["model", "benchmark", "metric", "value", "observed_at"])
def test_missing_required_field_is_missing_field(field: str) -> None:
    item = dict(GOOD)
    del item[field]
    exc = error([item])
    assert (exc.reason, exc.record, exc.field) == ("missing_field", "0", field)


def test_naive_time_is_rejected_naming_the_offset() -> None:
    exc = error([{**GOOD, "observed_at": "2026-03-01T12:00:00"}])
    assert (exc.record, exc.field) == ("0", "observed_at")
    assert "timezone" in exc.detail


def test_extra_key_is_rejected() -> None:
    exc = error([{**GOOD, "colour": "red"}])
    assert (exc.reason, exc.record, exc.field) == ("invalid_value", "0", "colour")
    assert "unknown key" in exc.detail


def test_extra_key_with_control_characters_is_shown_printable() -> None:
    exc = error([{**GOOD, "a\x00b": 1}])
    assert exc.field is not None and exc.field.isprintable()
    assert exc.detail.isprintable()


@pytest.mark.parametrize("body", [{"model": "m"}, "text", 1, None])
def test_not_a_list_is_rejected_without_a_record(body: Any) -> None:
    exc = error(body)
    assert (exc.reason, exc.record, exc.field) == ("invalid_value", None, None)


def test_item_that_is_not_an_object_names_its_record() -> None:
    exc = error([GOOD, 5])
    assert (exc.reason, exc.record, exc.field) == ("invalid_value", "1", None)


@pytest.mark.parametrize(
    ("content", "reason"),
    [(b"", "malformed"), (b"[", "truncated"), (b'[{"model": "m", "val', "truncated"),
     (b"\xff\xfe\x00", "malformed"), (b"[" * 100_000, "malformed"), (b"1" * 5000, "malformed"),
     (b"[1, 2] junk", "malformed")],
    ids=["empty", "unclosed", "cut", "bad-utf", "deep", "long-int", "junk-after"],
)  # fmt: skip
def test_unreadable_json_is_malformed_or_truncated(content: bytes, reason: str) -> None:
    exc = error(content)
    assert exc.reason == reason, exc.detail


def test_several_errors_are_counted_in_the_message() -> None:
    exc = error([{**GOOD, "value": "x", "n": "y"}])
    assert "(and 1 more)" in exc.detail


def test_long_values_are_not_echoed_in_full() -> None:
    exc = error([{**GOOD, "model": "x" * 100_000}])
    assert len(exc.detail) <= 600


def test_folder_of_batches_ingests_and_rejects(store: Store, tmp_path: Path) -> None:
    (tmp_path / "a.json").write_text(json.dumps([GOOD]))
    (tmp_path / "b.json").write_text(json.dumps([GOOD, {**GOOD, "value": "high"}]))
    (tmp_path / "c.json").write_text(json.dumps([{**GOOD, "model": "acme/model-2"}]))
    connector = ObservationsJson({"path": tmp_path})
    result = run_feed(store, "push", connector, Cursor(), clock)
    assert (result.ingested, result.rejected, result.error) == (2, 1, None)
    with store.read() as conn:
        sources = conn.execute(select(observations.c.source)).scalars().all()
        rej = conn.execute(select(rejects.c.source, rejects.c.record, rejects.c.field)).all()
    assert sorted(sources) == [str(tmp_path / "a.json"), str(tmp_path / "c.json")]
    assert [tuple(r) for r in rej] == [(str(tmp_path / "b.json"), "1", "value")]
    again = run_feed(store, "push", connector, Cursor(), clock)
    assert (again.ingested, again.duplicates, again.rejected) == (0, 2, 1)


def test_file_over_the_size_limit_is_too_large(store: Store, tmp_path: Path) -> None:
    (tmp_path / "big.json").write_text(json.dumps([GOOD] * 50))
    connector = ObservationsJson({"path": tmp_path, "max_bytes": 1000})
    result = run_feed(store, "push", connector, Cursor(), clock)
    assert [(r.source, r.reason) for r in result.rejections] == [
        (str(tmp_path / "big.json"), "too_large")
    ]


# -- large files: read as a stream, all or nothing -------------------------------------------
def records(count: int, **changed: dict[str, Any]) -> list[dict[str, Any]]:
    """`count` distinct good records; `changed` maps an index (as text) to fields to change."""
    out = [{**GOOD, "model": f"acme/model-{i}", "value": i / count} for i in range(count)]
    for index, fields in changed.items():
        out[int(index)].update(fields)
    return out


def test_parse_is_a_stream_that_yields_before_the_file_is_read_to_its_end() -> None:
    content = json.dumps(records(3000)).encode()
    parsed = stream(payload(content[:-1] + b", junk]"))
    assert not isinstance(parsed, Sequence)
    assert next(iter(parsed)).subject == "acme/model-0"  # bad JSON near the end not read yet
    with pytest.raises(ParseError) as caught:
        list(parsed)
    assert caught.value.reason == "malformed" and "[3000]" in caught.value.detail
    assert len(list(stream(payload(content)))) == 3000 == len(parse_batch(payload(content)))


def test_a_bad_record_late_in_a_long_file_is_named_and_the_errors_after_it_counted() -> None:
    body = records(2500, **{"2100": {"value": "x"}, "2400": {"n": "y"}, "2401": {"n": -1}})
    exc = error(body)
    assert (exc.reason, exc.record, exc.field) == ("invalid_value", "2100", "value")
    assert exc.detail.startswith("2100.value: ") and exc.detail.endswith("(and 2 more)")


def test_bad_json_after_a_bad_record_is_what_is_reported() -> None:
    content = json.dumps(records(1500, **{"3": {"value": "x"}})).encode()
    assert error(content[:-1] + b", {]").reason == "malformed"
    assert error(content[:-1]).reason == "truncated"


def test_a_utf8_bom_or_a_utf16_file_is_read() -> None:
    text = json.dumps(records(3))
    for content in (b"\xef\xbb\xbf" + text.encode(), text.encode("utf-16")):
        assert [o.subject for o in parse_batch(payload(content))] == [
            "acme/model-0", "acme/model-1", "acme/model-2"
        ]  # fmt: skip


def test_a_large_document_that_is_not_a_list_is_refused_unread() -> None:
    exc = error(b" " + json.dumps({"observations": records(10_000)}).encode())
    assert exc.reason == "invalid_value" and exc.record is None
    assert "must be a JSON list; its top level is an object" in exc.detail


def test_a_long_file_is_mapped_stored_and_its_bad_times_rejected_alone(
    store: Store, tmp_path: Path
) -> None:
    cybench = {"benchmark": "inspect_evals/cybench", "metric": "includes/accuracy"}
    future = {"observed_at": "2200-01-01T00:00:00+00:00"}  # after the clock's 2100
    body = [{**r, **cybench} for r in records(2500, **{"1500": future, "2200": future})]
    (tmp_path / "big.json").write_text(json.dumps(body))
    registry = load_catalog([bundled_catalog()], [bundled_registry()]).registry
    connector = ObservationsJson({"path": tmp_path})
    result = run_feed(store, "f", connector, Cursor(), clock, registry)
    assert (result.ingested, result.rejected, result.error) == (2498, 2, None)
    assert [(r.record, r.field) for r in result.rejections] == [
        ("1500", "observed_at"), ("2200", "observed_at")
    ]  # fmt: skip
    with store.read() as conn:
        stored = set(conn.execute(select(observations.c.benchmark, observations.c.metric)).all())
    assert stored == {("cybench", "accuracy")} and result.touched == stored


def test_a_long_file_with_one_bad_record_stores_nothing(store: Store, tmp_path: Path) -> None:
    future = {"observed_at": "2200-01-01T00:00:00+00:00"}
    body = records(2500, **{"100": future, "2300": {"value": None}})
    (tmp_path / "big.json").write_text(json.dumps(body))
    result = run_feed(store, "f", ObservationsJson({"path": tmp_path}), Cursor(), clock)
    assert (result.ingested, result.error) == (0, None)
    with store.read() as conn:
        assert conn.execute(select(observations.c.id)).first() is None
        rejected = conn.execute(select(rejects.c.record, rejects.c.field)).all()
    # One reject for the file: not the 2,300 observations before the bad record, nor the
    # record dated in the future among them.
    assert [tuple(r) for r in rejected] == [("2300", "value")]
