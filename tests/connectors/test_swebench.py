"""SWE-bench: the swebench.com leaderboards.json and SWE-bench/experiments run folders, and the
connector's options. Properties, real data and end to end: test_swebench_sources.py."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from connectors.swebench import SweBench
from tests.connectors.swebench_docs import (
    BOARD,
    EXPERIMENTS,
    RUN,
    board,
    experiments,
    fits_the_store,
    one_entry,
    payload,
    read_all,
    split,
)
from warden.core.errors import ConfigError, ParseError
from warden.core.model import Observation, Payload, Rejection
from warden.ingest.connector import Cursor


# -- leaderboards.json -------------------------------------------------------------------------
def test_each_board_is_its_own_benchmark_with_percentages() -> None:
    found, _ = split(SweBench({"source": str(BOARD)}).parse(payload(BOARD.read_bytes())))
    assert sorted({o.benchmark for o in found}) == [
        "SWE-bench Lite",
        "SWE-bench Multimodal",
        "SWE-bench Verified",
        "SWE-bench bash-only",
    ]
    assert {(o.metric, o.attributes["scale"]) for o in found} == {("resolved", "percent")}
    for o in found:
        fits_the_store(o)


def test_leaderboard_entry_fields() -> None:
    found, _ = split(board(BOARD.read_text()))
    by_record = {o.attributes["record"]: o for o in found}
    o = by_record["Verified/20250301_acme-agent_acme-m2"]
    assert (o.subject, o.value, o.n, o.stderr) == ("acme-m2-20250215", 71.4, 500, None)
    assert o.observed_at == datetime(2025, 3, 1, tzinfo=UTC)
    assert o.attributes == {
        "scale": "percent",
        "record": "Verified/20250301_acme-agent_acme-m2",
        "timestamp_kind": "submission_date",
        "organisation": "Acme Labs",
        "checked": True,
        "scaffold": "Acme Agent + Acme M2",
        "variant": "Acme Agent + Acme M2",  # the system is the variant the model ran at
        "entry_name": "Acme Agent + Acme M2",
        "open_weights": True,
        "open_source_system": True,
        "attempts": "1",
        "folder": "20250301_acme-agent_acme-m2",
        "measured_by": "independent",
    }


def test_ensemble_is_one_subject_listing_its_models() -> None:
    found, _ = split(board(BOARD.read_text()))
    (o,) = [o for o in found if o.attributes.get("folder") == "20250302_team_ensemble"]
    assert o.subject == "acme-m2-20250215 + beta-7b"
    assert o.attributes["models"] == ["acme-m2-20250215", "beta-7b"]
    assert o.attributes["attempts"] == "2+"
    assert o.attributes["warning"] == "Uses several models; see the README."


def test_bash_only_reads_resolved_not_the_cut_per_instance_details() -> None:
    found, _ = split(board(BOARD.read_text()))
    (o,) = [o for o in found if o.benchmark == "SWE-bench bash-only"]
    assert (o.value, o.n) == (65.4, 500)
    assert o.attributes["scaffold"] == "mini-SWE-agent 1.0.0"
    assert o.attributes["entry_name"] == "Acme M2 (20250215)"


def test_n_is_the_split_size_only_when_the_rate_fits_it() -> None:
    found, _ = split(board(BOARD.read_text()))
    n = {o.attributes["record"]: o.n for o in found}
    assert n["Verified/20250303_live-agent_beta"] is None  # 64.93 is no k/500
    assert n["Lite/20250311_acme-agent_acme-m2"] == 300  # 50.67 ~ 152/300
    assert n["Multimodal/20250312_mm_acme-m2"] is None  # no known size
    with_size = split(board(BOARD.read_text(), split_sizes={"multimodal": 510}))[0]
    assert {o.attributes["record"]: o.n for o in with_size}["Multimodal/20250312_mm_acme-m2"] == 510


def test_rejections_name_the_entry_and_the_field_and_the_rest_is_kept() -> None:
    found, refused = split(board(BOARD.read_text()))
    assert len(found) == 8
    assert [(r.record, r.field, r.reason) for r in refused] == [
        ("Verified/20250305_no-model", "tags", "missing_field"),
        ("Verified/20250306_pending", "checked", "invalid_value"),
        ("Verified/20250307_text-rate", "resolved", "invalid_value"),
        ("leaderboards[4]", None, "malformed"),
    ]
    assert refused[0].message == (
        "Verified/20250305_no-model: no 'Model: ...' tag: the entry "
        "('Closed Product (2025-03-05)') names no model"
    )


def test_duplicated_entry_is_one_observation() -> None:
    found, _ = split(board(BOARD.read_text()))
    records = [o.attributes["record"] for o in found]
    assert records.count("Verified/20250301_acme-agent_acme-m2") == 1


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (True, True),
        (False, False),
        ("true", True),
        ("False", False),
        ("false (See README.md for info on how to get your results verified)", False),
        (None, None),
    ],
)
def test_checked_spellings(raw: Any, expected: bool | None) -> None:
    (o,) = one_entry(checked=raw)
    assert isinstance(o, Observation)
    assert o.attributes.get("checked") is expected


@pytest.mark.parametrize("raw", ["pending", "yes", "truest", 1, [True]])
def test_unknown_checked_is_rejected(raw: Any) -> None:
    (r,) = one_entry(checked=raw)
    assert isinstance(r, Rejection)
    assert (r.record, r.field, r.reason) == ("Verified/20250301_acme", "checked", "invalid_value")


@pytest.mark.parametrize("raw", ["70.2", True, None, 100.5, -1, 10**400, [70]])
def test_bad_resolved_is_rejected(raw: Any) -> None:
    (r,) = one_entry(resolved=raw)
    assert isinstance(r, Rejection)
    assert (r.record, r.field) == ("Verified/20250301_acme", "resolved")
    assert r.reason == ("missing_field" if raw is None else "invalid_value")


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity"])
def test_non_finite_resolved_is_rejected(literal: str) -> None:
    text = json.dumps(
        {
            "leaderboards": [
                {
                    "name": "Lite",
                    "results": [
                        {
                            "name": "A",
                            "folder": "20250301_a",
                            "date": "2025-03-01",
                            "resolved": "@",
                            "tags": ["Model: m"],
                        }
                    ],
                }
            ]
        }
    ).replace('"@"', literal)
    (r,) = board(text)
    assert isinstance(r, Rejection) and r.field == "resolved"


@pytest.mark.parametrize(
    ("changes", "when"),
    [
        ({"date": None}, datetime(2025, 3, 1, tzinfo=UTC)),  # from the folder's prefix
        ({"date": "2025-03-02T23:30:00-02:00"}, datetime(2025, 3, 3, 1, 30, tzinfo=UTC)),
        ({"date": "2025-03-02T10:00:00"}, datetime(2025, 3, 2, 10, tzinfo=UTC)),
    ],
)
def test_dates(changes: dict[str, Any], when: datetime) -> None:
    (o,) = one_entry(**changes)
    assert isinstance(o, Observation) and o.observed_at == when


@pytest.mark.parametrize(
    ("changes", "field", "reason"),
    [
        ({"date": "2025-02-30"}, "date", "invalid_value"),
        ({"date": "soon"}, "date", "invalid_value"),
        ({"date": None, "folder": "acme"}, "date", "missing_field"),
        ({"date": 20250301}, "date", "missing_field"),
        ({"tags": "Model: acme-m2"}, "tags", "invalid_value"),
        ({"tags": []}, "tags", "missing_field"),
        ({"tags": ["Model: " + "x" * 201]}, None, "invalid_value"),
        ({"tags": ["Model: bad\x00id"]}, None, "invalid_value"),
    ],
)
def test_bad_entry_fields_are_rejected(changes: dict[str, Any], field: str, reason: str) -> None:
    (r,) = one_entry(**changes)
    assert isinstance(r, Rejection), r
    assert (r.field, r.reason) == (field, reason)
    assert r.message.isprintable()


def test_entry_that_is_not_an_object_is_rejected() -> None:
    found, refused = split(board({"leaderboards": [{"name": "Lite", "results": ["x", None]}]}))
    assert found == []
    assert [r.record for r in refused] == ["Lite[0]", "Lite[1]"]


@pytest.mark.parametrize(
    "content",
    [b"", b"[]", b'{"boards": []}', b'{"leaderboards": {}}', b"<html>404</html>", b"\xff\xfe"],
    ids=["empty", "list", "other-key", "not-a-list", "html", "not-utf8"],
)
def test_not_a_leaderboard_file_rejects_the_whole_payload(content: bytes) -> None:
    with pytest.raises(ParseError) as caught:
        board(content)
    assert caught.value.reason == "malformed"


def test_cut_file_is_truncated_not_partly_read() -> None:
    data = BOARD.read_bytes()
    for cut in (1, 200, len(data) // 2, len(data) - 2):
        with pytest.raises(ParseError) as caught:
            board(data[:cut])
        assert caught.value.reason == "truncated", cut
        assert "ends before its JSON does" in caught.value.detail


# -- experiments -------------------------------------------------------------------------------


def test_run_value_is_distinct_resolved_ids_over_the_split_size() -> None:
    found, refused = split(read_all(experiments()))
    (o,) = found
    assert (o.subject, o.benchmark, o.metric) == (
        "acme-m2-20250215",
        "SWE-bench Verified",
        "resolved",
    )
    assert o.value == pytest.approx(100 * 4 / 500)  # five ids, one twice
    assert o.n == 500
    assert o.observed_at == datetime(2025, 4, 1, tzinfo=UTC)
    assert o.source == str(EXPERIMENTS / RUN / "results" / "results.json")
    assert o.attributes == {
        "scale": "percent",
        "record": "verified/20250401_acme-agent_acme-m2",
        "timestamp_kind": "submission_date",
        "organisation": "Acme Labs",
        "checked": False,
        "scaffold": "Acme Agent + Acme M2",
        "variant": "Acme Agent + Acme M2",  # the system is the variant the model ran at
        "entry_name": "Acme Agent + Acme M2",
        "open_weights": True,
        "open_source_system": True,
        "attempts": "1",
        "folder": "20250401_acme-agent_acme-m2",
        "resolved_count": 4,
        "total_instances": 500,
        "total_from": "SWE-bench's published size",
        "metadata_file": "metadata.yaml",
        "measured_by": "independent",
    }
    # The old metadata shape names no model; Multimodal has no known size: both refused.
    assert [(r.record, r.field, r.reason) for r in refused] == [
        ("lite/20240601_old-agent", "metadata.yml", "missing_field"),
        ("multimodal/20250402_mm-agent", "results.json", "missing_field"),
    ]
    assert "split_sizes" in refused[1].message


def test_unknown_split_size_from_the_feed_options() -> None:
    found, _ = split(read_all(experiments(split_sizes={"Multimodal": 510})))
    (o,) = [o for o in found if o.benchmark == "SWE-bench Multimodal"]
    assert o.value == pytest.approx(100 * 2 / 510)
    assert (o.n, o.attributes["total_from"]) == (510, "feed option split_sizes")
    assert o.attributes["checked"] is True and o.attributes["organisation"] == "Acme Labs"


def test_other_json_files_give_nothing() -> None:
    connector = experiments()
    items = list(connector.fetch(Cursor()))
    assert len(items) == 5  # three results.json, resolved_by_repo.json, per_instance_details.json
    quiet = [p for p in items if isinstance(p, Payload) and not p.source.endswith("results.json")]
    assert len(quiet) == 2
    assert all(connector.parse(p) == [] and p.content == b"" for p in quiet)


def make_run(root: Path, results: Any, metadata: str | None, split_name: str = "verified") -> Path:
    run = root / "evaluation" / split_name / "20250501_x_m"
    (run / "results").mkdir(parents=True)
    text = results if isinstance(results, str) else json.dumps(results)
    (run / "results" / "results.json").write_text(text)
    if metadata is not None:
        (run / "metadata.yaml").write_text(metadata)
    return run


META = "info: {name: X}\ntags: {model: [m-1], checked: true}\n"


def run_error(root: Path, results: Any, metadata: str | None, **options: Any) -> ParseError:
    make_run(root, results, metadata)
    (item,) = list(experiments(root, **options).fetch(Cursor()))
    if isinstance(item, Rejection):
        return ParseError(item.reason, item.message, source=item.source, field=item.field)
    assert isinstance(item, Payload)
    with pytest.raises(ParseError) as caught:
        experiments(root, **options).parse(item)
    return caught.value


@pytest.mark.parametrize(
    ("results", "metadata", "reason", "field"),
    [
        ({"resolved": ["a"]}, None, "missing_field", "metadata.yaml"),
        ({"no_logs": []}, META, "missing_field", "results.json"),
        ({"resolved": "a,b"}, META, "missing_field", "results.json"),
        ({"resolved": [1, 2]}, META, "missing_field", "results.json"),
        ({"resolved": ["a", "b"], "total_instances": 1}, META, "invalid_value", "results.json"),
        ('{"resolved": ["a", "b"', META, "truncated", None),
        ("[]", META, "missing_field", "results.json"),
        ({"resolved": []}, "info: [unclosed", "malformed", "metadata.yaml"),
        ({"resolved": []}, "- a list", "malformed", "metadata.yaml"),
        ({"resolved": []}, "tags: {model: [m-1], checked: maybe}", "invalid_value", None),
        ({"resolved": []}, "tags: {checked: true}", "missing_field", "metadata.yaml"),
    ],
)
def test_bad_runs_are_refused(
    tmp_path: Path, results: Any, metadata: str | None, reason: str, field: str | None
) -> None:
    exc = run_error(tmp_path, results, metadata)
    assert exc.reason == reason, exc
    if field is not None:
        assert exc.field == field
    assert exc.detail.isprintable()


def test_yaml_alias_bomb_is_refused(tmp_path: Path) -> None:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]" for i in range(1, 9)]
    exc = run_error(tmp_path, {"resolved": []}, "\n".join(lines) + "\n" + META)
    assert (exc.reason, exc.field) == ("malformed", "metadata.yaml")
    assert "aliases" in exc.detail


def test_metadata_over_the_size_limit_is_too_large(tmp_path: Path) -> None:
    exc = run_error(tmp_path, {"resolved": []}, META + "#" * 5000, max_metadata_bytes=1000)
    assert (exc.reason, exc.field) == ("too_large", "metadata.yaml")


def test_total_instances_in_results_json_is_used_and_said(tmp_path: Path) -> None:
    make_run(tmp_path, {"resolved_ids": ["a", "b", "c"], "total_instances": 12}, META, "multimodal")
    (o,) = read_all(experiments(tmp_path))
    assert isinstance(o, Observation)
    assert (o.value, o.n) == (25.0, 12)
    assert o.attributes["total_from"] == "results.json total_instances"


def test_multi_swe_bench_layout_is_refused(tmp_path: Path) -> None:
    run = tmp_path / "evaluation" / "java" / "verified" / "20240825_x" / "results"
    run.mkdir(parents=True)
    (run / "results.json").write_text('{"resolved": []}')
    (item,) = list(experiments(tmp_path).fetch(Cursor()))
    assert isinstance(item, Payload)
    with pytest.raises(ParseError, match="Multi-SWE-bench"):
        experiments(tmp_path).parse(item)


# -- options -----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("raw", "named"),
    [
        ({"source": "x", "layout": "website"}, "options.layout"),
        ({"source": "https://example.org/evaluation", "layout": "experiments"}, "options.layout"),
        ({"source": "x", "split_sizes": {"multimodal": 0}}, "options.split_sizes.multimodal"),
        ({"source": "x", "split_sizes": {"multimodal": "510"}}, "options.split_sizes.multimodal"),
        ({"source": "x", "colour": 1}, "options.colour"),
        ({}, "options.source"),
    ],
)
def test_bad_options_are_config_errors(raw: dict[str, Any], named: str) -> None:
    with pytest.raises(ConfigError) as caught:
        SweBench(raw, where="feeds.swe")
    assert any(p.message.startswith(named) for p in caught.value.problems), caught.value.problems
