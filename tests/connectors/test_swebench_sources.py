"""SWE-bench on arbitrary input (hypothesis), on the real samples and end to end through a feed run.
The documents: test_swebench.py."""

from __future__ import annotations

import json
import shutil
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import select

from connectors.swebench import SweBench
from tests.connectors.conftest import clock
from tests.connectors.swebench_docs import (
    BOARD,
    EXPERIMENTS,
    RUN,
    SAMPLE,
    SETTINGS,
    board,
    experiments,
    fits_the_store,
    payload,
    read_all,
    split,
)
from warden.core.errors import ParseError
from warden.core.model import Observation, Payload
from warden.ingest.connector import Cursor
from warden.ingest.feedrun import run_feed
from warden.store import Store
from warden.store.schema import observations, rejects

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
