"""Mapped feeds (connectors `csv` and `json`): feeds warden has no connector for, read through the
mapping in their options: CSV, JSON and their options. Properties, real data and end to end:
test_mapped_sources.py."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from connectors.mapped import CsvFeed, JsonFeed
from connectors.mapping import parse_path
from tests.connectors.mapped_feeds import (
    CSV,
    DATA,
    FETCHED,
    HEADER,
    JSON,
    csv_parse,
    file_payload,
    fits_the_store,
    json_parse,
    payload,
    split,
)
from warden.core.errors import ConfigError, ParseError
from warden.core.model import Observation, Rejection


# -- CSV ---------------------------------------------------------------------------------------
def test_csv_rows_become_observations_with_columns_and_constants() -> None:
    found, refused = split(CsvFeed(CSV).parse(file_payload(DATA / "scores.csv")))
    first, summer, percent_sign = found
    assert (first.subject, first.benchmark, first.metric) == ("acme/m2", "gpqa_diamond", "accuracy")
    assert (first.value, first.stderr, first.n) == (71.5, 1.2, 198)
    assert first.observed_at == datetime(2026, 3, 1, 12, tzinfo=UTC)
    assert first.attributes == {
        "record": "row 2",
        "organisation": "Acme Labs",
        "open_weights": True,
        "notes": "baseline, zero-shot",
        "timestamp_kind": "run_end",
        "measured_by": "own",
        "scale": "percent",
    }
    # NA stderr is no stderr; a time without an offset is read in the feed's time zone (BST).
    assert (summer.subject, summer.value, summer.stderr) == ("acme/m3", 74.0, None)
    assert summer.observed_at == datetime(2026, 7, 2, 8, 30, tzinfo=UTC)
    assert summer.attributes["timezone_assumed"] == "Europe/London"
    assert summer.attributes["open_weights"] is False
    assert summer.attributes["notes"] == "two lines:\nsecond line"
    assert "timezone_assumed" not in first.attributes
    # With scale percent a trailing % is read; rows are numbered as in a spreadsheet.
    assert (percent_sign.value, percent_sign.attributes["record"]) == (55.5, "row 6")
    assert [(r.record, r.field, r.reason) for r in refused] == [
        ("row 5", "Score", "invalid_value"),
        ("row 7", "Score", "invalid_value"),
        ("row 9", "SE", "invalid_value"),
        ("row 10", "Questions", "invalid_value"),
        ("row 11", "Evaluated", "invalid_value"),
        ("row 12", "Open weights", "invalid_value"),
        ("row 13", None, "invalid_value"),
    ]
    assert refused[0].message == "row 5, column 'Score': expected a number, found 'high'"
    assert "header has 8" in refused[-1].message
    for o in found:
        fits_the_store(o)


def test_csv_duplicated_row_is_one_observation() -> None:
    found, _ = split(CsvFeed(CSV).parse(file_payload(DATA / "scores.csv")))
    assert [o.subject for o in found].count("acme/m2") == 1


def test_csv_keys_are_content_not_position() -> None:
    header = HEADER
    row_a = "a/1,50,1,10,2026-01-01T00:00:00Z,A,no,\n"
    row_b = "b/1,60,1,10,2026-01-01T00:00:00Z,B,no,\n"
    (a1,) = split(csv_parse(header + row_a))[0]
    b, a2 = split(csv_parse(header + row_b + row_a))[0]
    assert a1.key == a2.key != b.key
    (changed,) = split(csv_parse(header + row_a.replace(",50,", ",51,")))[0]
    assert changed.key != a1.key


def test_csv_with_bom_semicolons_decimal_comma_and_a_strptime_pattern() -> None:
    feed = CsvFeed(
        {
            "source": str(DATA / "scores_eu.csv"),
            "model": {"column": "Modell"},
            "benchmark": {"column": "Benchmark"},
            "metric": {"value": "accuracy"},
            "value": {"column": "Wert"},
            "time": {"column": "Zeit"},
            "time_format": "%d/%m/%Y %H:%M",
            "timezone": "Europe/Paris",
            "delimiter": ";",
            "decimal": ",",
        }
    )
    found, refused = split(feed.parse(file_payload(DATA / "scores_eu.csv")))
    assert refused == []
    assert [(o.subject, o.benchmark, o.value, o.observed_at) for o in found] == [
        ("acme/m2", "mmlu", 0.715, datetime(2026, 3, 1, 13, tzinfo=UTC)),
        ("acme/m3", "mmlu", 0.74, datetime(2026, 7, 1, 12, tzinfo=UTC)),
    ]
    assert "scale" not in found[0].attributes


def test_csv_epoch_seconds() -> None:
    text = "m,v,t\nacme/m2,0.5,1767225600\nacme/m2,0.5,true\n"
    found, refused = split(
        csv_parse(
            text,
            model={"column": "m"},
            value={"column": "v"},
            time={"column": "t"},
            stderr=None,
            n=None,
            attributes={},
            time_format="epoch_seconds",
            scale=None,
        )
    )
    assert found[0].observed_at == datetime(2026, 1, 1, tzinfo=UTC)
    assert "timezone_assumed" not in found[0].attributes
    assert [(r.record, r.field) for r in refused] == [("row 3", "t")]


def test_without_a_time_column_the_fetch_time_is_used_and_kept_out_of_the_key() -> None:
    feed = CsvFeed({**CSV, "time": None})
    text = (DATA / "scores.csv").read_text()
    (first, *_), _ = split(feed.parse(payload(text)))
    assert first.observed_at == FETCHED
    assert first.attributes["timestamp_kind"] == "fetched"
    (again, *_), _ = split(feed.parse(payload(text, fetched=datetime(2026, 5, 1, tzinfo=UTC))))
    assert again.key == first.key
    with pytest.raises(ParseError) as caught:
        feed.parse(payload(text, fetched=None))
    assert (caught.value.reason, caught.value.field) == ("missing_field", "time")


def test_missing_column_rejects_the_file_naming_it_and_listing_the_header() -> None:
    with pytest.raises(ParseError) as caught:
        csv_parse("model,score,SE\nacme/m2,0.5,0.1\n")
    exc = caught.value
    assert (exc.reason, exc.field) == ("missing_field", "Model")
    assert "did you mean 'model'?" in exc.detail
    assert "the header is: 'model', 'score', 'SE'" in exc.detail


def test_mapped_column_twice_in_the_header_is_ambiguous() -> None:
    header = "Model,Score,Score,SE,Questions,Evaluated,Organisation,Open weights,Notes\n"
    with pytest.raises(ParseError) as caught:
        csv_parse(header)
    assert (caught.value.reason, caught.value.field) == ("malformed", "Score")


@pytest.mark.parametrize(
    ("cell", "column", "values"),
    [
        ("Score", "Score", ["", "inf", "-Infinity", "true", "1,234", "0x10", "1e999"]),
        ("SE", "SE", ["-0.1", "nan", "yes"]),
        ("Questions", "Questions", ["-1", "1.5", "2147483648", "ten"]),
        ("Model", "Model", ["x" * 201, "bad\x07id", ""]),
        ("Evaluated", "Evaluated", ["", "2026-13-01", "0001-01-01T00:00:00+05:00"]),
    ],
)
def test_bad_cells_reject_their_row_only(cell: str, column: str, values: list[str]) -> None:
    header = ["Model", "Score", "SE", "Questions", "Evaluated", "Organisation", "Open weights"]
    good = ["acme/m2", "50", "1", "10", "2026-01-01T00:00:00Z", "Acme", "no"]
    lines = [",".join([*header, "Notes"]), ",".join([*good, ""])]
    for value in values:
        row = dict(zip(header, good, strict=True))
        row[cell] = f'"{value}"'
        lines.append(",".join([*row.values(), ""]))
    found, refused = split(csv_parse("\n".join(lines) + "\n"))
    assert len(found) == 1
    assert [(r.record, r.field) for r in refused] == [
        (f"row {i}", column) for i in range(3, 3 + len(values))
    ]
    for r in refused:
        assert r.reason in ("invalid_value", "missing_field")
        assert r.message.startswith(f"{r.record}, column {column!r}: ")
        assert len(r.message) < 300


def test_trailing_percent_needs_scale_percent() -> None:
    text = "m,v\nacme/m2,55%\n"
    common = {
        "model": {"column": "m"},
        "value": {"column": "v"},
        "stderr": None,
        "n": None,
        "time": None,
        "attributes": {},
    }
    assert split(csv_parse(text, **common))[0][0].value == 55.0
    (refused,) = csv_parse(text, **common, scale="fraction")
    assert isinstance(refused, Rejection) and refused.field == "v"


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b"", "malformed"),
        (b"\n\n", "malformed"),
        (b"<!DOCTYPE html><html><body>Not found</body></html>", "malformed"),
        (HEADER.encode() + b"\xff\xfe bad bytes\n", "malformed"),
        (HEADER.encode() + b"x" * 200_000 + b"\n", "malformed"),  # a cell over csv's limit
    ],
    ids=["empty", "blank", "html", "not-utf8", "huge-cell"],
)
def test_not_csv_rejects_the_whole_file(content: bytes, reason: str) -> None:
    with pytest.raises(ParseError) as caught:
        csv_parse(content)
    assert caught.value.reason == reason


@pytest.mark.parametrize(
    ("tail", "reason"),
    [
        (
            'acme/m2,71.5,1.2,198,2026-03-01T12:00:00Z,Acme,yes,"cut inside a quoted cell',
            "truncated",
        ),
        ("acme/m2,71.5,1.2,198,2026-03-01T12:00:00Z,Ac", "truncated"),  # short, no line end
        ('acme/m2,71.5,1.2,198,2026-03-01T12:00:00Z,Acme,yes,"a"b\n', "malformed"),
    ],
    ids=["in-quotes", "short-last-row", "bad-quoting"],
)
def test_csv_cut_short_or_badly_quoted_rejects_the_file(tail: str, reason: str) -> None:
    with pytest.raises(ParseError) as caught:
        csv_parse(HEADER + "beta/7b,50,1,10,2026-01-01T00:00:00Z,Beta,no,\n" + tail)
    assert caught.value.reason == reason
    assert "row 3" in caught.value.detail or reason == "truncated"


def test_short_row_with_a_line_end_is_rejected_alone() -> None:
    # Cells missing at the end of a row are empty: an error only where a value is required.
    text = HEADER + "beta/7b,50,1,10\nbeta/7b,50,1,10,2026-01-01T00:00:00Z,Beta\n"
    found, refused = split(csv_parse(text))
    assert [o.attributes["record"] for o in found] == ["row 3"]
    assert "open_weights" not in found[0].attributes
    assert [(r.record, r.field, r.reason) for r in refused] == [
        ("row 2", "Evaluated", "missing_field")
    ]


def test_header_only_gives_nothing() -> None:
    assert csv_parse(HEADER) == []


def test_encoding_option_reads_latin1() -> None:
    text = "m,v,org\nacme/m2,0.5,Société\n".encode("latin-1")
    common = {
        "model": {"column": "m"},
        "value": {"column": "v"},
        "stderr": None,
        "n": None,
        "time": None,
        "scale": None,
        "attributes": {"organisation": "org"},
    }
    with pytest.raises(ParseError, match="encoding"):
        csv_parse(text, **common)
    (o,) = csv_parse(text, **common, encoding="latin-1")
    assert isinstance(o, Observation) and o.attributes["organisation"] == "Société"


def test_typed_attributes() -> None:
    text = "m,v,flop,rd\nacme/m2,0.5,3.1e25,2025-02-15\nacme/m3,0.5,lots,2025-02-15\n"
    found, refused = split(
        csv_parse(
            text,
            model={"column": "m"},
            value={"column": "v"},
            stderr=None,
            n=None,
            time=None,
            scale=None,
            attributes={"training_compute_flop": "flop", "release_date": "rd"},
        )
    )
    assert found[0].attributes["training_compute_flop"] == 3.1e25
    assert found[0].attributes["release_date"] == "2025-02-15"
    assert [(r.record, r.field) for r in refused] == [("row 3", "flop")]


# -- options -----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("change", "named"),
    [
        ({"model": {"column": "Model", "value": "x"}}, "options.model"),
        ({"model": {}}, "options.model"),
        ({"model": {"field": "model.name"}}, "options.model"),
        ({"model": "Model"}, "options.model"),
        ({"n": {"value": "ten"}}, "options.n"),
        ({"value": {"value": True}}, "options.value"),
        ({"time": {"value": "yesterday"}}, "options.time"),
        ({"benchmark": {"value": ""}}, "options.benchmark"),
        ({"time_format": "dd/mm/yyyy"}, "options.time_format"),
        ({"timezone": "Mars/Olympus"}, "options.timezone"),
        ({"encoding": "klingon"}, "options.encoding"),
        ({"delimiter": ";;"}, "options.delimiter"),
        ({"decimal": "_"}, "options.decimal"),
        ({"scale": "furlongs"}, "options.scale"),
        ({"attributes": {"scale": "Score"}}, "options.attributes"),
        ({"colour": "red"}, "options.colour"),
        ({"source": None}, "options.source"),
    ],
)
def test_bad_mapping_is_a_config_error_naming_the_option(
    change: dict[str, Any], named: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        CsvFeed({**CSV, **change}, where="feeds.lab-sheet")
    assert any(
        p.where == "feeds.lab-sheet" and p.message.startswith(named) for p in caught.value.problems
    ), caught.value.problems


def test_required_mappings_must_be_given() -> None:
    raw = {k: v for k, v in CSV.items() if k != "value"}
    with pytest.raises(ConfigError, match=r"options\.value: Field required"):
        CsvFeed(raw)


@pytest.mark.parametrize(
    ("change", "named"),
    [
        ({"records": "data.results[*"}, "options.records"),
        ({"records": "data..results"}, "options.records"),
        ({"value": {"field": "scores[*].acc"}}, "options.value"),
        ({"value": {"column": "acc"}}, "options.value"),
        ({"attributes": {"org": "a[*]"}}, "options.attributes"),
    ],
)
def test_bad_json_paths_are_config_errors(change: dict[str, Any], named: str) -> None:
    with pytest.raises(ConfigError) as caught:
        JsonFeed({**JSON, **change})
    assert any(p.message.startswith(named) for p in caught.value.problems)


@pytest.mark.parametrize(
    ("text", "steps"),
    [
        ("", ()),
        ("$", ()),
        ("[*]", (None,)),
        ("$.data.results[*]", ("data", "results", None)),
        ("data.results[2].x", ("data", "results", 2, "x")),
        ("a[-1]", ("a", -1)),
        ("scores['acc stderr']", ("scores", "acc stderr")),
        ('a["b.c"].d', ("a", "b.c", "d")),
        ("boards[*].results[*]", ("boards", None, "results", None)),
    ],
)
def test_path_subset(text: str, steps: tuple[Any, ...]) -> None:
    assert parse_path(text, wildcards=True) == steps


# -- JSON --------------------------------------------------------------------------------------
def test_json_records_become_observations() -> None:
    found, refused = split(JsonFeed(JSON).parse(file_payload(DATA / "board.json")))
    first, second = found
    assert (first.subject, first.benchmark, first.metric) == ("acme/m2", "gpqa_diamond", "accuracy")
    assert (first.value, first.stderr, first.n) == (0.62, 0.03, 198)
    assert first.observed_at == datetime(2026, 3, 1, 12, tzinfo=UTC)
    assert first.attributes == {
        "record": "data.results[0]",
        "organisation": "Acme Labs",
        "timestamp_kind": "reported",
        "measured_by": "own",
        "scale": "fraction",
    }
    # A number given as text is read; 198.0 is a count; offsets become UTC.
    assert (second.subject, second.value, second.stderr, second.n) == ("acme/m3", 0.66, None, 198)
    assert second.observed_at == datetime(2026, 3, 2, 10, tzinfo=UTC)
    assert [(r.record, r.field, r.reason) for r in refused] == [
        ("data.results[2]", "scores.acc", "invalid_value"),  # true is not a number
        ("data.results[3]", "model.name", "missing_field"),
        ("data.results[4]", None, "invalid_value"),  # not an object
        ("data.results[5]", "scores.acc", "invalid_value"),  # NaN
    ]
    assert refused[0].message == (
        "data.results[2], field 'scores.acc': expected a number, found the boolean True"
    )


def test_records_missing_before_the_wildcard_reject_the_document() -> None:
    with pytest.raises(ParseError) as caught:
        json_parse({"data": {"rows": []}})
    exc = caught.value
    assert (exc.reason, exc.field) == ("missing_field", "data.results[*]")
    assert "expected 'results' at data, found an object with keys ['rows']" in exc.detail


def test_records_missing_below_a_wildcard_reject_that_branch() -> None:
    doc = {"boards": [{"results": [{"m": "a/1", "v": 0.5}]}, {"name": "empty"}, 7]}
    found, refused = split(
        json_parse(
            doc,
            records="boards[*].results[*]",
            model={"field": "m"},
            benchmark={"value": "b"},
            value={"field": "v"},
            stderr=None,
            n=None,
            time=None,
            attributes={},
        )
    )
    assert [o.attributes["record"] for o in found] == ["boards[0].results[0]"]
    assert [(r.record, r.reason) for r in refused] == [
        ("boards[1]", "missing_field"),
        ("boards[2]", "missing_field"),
    ]


def test_records_that_are_a_list_get_a_hint() -> None:
    (refused,) = json_parse({"data": {"results": []}}, records="data.results")
    assert isinstance(refused, Rejection) and "add [*]" in refused.message


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b"", "malformed"),
        (b'{"data": {"results": [{"model": {"na', "truncated"),
        (b'{"data": {"results": [', "truncated"),
        (b'{"data": 1} trailing', "malformed"),
        (b"<html><body>502 Bad Gateway</body></html>", "malformed"),
        (b"\xff\xfe\x00\x01", "malformed"),
        (b"[" * 100_000, "malformed"),  # nested too deeply
        (b"1" * 5000, "malformed"),
    ],
    ids=[
        "empty",
        "cut-in-string",
        "cut-in-list",
        "trailing",
        "html",
        "bad-utf",
        "deep",
        "long-int",
    ],
)
def test_unreadable_json_rejects_the_document(content: bytes, reason: str) -> None:
    with pytest.raises(ParseError) as caught:
        json_parse(content)
    assert caught.value.reason == reason


def test_truncated_fixture_says_truncated() -> None:
    data = (DATA / "board.json").read_bytes()
    for cut in (10, len(data) // 2, len(data) - 3):
        with pytest.raises(ParseError) as caught:
            json_parse(data[:cut])
        assert caught.value.reason == "truncated", cut
