"""Epoch AI's connectors on arbitrary input (hypothesis) and on the real samples. The tables:
test_epoch.py."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from connectors.epoch_benchmarks import EpochBenchmarks, benchmark_of, parse_hub
from connectors.epoch_models import parse_models
from tests.connectors.epoch_tables import (
    HEADER,
    hub,
    payload,
    split,
)
from tests.connectors.test_properties import assert_storable
from warden.core.errors import ParseError
from warden.core.model import Ignored, Observation, Payload
from warden.ingest.connector import Cursor

# -- property tests ---------------------------------------------------------------------------
SETTINGS = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
cells = st.one_of(
    st.sampled_from(["", "0.5", "87", "-1", "nan", "1e400", "True", "2025-01-01", "N/A"]),
    st.sampled_from(["2025-07-01T00:00:00Z", "2025-07-01T00:00:00", "9999-12-31T23:59:59-05:00"]),
    st.text(max_size=12),
)


@SETTINGS
@given(st.binary(max_size=400))
def test_arbitrary_bytes_raise_only_parse_error(content: bytes) -> None:
    for parse in (parse_hub, parse_models):
        try:
            items = parse(payload(content))
        except ParseError:
            continue
        assert_storable([o for o in items if isinstance(o, Observation)])


@SETTINGS
@given(
    st.sampled_from([HEADER, "Model,Publication date,Training compute (FLOP),Parameters"]),
    st.lists(st.lists(cells, min_size=2, max_size=14), max_size=5),
)
def test_arbitrary_rows_give_storable_observations_or_rejections(
    header: str, rows: list[list[str]]
) -> None:
    out = io.StringIO()
    csv.writer(out).writerows([header.split(","), *rows])
    for parse in (parse_hub, parse_models):
        try:
            items = parse(payload(out.getvalue()))
        except ParseError:
            continue
        assert_storable([o for o in items if isinstance(o, Observation)])


# -- the real samples -------------------------------------------------------------------------
@pytest.mark.realdata
def test_real_hub_gpqa_diamond(samples: Path) -> None:
    path = samples / "epoch" / "benchmark_data" / "gpqa_diamond.csv"
    obs, rej = split(parse_hub(payload(path.read_bytes(), str(path))))
    assert (len(obs), rej) == (145, [])
    by_model = {(o.subject, o.attributes.get("variant")): o for o in obs}
    assert len(by_model) == 145  # each row is one model at one setting
    o = by_model[("gpt-5.2-2025-12-11", "xhigh")]
    assert (o.value, o.stderr) == (0.914, 0.018)
    assert o.attributes["model_version"] == "gpt-5.2-2025-12-11_xhigh"
    assert o.observed_at == datetime(2025, 12, 13, 9, 4, tzinfo=UTC)
    assert o.attributes["run_id"] == "Ejo6Fy7XYxUDcCwbejfcYX"
    grok = by_model[("grok-4-0709", None)]  # no `Started at`: placed at its release date
    assert (grok.value, grok.attributes["timestamp_kind"]) == (0.87, "release_date")
    assert grok.attributes["training_compute_flop"] == 5.0000000000001e26


@pytest.mark.realdata
def test_real_hub_folder_and_metr_copy(samples: Path) -> None:
    connector = EpochBenchmarks({"source": str(samples / "epoch" / "benchmark_data")})
    found = {}
    rejections = []
    for item in connector.fetch(Cursor()):
        if isinstance(item, Ignored):  # the folder's README.md
            assert item.source.endswith("README.md")
            continue
        assert isinstance(item, Payload)
        obs, rej = split(connector.parse(item))
        found[benchmark_of(item)] = {(o.subject, o.attributes.get("variant")): o for o in obs}
        rejections += rej
    assert {k: len(v) for k, v in found.items()} == {
        "frontiermath": 74,
        "gpqa_diamond": 145,
        "metr_time_horizons_external": 32,
        "swe_bench_verified": 23,
    }
    # Runs of one model at several efforts are one subject: 145 model versions in GPQA Diamond
    # are 119 models, FrontierMath's 74 are 48, SWE-bench Verified's 23 are 22.
    subjects = {k: len({s for s, _ in v}) for k, v in found.items()}
    assert subjects == {
        "frontiermath": 48,
        "gpqa_diamond": 119,
        "metr_time_horizons_external": 32,
        "swe_bench_verified": 22,
    }
    gpt = {v: o.value for (s, v), o in found["frontiermath"].items() if s == "gpt-5.2-2025-12-11"}
    assert gpt == pytest.approx(
        {"xhigh": 0.407, "high": 0.40345, "medium": 0.36897, "low": 0.26552}, abs=1e-5
    )
    assert [(r.record, r.field) for r in rejections] == [("33", "Release date")]  # davinci-002
    opus = found["metr_time_horizons_external"][("claude-opus-4-5-20251101", "16K")]
    assert (opus.value, opus.attributes["ci_low"], opus.attributes["ci_high"]) == (
        288.904952,
        108.873592,
        1225.190511,
    )
    sonnet = found["swe_bench_verified"][("claude-sonnet-4-5-20250929", None)]
    assert (sonnet.value, sonnet.stderr) == (0.648, 0.02138004238594605)
    deep = found["frontiermath"][("gemini-2.5-deep-think-2025-08-01-webapp", None)]
    assert (deep.value, deep.attributes["timestamp_kind"]) == (0.29, "release_date")


@pytest.mark.realdata
def test_real_models_tables(samples: Path) -> None:
    folder = samples / "epoch" / "ai_models"
    notable = folder / "notable_ai_models.first150rows.csv"
    obs, rej = split(parse_models(payload(notable.read_bytes(), str(notable))))
    # 150 rows, 86 without a training compute.
    assert (len(obs), rej) == (64, [])
    k = {o.subject: o for o in obs}["K-EXAONE"]
    assert (k.value, k.attributes["parameters"], k.attributes["open_weights"]) == (
        1.52e24,
        2.36e11,
        False,
    )
    assert k.observed_at == datetime(2025, 12, 31, tzinfo=UTC)
    assert "Solar Open 100B" not in {o.subject for o in obs}  # no compute given
    frontier = folder / "frontier_ai_models.first60rows.csv"
    obs, rej = split(parse_models(payload(frontier.read_bytes(), str(frontier))))
    assert (len(obs), rej) == (60, [])
    assert (obs[0].subject, obs[0].value, obs[0].attributes["release_date"]) == (
        "Theseus",
        40.0,
        "1950-07-02",
    )


def test_external_scores_need_their_scale_declared() -> None:
    text = "Model version,Score,Release date\nm-1,61.5,2025-01-01\n"
    with pytest.raises(ParseError) as caught:
        parse_hub(payload(text, "aider_polyglot_external.csv"))
    assert (caught.value.reason, caught.value.field) == ("missing_field", "Score")
    assert "options.scales.aider_polyglot_external" in caught.value.detail
    (o,), _ = hub(text, "aider_polyglot_external.csv", {"aider_polyglot_external": "percent"})
    assert (o.metric, o.value, o.attributes["scale"]) == ("mean_score", 61.5, "percent")
    assert o.attributes["value_column"] == "Score"
