"""SWE-bench: the swebench.com leaderboards.json and SWE-bench/experiments run folders."""

from __future__ import annotations

import json
import math
import shutil
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from connectors.swebench import SweBench
from tests.connectors.conftest import clock
from warden.connector import Cursor, rejected, sha256
from warden.errors import ConfigError, ParseError
from warden.ingest import run_feed
from warden.model import Observation, Payload, Rejection
from warden.store import Store
from warden.store.schema import observations, rejects

DATA = Path(__file__).parent / "data" / "swebench"
BOARD = DATA / "leaderboards.json"
EXPERIMENTS = DATA / "experiments"
RUN = "evaluation/verified/20250401_acme-agent_acme-m2"
SAMPLE = "swe-bench/leaderboards.2025-12-02.truncated.json"
SETTINGS = settings(
    max_examples=200,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


def payload(content: bytes | str, source: str = "leaderboards.json") -> Payload:
    data = content.encode() if isinstance(content, str) else content
    return Payload(source, data, sha256(data))


def split(items: list[Observation | Rejection]) -> tuple[list[Observation], list[Rejection]]:
    return (
        [o for o in items if isinstance(o, Observation)],
        [r for r in items if isinstance(r, Rejection)],
    )


def board(doc: Any, **options: Any) -> list[Observation | Rejection]:
    content = doc if isinstance(doc, bytes | str) else json.dumps(doc)
    return SweBench({"source": "x", **options}).parse(payload(content))


def one_entry(**changes: Any) -> list[Observation | Rejection]:
    entry = {
        "name": "Acme Agent",
        "folder": "20250301_acme",
        "date": "2025-03-01",
        "resolved": 70.0,
        "checked": True,
        "tags": ["Model: acme-m2"],
        **changes,
    }
    return board({"leaderboards": [{"name": "Verified", "results": [entry]}]})


def read_all(connector: SweBench) -> list[Observation | Rejection]:
    out: list[Observation | Rejection] = []
    for item in connector.fetch(Cursor()):
        assert isinstance(item, Payload), item
        try:
            out.extend(connector.parse(item))
        except ParseError as exc:  # a run is one record: its payload is refused whole
            out.append(rejected(item, exc))
    return out


def fits_the_store(o: Observation) -> None:
    for text in (o.subject, o.benchmark, o.metric):
        assert 0 < len(text) <= 200 and text.isprintable()
    assert math.isfinite(o.value) and 0 <= o.value <= 100
    assert o.n is None or 0 < o.n <= 2**31 - 1
    assert o.observed_at.tzinfo is UTC
    json.dumps(o.attributes)


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
        "entry_name": "Acme Agent + Acme M2",
        "open_weights": True,
        "open_source_system": True,
        "attempts": "1",
        "folder": "20250301_acme-agent_acme-m2",
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
def experiments(root: Path = EXPERIMENTS, **options: Any) -> SweBench:
    return SweBench({"source": str(root), "layout": "experiments", **options})


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
        "entry_name": "Acme Agent + Acme M2",
        "open_weights": True,
        "open_source_system": True,
        "attempts": "1",
        "folder": "20250401_acme-agent_acme-m2",
        "resolved_count": 4,
        "total_instances": 500,
        "total_from": "SWE-bench's published size",
        "metadata_file": "metadata.yaml",
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


# -- properties --------------------------------------------------------------------------------
scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()
    | st.text(max_size=12)
    | st.sampled_from(["Model: m-1", "Org: O", "2025-03-01", "20250301_x", "false (see)", "true"])
)
json_values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=15,
)
entries = st.fixed_dictionaries(
    {},
    optional={
        "name": json_values,
        "folder": json_values,
        "date": json_values,
        "resolved": st.floats() | st.integers() | json_values,
        "checked": json_values,
        "tags": st.lists(scalars, max_size=4) | json_values,
        "os_model": json_values,
        "mini-swe-agent_version": json_values,
        "warning": json_values,
    },
)
documents = st.one_of(
    json_values,
    st.fixed_dictionaries(
        {
            "leaderboards": st.lists(
                st.fixed_dictionaries(
                    {"name": json_values, "results": st.lists(entries | json_values, max_size=4)}
                )
                | json_values,
                max_size=3,
            )
        }
    ),
)


def only_parse_errors(connector: SweBench, p: Payload) -> None:
    try:
        result = connector.parse(p)
    except ParseError as exc:
        assert exc.reason in ParseError.REASONS and exc.detail.isprintable()
        return
    for item in result:
        if isinstance(item, Observation):
            fits_the_store(item)
        else:
            assert item.reason in ParseError.REASONS and item.message.isprintable()


RESULTS_SOURCE = f"/x/{RUN}/results/results.json"


@SETTINGS
@given(st.binary(max_size=400))
def test_arbitrary_bytes_raise_only_parse_error(content: bytes) -> None:
    only_parse_errors(SweBench({"source": "x"}), payload(content))
    only_parse_errors(experiments(), payload(content, RESULTS_SOURCE))


@SETTINGS
@given(documents)
def test_arbitrary_leaderboard_json_gives_observations_or_parse_errors(doc: Any) -> None:
    only_parse_errors(SweBench({"source": "x"}), payload(json.dumps(doc)))


@SETTINGS
@given(json_values, st.one_of(st.none(), st.text(max_size=60), json_values.map(json.dumps)))
def test_arbitrary_runs_give_an_observation_or_parse_errors(results: Any, metadata: Any) -> None:
    envelope = {"results": json.dumps(results), "metadata": metadata, "metadata_file": None}
    only_parse_errors(experiments(), payload(json.dumps(envelope), RESULTS_SOURCE))


# -- real data ---------------------------------------------------------------------------------
@pytest.mark.realdata
def test_sample_leaderboards_file(samples: Path) -> None:
    path = samples / SAMPLE
    found, refused = split(
        SweBench({"source": str(path)}).parse(payload(path.read_bytes(), str(path)))
    )
    assert len(found) == 20
    # The Test board's Atlassian and Amazon entries carry no Model: tag.
    assert [(r.record, r.field) for r in refused] == [
        ("Test/20250605_atlassian-rovo-dev", "tags"),
        ("Test/20250522_amazon-q-developer-agent-20250405-dev", "tags"),
    ]
    by_record = {o.attributes["record"]: o for o in found}
    top = by_record["Verified/20250928_trae_doubao_seed_code"]
    assert (top.subject, top.value, top.n) == ("Doubao-Seed-Code + Doubao-Seed-1.6", 78.8, 500)
    assert top.observed_at == datetime(2025, 9, 28, tzinfo=UTC)
    assert top.attributes["organisation"] == "ByteDance"
    assert top.attributes["checked"] is False
    live = by_record["Verified/20251120_livesweagent_gemini-3-pro-preview"]
    assert (live.subject, live.value, live.attributes["checked"]) == (
        "gemini-3-pro-preview",
        77.4,
        False,
    )
    opus = by_record["bash-only/20251124_mini-v1.16.0_claude-opus-4-5-20251101"]
    assert (opus.benchmark, opus.subject, opus.value, opus.n) == (
        "SWE-bench bash-only",
        "claude-opus-4-5-20251101",
        74.4,  # not the 2 of 5 in its cut per_instance_details
        500,
    )
    assert opus.attributes["scaffold"] == "mini-SWE-agent 1.16.0"
    qwen = by_record["Lite/20250901_entroPO_R2E_QwenCoder30BA3B_tts"]
    assert (qwen.subject, qwen.value, qwen.n) == ("Qwen3-Coder-30B-A3B-Instruct", 49.67, 300)
    assert qwen.attributes["open_weights"] is True and qwen.attributes["checked"] is False
    sage = by_record["Test/20251027_salesforce_SAGE"]
    assert (sage.benchmark, sage.value, sage.n) == ("SWE-bench Test", 44.25, 2294)
    mm = by_record["Multimodal/20250701_GUIRepair_o3"]
    assert (mm.subject, mm.value, mm.n) == ("o3-2025-04-16", 35.98, None)
    for o in found:
        fits_the_store(o)


@pytest.mark.realdata
def test_sample_cut_short_is_truncated(samples: Path) -> None:
    data = (samples / SAMPLE).read_bytes()
    for cut in (len(data) // 3, len(data) // 2, len(data) - 10):
        with pytest.raises(ParseError) as caught:
            board(data[:cut])
        assert caught.value.reason == "truncated"


@pytest.mark.realdata
def test_multi_swe_bench_sample_counts_its_own_total(samples: Path, tmp_path: Path) -> None:
    folder = samples / "swe-bench" / "multi-swe-bench-experiments"
    run = tmp_path / "evaluation" / "java-verified" / "20240825_SWE-agent_gpt-4o-2024-05-13"
    (run / "results").mkdir(parents=True)
    shutil.copy(folder / "results.json", run / "results" / "results.json")
    shutil.copy(folder / "metadata.yaml", run / "metadata.yaml")
    # Its old-style metadata (name, oss, site, verified) names no model: refused.
    (item,) = list(experiments(tmp_path).fetch(Cursor()))
    assert isinstance(item, Payload)
    with pytest.raises(ParseError) as caught:
        experiments(tmp_path).parse(item)
    assert (caught.value.reason, caught.value.field) == ("missing_field", "metadata.yaml")
    assert "'SWE-agent + gpt-4o-2024-05-13'" in caught.value.detail
    # Told the model, it reads 6 resolved of the report's own 91 instances.
    with (run / "metadata.yaml").open("a") as meta:
        meta.write("tags: {model: gpt-4o-2024-05-13}\n")
    (o,) = read_all(experiments(tmp_path))
    assert isinstance(o, Observation)
    assert (o.subject, o.benchmark) == ("gpt-4o-2024-05-13", "SWE-bench java-verified")
    assert o.value == pytest.approx(100 * 6 / 91)
    assert (o.n, o.attributes["resolved_count"]) == (91, 6)
    assert o.attributes["total_from"] == "results.json total_instances"
    assert o.attributes["checked"] is True and o.attributes["open_source_system"] is True
    assert o.observed_at == datetime(2024, 8, 25, tzinfo=UTC)


# -- end to end --------------------------------------------------------------------------------
def test_leaderboards_end_to_end(store: Store, tmp_path: Path) -> None:
    shutil.copy(BOARD, tmp_path / "leaderboards.json")
    connector = SweBench({"source": str(tmp_path / "leaderboards.json")})
    result = run_feed(store, "swebench", connector, Cursor(), clock)
    assert (result.ingested, result.rejected, result.error) == (8, 4, None)
    with store.read() as conn:
        benchmarks = conn.execute(select(observations.c.benchmark)).scalars().all()
        refused = conn.execute(select(rejects.c.record)).scalars().all()
    assert benchmarks.count("SWE-bench Verified") == 5
    assert "Verified/20250305_no-model" in refused
    again = run_feed(store, "swebench", connector, Cursor(), clock)
    assert (again.ingested, again.duplicates) == (0, 8)


def test_experiments_end_to_end(store: Store, tmp_path: Path) -> None:
    shutil.copytree(EXPERIMENTS, tmp_path / "experiments")
    connector = experiments(tmp_path / "experiments")
    cursor = Cursor()
    result = run_feed(store, "swebench-experiments", connector, cursor, clock)
    assert (result.ingested, result.rejected, result.error) == (1, 2, None)
    again = run_feed(store, "swebench-experiments", connector, Cursor(), clock)
    assert (again.ingested, again.duplicates) == (0, 1)
    unchanged = run_feed(store, "swebench-experiments", connector, cursor, clock)
    assert (unchanged.ingested, unchanged.duplicates, unchanged.rejected) == (0, 0, 0)
