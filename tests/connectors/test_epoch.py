"""Epoch AI data: the benchmarking hub CSVs (epoch_benchmarks) and the AI models tables
(epoch_models). Fixtures in tests/connectors/data/epoch/ are the project's own, in the real
files' shapes. Properties and the real samples (../shared/samples/epoch): test_epoch_sources.py."""

from __future__ import annotations

import shutil
import zipfile
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import select

from connectors.epoch_benchmarks import EpochBenchmarks, benchmark_of, parse_hub
from connectors.epoch_models import EpochModels, open_weights, parse_models
from tests.connectors.conftest import clock
from tests.connectors.epoch_tables import (
    DATA,
    HEADER,
    ROW,
    error,
    fixture,
    hub,
    payload,
    split,
)
from warden.core.errors import ConfigError
from warden.core.model import Observation
from warden.ingest.connector import Cursor
from warden.ingest.feedrun import run_feed
from warden.store import Store
from warden.store.schema import observations


# -- epoch_benchmarks: the hub's Epoch-run files --------------------------------------------------
def test_hub_file_gives_one_observation_per_row() -> None:
    obs, rej = split(parse_hub(fixture("gpqa_diamond.csv")))
    assert rej == []
    first = obs[0]
    assert (first.subject, first.benchmark, first.metric) == (
        "acme-large-2026-01-15",
        "gpqa_diamond",
        "mean_score",
    )
    assert (first.value, first.stderr, first.n) == (0.8125, 0.0277, None)
    assert first.observed_at == datetime(2026, 1, 20, 10, 15, 30, 250000, tzinfo=UTC)
    assert first.attributes == {
        "scale": "fraction",
        "timestamp_kind": "run_start",
        "record": "2",
        "organisation": "Acme AI",
        "release_date": "2026-01-15",
        "training_compute_flop": 3.2e25,
        "run_id": "AbCdEf123",
        "log_url": "https://logs.example.org/inspect_ai_logs/AbCdEf123.eval",
        "variant": "high",
        "model_version": "acme-large-2026-01-15_high",
        "measured_by": "independent",
    }
    # The effort suffix is the variant of one model, not a model of its own.
    assert [(o.subject, o.attributes.get("variant")) for o in obs] == [
        ("acme-large-2026-01-15", "high"),
        ("acme-large-2026-01-15", "low"),
        ("widget-7b", None),
        ("claude-example-20251001", "16K"),
    ]
    # A comma list inside quotes stays one cell; the multi-line note is one row.
    assert obs[3].attributes["organisation"] == "Example Corp,Example Research"
    assert obs[3].attributes["record"] == "5" and obs[3].attributes["variant"] == "16K"
    assert "variant" not in obs[2].attributes and "model_version" not in obs[2].attributes


def test_row_without_run_time_is_placed_at_the_release_date() -> None:
    obs, _ = split(parse_hub(fixture("gpqa_diamond.csv")))
    widget = obs[2]
    assert widget.observed_at == datetime(2025, 6, 30, tzinfo=UTC)
    assert widget.attributes["timestamp_kind"] == "release_date"


def test_reordered_added_and_renamed_columns_read_the_same() -> None:
    older = "id,Best score (across scorers),Extra column,Model version,Release date\n"
    older += "id1,0.5,whatever,m-1,2025-06-30\n"
    (o,), rej = hub(older)
    assert rej == []
    assert (o.subject, o.metric, o.value, o.stderr) == ("m-1", "mean_score", 0.5, None)
    assert o.attributes["value_column"] == "Best score (across scorers)"
    assert o.attributes["timestamp_kind"] == "release_date"
    # Header case and spacing drift: still found.
    (same,), _ = hub(" MODEL VERSION ,Mean_Score,started  at\nm-1,0.5,2025-07-01T00:00:00Z\n")
    assert (same.subject, same.value) == ("m-1", 0.5)
    assert same.observed_at == datetime(2025, 7, 1, tzinfo=UTC)


def test_key_depends_on_content_not_on_row_position() -> None:
    (a,), _ = hub(f"{HEADER}\n{ROW}\n")
    b = hub(f"{HEADER}\nm-2,0.1,0.1,2025-06-30,Org,C,,,0.02,,,,x\n{ROW}\n")[0][1]
    assert a.key == b.key and a.attributes["record"] != b.attributes["record"]
    changed = hub(f"{HEADER}\n{ROW.replace('0.5,0.5', '0.6,0.6')}\n")[0][0]
    assert changed.key != a.key


@pytest.mark.parametrize(
    ("header", "field"),
    [
        ("mean_score,Release date,stderr", "Model version"),
        ("Model version,Release date,stderr", "mean_score"),
        ("Model version,mean_score,stderr", "Started at"),
    ],
)
def test_missing_required_column_rejects_the_file_naming_it(header: str, field: str) -> None:
    exc = error(parse_hub, f"{header}\na,b,c\n")
    assert exc.reason == "missing_field" and exc.field == field
    assert f"the header has {header.split(',')}" in exc.detail


def test_a_column_named_twice_is_ambiguous() -> None:
    exc = error(
        parse_hub, "Model version,mean_score,mean_score,Release date\nm,0.1,0.2,2025-01-01\n"
    )
    assert (exc.reason, exc.field) == ("malformed", "mean_score")


def test_percentage_where_a_fraction_is_expected_is_refused_per_row() -> None:
    text = f"{HEADER}\n{ROW}\n{ROW.replace('m-1,0.5,0.5', 'm-2,87.5,87.5')}\n"
    obs, (bad,) = hub(text)
    assert [o.subject for o in obs] == ["m-1"]
    assert (bad.reason, bad.record, bad.field) == ("invalid_value", "3", "mean_score")
    assert "percentage where a fraction is expected" in bad.message
    # Declared in percent, the same file is fine (and the 0.5 row is a valid percentage).
    obs, rej = hub(text, scales={"gpqa_diamond": "percent"})
    assert rej == [] and [o.value for o in obs] == [0.5, 87.5]
    assert {o.attributes["scale"] for o in obs} == {"percent"}


@pytest.mark.parametrize(
    ("cell", "reason", "field"),
    [
        ("nan", "invalid_value", "mean_score"),
        ("inf", "invalid_value", "mean_score"),
        ("1e999", "invalid_value", "mean_score"),
        ("-0.1", "invalid_value", "mean_score"),
        ("1_0", "invalid_value", "mean_score"),
        ("True", "invalid_value", "mean_score"),
        ("0x1", "invalid_value", "mean_score"),
        ("", "missing_field", "mean_score"),
    ],
)
def test_bad_value_rejects_only_its_row(cell: str, reason: str, field: str) -> None:
    bad_row = ROW.replace("m-1,0.5,", f"m-2,{cell},")
    obs, (bad,) = hub(f"{HEADER}\n{bad_row}\n{ROW}\n")
    assert [o.subject for o in obs] == ["m-1"]
    assert (bad.reason, bad.record, bad.field) == (reason, "2", field)


@pytest.mark.parametrize(
    ("stderr", "expected"), [("", None), ("N/A", None), ("nan", None), ("0", 0.0)]
)
def test_stderr_absent_or_not_computed_is_none(stderr: str, expected: float | None) -> None:
    (o,), _ = hub(f"{HEADER}\n{ROW.replace(',0.02,', f',{stderr},')}\n")
    assert o.stderr == expected


@pytest.mark.parametrize("stderr", ["-0.01", "inf", "1.5", "abc"])
def test_bad_stderr_rejects_the_row(stderr: str) -> None:
    _, (bad,) = hub(f"{HEADER}\n{ROW.replace(',0.02,', f',{stderr},')}\n")
    assert (bad.reason, bad.field) == ("invalid_value", "stderr")


def test_duplicated_row_is_one_observation() -> None:
    obs, rej = hub(f"{HEADER}\n{ROW}\n{ROW}\n")
    assert len(obs) == 1 and rej == []


def test_times_without_offset_are_utc_and_offsets_are_converted() -> None:
    naive = ROW.replace("2025-07-01T00:00:00Z", "2025-07-01T09:30:00")
    shifted = ROW.replace("m-1", "m-2").replace("2025-07-01T00:00:00Z", "2025-07-01T11:30:00+02:00")
    (a, b), _ = hub(f"{HEADER}\n{naive}\n{shifted}\n")
    assert a.observed_at == b.observed_at == datetime(2025, 7, 1, 9, 30, tzinfo=UTC)
    assert a.attributes["timestamp_assumed_utc"] is True
    assert "timestamp_assumed_utc" not in b.attributes


@pytest.mark.parametrize(
    ("row", "reason", "field"),
    [
        (ROW.replace("2025-07-01T00:00:00Z", "01/07/2025"), "invalid_value", "Started at"),
        (
            ROW.replace("2025-07-01T00:00:00Z", "0001-01-01T00:00:00+05:00"),
            "invalid_value",
            "Started at",
        ),
        (ROW.replace("2025-06-30", "2025-13-01"), "invalid_value", "Release date"),
        (
            ROW.replace("2025-06-30", "").replace("2025-07-01T00:00:00Z", ""),
            "missing_field",
            "Started at",
        ),
        (ROW.replace("m-1", "x" * 201), "invalid_value", "Model version"),
        (ROW.replace("m-1", ""), "missing_field", "Model version"),
        (ROW.replace("m-1", "a\tb"), "invalid_value", "Model version"),
        (ROW.replace(",,,0.02", ",-5,,0.02"), "invalid_value", "Training compute (FLOP)"),
        (ROW + ",extra", "malformed", None),
        ("m-1,0.5,0.5", "malformed", None),
    ],
)
def test_bad_cells_reject_their_row(row: str, reason: str, field: str | None) -> None:
    obs, (bad,) = hub(f"{HEADER}\n{row}\n{ROW.replace('m-1', 'ok')}\n")
    assert [o.subject for o in obs] == ["ok"]
    assert (bad.reason, bad.record, bad.field) == (reason, "2", field)


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b"", "malformed"),
        (b"\xef\xbb\xbf", "malformed"),
        (b" \r\n\n", "malformed"),
        (b"<!DOCTYPE html><html><title>Epoch AI</title></html>", "malformed"),
        (b"PK\x03\x04 zip bytes", "malformed"),
        (b"\xff\xfe\x00binary", "malformed"),
        (f'{HEADER}\nm-1,0.5,0.5,2025-06-30,Org,"cut inside a quot'.encode(), "truncated"),
        (f"{HEADER}\n{ROW}\nm-2,0.5,0.5,2025".encode(), "truncated"),
        (f'{HEADER}\nm-1,"0.5"x,0.5\n'.encode(), "malformed"),
        (
            b'Model version,mean_score,Release date\nm,"' + b"x" * 200_000 + b'",2025-01-01\n',
            "malformed",
        ),
    ],
)
def test_input_that_is_not_a_whole_csv_rejects_the_file(content: bytes, reason: str) -> None:
    assert error(parse_hub, content).reason == reason


def test_time_horizon_file_is_in_minutes_with_its_interval() -> None:
    obs, (undated,) = split(parse_hub(fixture("metr_time_horizons_external.csv")))
    first = obs[0]
    assert (first.benchmark, first.metric, first.value) == (
        "metr_time_horizons_external",
        "Time horizon",
        250.5,
    )
    assert {k: first.attributes[k] for k in ("scale", "ci_low", "ci_high", "ci_level")} == {
        "scale": "minutes",
        "ci_low": 100.125,
        "ci_high": 900.25,
        "ci_level": 0.95,
    }
    assert first.observed_at == datetime(2026, 1, 15, tzinfo=UTC)
    assert (undated.reason, undated.record, undated.field) == ("missing_field", "4", "Release date")


def test_time_horizon_in_hours_says_so_and_inverted_interval_is_refused() -> None:
    text = "Model version,Time horizon (hours),Release date,CI_low,CI_high\n"
    text += "m-1,4.5,2025-01-01,2,9\nm-2,4.5,2025-01-01,9,2\n"
    (o,), (bad,) = hub(text, "metr_time_horizons_external.csv")
    assert (o.metric, o.attributes["scale"]) == ("Time horizon", "hours")
    assert (bad.reason, bad.field) == ("invalid_value", "CI_low")


def test_capabilities_index_is_in_points() -> None:
    text = "Model,eci,eci_ci_low,eci_ci_high,date\ngpt-x,150.5,148.0,153.0,2025-08-07\n"
    (o,), _ = hub(text, "epoch_capabilities_index/eci_scores.csv")
    assert (o.benchmark, o.metric, o.value, o.attributes["scale"]) == (
        "eci_scores",
        "eci",
        150.5,
        "points",
    )
    assert (o.attributes["ci_low"], o.attributes["ci_high"]) == (148.0, 153.0)


def test_archive_member_names_the_benchmark() -> None:
    p = payload(f"{HEADER}\n{ROW}\n", "/data/benchmark_data.zip", "benchmark_data/frontiermath.csv")
    assert benchmark_of(p) == "frontiermath"
    (o,) = parse_hub(p)
    assert isinstance(o, Observation)
    assert (o.benchmark, o.attributes["member"]) == (
        "frontiermath",
        "benchmark_data/frontiermath.csv",
    )
    assert benchmark_of(payload("", "https://epoch.ai/x/swe_bench_verified.csv.gz?v=2")) == (
        "swe_bench_verified"
    )


def test_unknown_option_is_a_config_error() -> None:
    with pytest.raises(ConfigError):
        EpochBenchmarks({"source": "x", "path": "y"})
    with pytest.raises(ConfigError):
        EpochBenchmarks({"source": "x", "scales": {"gpqa_diamond": "percentage"}})


def test_zip_source_is_read_member_by_member(store: Store, tmp_path: Path) -> None:
    archive = tmp_path / "benchmark_data.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as z:
        z.write(DATA / "gpqa_diamond.csv", "gpqa_diamond.csv")
        z.writestr("README.md", "## Licensing\n")
    result = run_feed(store, "epoch", EpochBenchmarks({"source": str(archive)}), Cursor(), clock)
    assert (result.ingested, result.rejected, result.error) == (4, 0, None)
    with store.read() as conn:
        members = conn.execute(select(observations.c.attributes)).scalars().all()
    assert {m["member"] for m in members} == {"gpqa_diamond.csv"}


def test_run_feed_stores_the_hub_and_reingest_adds_nothing(store: Store, tmp_path: Path) -> None:
    for name in ("gpqa_diamond.csv", "metr_time_horizons_external.csv"):
        shutil.copy(DATA / name, tmp_path / name)
    connector = EpochBenchmarks({"source": str(tmp_path)})
    cursor = Cursor()
    result = run_feed(store, "epoch", connector, cursor, clock)
    assert (result.ingested, result.rejected, result.error) == (6, 1, None)
    assert [(r.record, r.reason) for r in result.rejections] == [("4", "missing_field")]
    again = run_feed(store, "epoch", connector, Cursor(), clock)  # everything read again
    assert (again.ingested, again.duplicates) == (0, 6)
    unchanged = run_feed(store, "epoch", connector, cursor, clock)  # nothing read at all
    assert (unchanged.ingested, unchanged.duplicates, unchanged.rejected) == (0, 0, 0)


# -- epoch_models -----------------------------------------------------------------------------
def test_models_with_compute_are_observations_and_the_others_are_not() -> None:
    obs, rej = split(parse_models(fixture("notable_ai_models.csv")))
    assert rej == []
    # Mystery Model and Hosted Helper have no training compute: no measurement, no rejection.
    assert [o.subject for o in obs] == ["Acme Large", "Widget 7B", "Gadget 70B"]
    acme = obs[0]
    assert (acme.benchmark, acme.metric, acme.value, acme.stderr) == (
        "training_compute",
        "flop",
        3.2e25,
        None,
    )
    assert acme.observed_at == datetime(2026, 1, 15, tzinfo=UTC)
    assert acme.attributes == {
        "scale": "flop",
        "timestamp_kind": "release_date",
        "release_date": "2026-01-15",
        "training_compute_flop": 3.2e25,
        "record": "2",
        "organisation": "Acme AI",
        "parameters": 4e11,
        "accessibility": "API access",
        "open_weights": False,
        "confidence": "Likely",
        "measured_by": "independent",
        "frontier_model": True,
    }
    assert [o.attributes.get("open_weights") for o in obs] == [False, True, True]


@pytest.mark.parametrize(
    ("accessibility", "expected"),
    [
        ("Open weights (unrestricted)", True),
        ("Open weights (restricted use)", True),
        ("Open weights (non-commercial)", True),
        ("API access", False),
        ("Hosted access (no API)", False),
        ("Unreleased", False),
        (None, None),
        ("Something new", None),
    ],
)
def test_open_weights_mapping(accessibility: str | None, expected: bool | None) -> None:
    assert open_weights(accessibility) is expected


def test_frontier_table_and_join_column() -> None:
    obs, _ = split(parse_models(fixture("frontier_ai_models.csv")))
    acme, perceptron = obs
    assert (
        acme.attributes["model_versions"] == "acme-large-2026-01-15_high,acme-large-2026-01-15_low"
    )
    assert "open_weights" not in perceptron.attributes
    assert perceptron.value == 694894.9377361819
    assert perceptron.observed_at == datetime(1958, 11, 1, tzinfo=UTC)


def test_same_model_in_both_tables_is_one_observation(store: Store, tmp_path: Path) -> None:
    notable, frontier = fixture("notable_ai_models.csv"), fixture("frontier_ai_models.csv")
    keys = {o.subject: o.key for o in parse_models(notable) if isinstance(o, Observation)}
    other = {o.subject: o.key for o in parse_models(frontier) if isinstance(o, Observation)}
    assert keys["Acme Large"] == other["Acme Large"]
    for name in ("notable_ai_models.csv", "frontier_ai_models.csv"):
        shutil.copy(DATA / name, tmp_path / name)
    connector = EpochModels({"source": str(tmp_path)})
    result = run_feed(store, "models", connector, Cursor(), clock)
    assert (result.ingested, result.duplicates, result.rejected) == (4, 1, 0)
    again = run_feed(store, "models", connector, Cursor(), clock)
    assert (again.ingested, again.duplicates) == (0, 5)


def test_models_header_drift_and_missing_columns() -> None:
    older = "Model,Publication date (YYYY-MM-DD),Training compute (FLOP)\nM,2024-01-02,1e24\n"
    (o,), _ = split(parse_models(payload(older)))
    assert (o.subject, o.value, o.attributes["release_date"]) == ("M", 1e24, "2024-01-02")
    exc = error(parse_models, "Model,Publication date,Parameters\nM,2024-01-02,7\n")
    assert (exc.reason, exc.field) == ("missing_field", "Training compute (FLOP)")


@pytest.mark.parametrize(
    ("row", "reason", "field"),
    [
        ("M,2024-01-02,-1,", "invalid_value", "Training compute (FLOP)"),
        ("M,2024-01-02,nan,", "invalid_value", "Training compute (FLOP)"),
        ("M,2024-01-02,lots,", "invalid_value", "Training compute (FLOP)"),
        ("M,,1e24,", "missing_field", "Publication date"),
        ("M,2024,1e24,", "invalid_value", "Publication date"),
        (",2024-01-02,1e24,", "missing_field", "Model"),
        ("M,2024-01-02,1e24,-7", "invalid_value", "Parameters"),
    ],
)
def test_bad_model_rows_are_rejected_alone(row: str, reason: str, field: str) -> None:
    text = (
        f"Model,Publication date,Training compute (FLOP),Parameters\n{row}\nOK,2024-01-02,1e24,\n"
    )
    obs, (bad,) = split(parse_models(payload(text)))
    assert [o.subject for o in obs] == ["OK"]
    assert (bad.reason, bad.record, bad.field) == (reason, "2", field)
