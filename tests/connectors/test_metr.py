"""METR time horizons: the results YAML (versions 1.0 and 1.1) and Epoch's CSV copy. Fixtures in
tests/connectors/data/metr/ are the project's own, in METR's shapes; realdata tests read
../shared/samples/metr and ../shared/samples/epoch."""

from __future__ import annotations

import functools
import os
import shutil
import threading
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from connectors.metr import MAX_EXPANDED, MetrHorizons, load_yaml, parse_results
from tests.connectors.conftest import clock
from tests.connectors.test_properties import assert_storable, json_values
from warden.core.errors import ConfigError, ParseError
from warden.core.model import Observation, Payload, Rejection
from warden.ingest.connector import Cursor, sha256
from warden.ingest.feedrun import run_feed
from warden.store import Store

DATA = Path(__file__).parent / "data" / "metr"
EPOCH = Path(__file__).parent / "data" / "epoch"
FETCHED = datetime(2026, 2, 1, 12, tzinfo=UTC)
ENTRY = {
    "release_date": "2025-01-01",
    "metrics": {"p50_horizon_length": {"estimate": 10.0, "ci_low": 5.0, "ci_high": 20.0}},
}


def payload(
    content: str | bytes,
    name: str = "benchmark_results_1_1.yaml",
    fetched_at: datetime | None = FETCHED,
) -> Payload:
    data = content.encode() if isinstance(content, str) else content
    return Payload(name, data, sha256(data), None, None, fetched_at)


def doc(results: Any, **top: Any) -> str:
    return yaml.safe_dump({"benchmark_name": "METR-Horizon-v1.1", **top, "results": results})


def split(items: Sequence[Observation | Rejection]) -> tuple[list[Observation], list[Rejection]]:
    obs = [o for o in items if isinstance(o, Observation)]
    rej = [r for r in items if isinstance(r, Rejection)]
    return obs, rej


def parse(text: str | bytes) -> tuple[list[Observation], list[Rejection]]:
    return split(parse_results(payload(text)))


def error(text: str | bytes, **kw: Any) -> ParseError:
    with pytest.raises(ParseError) as caught:
        parse_results(payload(text, **kw))
    return caught.value


def by(obs: list[Observation]) -> dict[tuple[str, str], Observation]:
    return {(o.subject, o.metric): o for o in obs}


# -- version 1.1 and 1.0 files ----------------------------------------------------------------
def test_version_1_1_file_gives_p50_and_p80_per_model() -> None:
    obs, rej = parse((DATA / "benchmark_results_1_1.yaml").read_bytes())
    assert rej == [] and len(obs) == 6
    found = by(obs)
    p50 = found[("acme_large_inspect", "p50_horizon_length")]
    assert (p50.benchmark, p50.value, p50.stderr, p50.n) == (
        "METR-Horizon-v1.1",
        300.125,
        None,
        None,
    )
    assert p50.observed_at == FETCHED
    assert p50.attributes == {
        "source_version": "METR-Horizon-v1.1",
        "source_date": "2026-01-15",  # the newest release date in the file
        "long_tasks_version": "0123456789abcdef0123456789abcdef01234567",
        "swaa_version": "fedcba9876543210fedcba9876543210fedcba98",
        "scale": "minutes",
        "ci_low": 150.25,
        "ci_high": 700.5,
        "ci_level": 0.95,
        "measured_by": "independent",
        "timestamp_kind": "fetched",
        "release_date": "2026-01-15",
        "scaffold": "mtb/start_metr_task,metr_agents/react; metr_agents/react",
        "average_score": 0.71,
        "is_sota": True,
        "record": "acme_large_inspect",
    }
    p80 = found[("acme_large_inspect", "p80_horizon_length")]
    assert (p80.value, p80.attributes["ci_low"], p80.attributes["ci_high"]) == (40.5, 10.0, 90.0)
    # An entry carried over from TH 1.0 keeps its own benchmark name; the file's is the version.
    old = found[("old_base_002", "p50_horizon_length")]
    assert (old.benchmark, old.attributes["source_version"]) == (
        "METR-Horizon-v1.0",
        "METR-Horizon-v1.1",
    )
    assert old.attributes["scaffold"] == "modular-public"  # the null scaffold is left out
    # Newer copies split is_sota per metric.
    assert found[("widget_7b", "p50_horizon_length")].attributes["is_sota"] is False
    assert found[("widget_7b", "p80_horizon_length")].attributes["is_sota"] is True


def test_version_1_0_file_takes_the_benchmark_from_the_top() -> None:
    obs, rej = parse((DATA / "benchmark_results_1_0.yaml").read_bytes())
    assert rej == [] and len(obs) == 4
    acme = by(obs)[("acme_large", "p50_horizon_length")]
    assert (acme.benchmark, acme.value, acme.attributes["source_version"]) == (
        "METR-Horizon-v1",
        250.5,
        "METR-Horizon-v1",
    )
    assert "swaa_version" in acme.attributes and "usage" not in acme.attributes


def test_doubling_time_is_not_an_observation() -> None:
    obs, _ = parse((DATA / "benchmark_results_1_1.yaml").read_bytes())
    assert {o.metric for o in obs} == {"p50_horizon_length", "p80_horizon_length"}


def test_key_is_the_content_not_the_fetch_time() -> None:
    text = doc({"m": ENTRY})
    (a,) = parse_results(payload(text))
    (b,) = parse_results(payload(text, fetched_at=datetime(2026, 3, 1, tzinfo=UTC)))
    assert isinstance(a, Observation) and isinstance(b, Observation)
    assert a.key == b.key and a.observed_at != b.observed_at
    revised = {"m": {**ENTRY, "metrics": {"p50_horizon_length": {"estimate": 11.0}}}}
    (c,) = parse_results(payload(doc(revised)))
    assert isinstance(c, Observation) and c.key != a.key
    (d,) = parse_results(payload(doc({"m": ENTRY}, benchmark_name="METR-Horizon-v1.2")))
    assert isinstance(d, Observation) and d.key != a.key


def test_a_payload_without_fetch_time_cannot_be_placed() -> None:
    exc = error(doc({"m": ENTRY}), fetched_at=None)
    assert (exc.reason, exc.field) == ("missing_field", "fetched_at")


@pytest.mark.parametrize(
    ("entry", "reason", "field"),
    [
        ({**ENTRY, "metrics": None}, "missing_field", "metrics"),
        ({**ENTRY, "metrics": {"average_score": {"estimate": 0.5}}}, "missing_field", "metrics"),
        (
            {**ENTRY, "metrics": {"p50_horizon_length": 3.0}},
            "invalid_value",
            "metrics.p50_horizon_length",
        ),
        (
            {**ENTRY, "metrics": {"p50_horizon_length": {"estimate": float("nan")}}},
            "invalid_value",
            "metrics.p50_horizon_length.estimate",
        ),
        (
            {**ENTRY, "metrics": {"p50_horizon_length": {"estimate": float("inf")}}},
            "invalid_value",
            "metrics.p50_horizon_length.estimate",
        ),
        (
            {**ENTRY, "metrics": {"p50_horizon_length": {"estimate": -1.0}}},
            "invalid_value",
            "metrics.p50_horizon_length.estimate",
        ),
        (
            {**ENTRY, "metrics": {"p50_horizon_length": {"estimate": True}}},
            "invalid_value",
            "metrics.p50_horizon_length.estimate",
        ),
        (
            {**ENTRY, "metrics": {"p50_horizon_length": {"estimate": "12 min"}}},
            "invalid_value",
            "metrics.p50_horizon_length.estimate",
        ),
        (
            {**ENTRY, "metrics": {"p50_horizon_length": {"ci_low": 1.0}}},
            "missing_field",
            "metrics.p50_horizon_length.estimate",
        ),
        (
            {
                **ENTRY,
                "metrics": {"p50_horizon_length": {"estimate": 5.0, "ci_low": 9.0, "ci_high": 2.0}},
            },
            "invalid_value",
            "metrics.p50_horizon_length",
        ),
        (
            {**ENTRY, "metrics": {"p50_horizon_length": {"estimate": 10**400}}},
            "invalid_value",
            "metrics.p50_horizon_length.estimate",
        ),
        ({**ENTRY, "release_date": "last spring"}, "invalid_value", "release_date"),
        ({**ENTRY, "benchmark_name": 7}, "invalid_value", "benchmark_name"),
        ("not a mapping", "invalid_value", None),
    ],
)
def test_bad_entry_is_rejected_alone(entry: Any, reason: str, field: str | None) -> None:
    obs, (bad,) = parse(doc({"bad": entry, "good": ENTRY}))
    assert [o.subject for o in obs] == ["good"]
    assert (bad.reason, bad.record, bad.field) == (reason, "bad", field)


@pytest.mark.parametrize("key", [None, 7, "x" * 201, "tab\there"])
def test_bad_model_key_is_rejected(key: Any) -> None:
    obs, (bad,) = parse(doc({key: ENTRY, "good": ENTRY}))
    assert [o.subject for o in obs] == ["good"]
    assert bad.reason == "invalid_value"


def test_release_date_quoted_or_as_a_time() -> None:
    text = "benchmark_name: B\nresults:\n  m:\n    release_date: 2024-06-20T10:00:00Z\n"
    text += "    metrics: {p50_horizon_length: {estimate: 1}}\n"
    (o,), _ = parse(text)
    assert (o.value, o.attributes["release_date"]) == (1.0, "2024-06-20")


@pytest.mark.parametrize(
    ("text", "reason", "field"),
    [
        ("- just\n- a list\n", "malformed", None),
        ("results: {}\n", "missing_field", "benchmark_name"),
        ("benchmark_name: B\n", "missing_field", "results"),
        ("benchmark_name: B\nresults: [1, 2]\n", "missing_field", "results"),
        ("benchmark_name: B\nresults: {m: {release_date: 2024-13-45}}\n", "malformed", None),
        ("benchmark_name: [B\n", "malformed", None),
        ("benchmark_name: !!python/object/apply:os.system ['true']\n", "malformed", None),
        ("<!DOCTYPE html><html></html>", "malformed", None),
        ("[" * 5000, "malformed", None),
    ],
)
def test_not_a_results_file_rejects_the_whole_payload(
    text: str, reason: str, field: str | None
) -> None:
    exc = error(text)
    assert (exc.reason, exc.field) == (reason, field)


def test_binary_and_oversized_payloads_are_refused() -> None:
    assert error(b"\xff\xfe\x00\x01").reason == "malformed"
    big = doc({"m": ENTRY}) + "#" * 100
    with pytest.raises(ParseError) as caught:
        parse_results(payload(big), limit=50)
    assert caught.value.reason == "too_large"


def test_billion_laughs_is_refused_quickly() -> None:
    lines = ['a0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for i in range(1, 10):
        refs = ",".join([f"*a{i - 1}"] * 9)
        lines.append(f"a{i}: &a{i} [{refs}]")
    text = "\n".join(lines) + "\nbenchmark_name: B\nresults: {m: {metrics: *a9}}\n"
    started = time.perf_counter()
    exc = error(text)
    assert exc.reason == "malformed" and f"past {MAX_EXPANDED} values" in exc.detail
    assert time.perf_counter() - started < 5


def test_an_alias_inside_its_own_anchor_is_refused() -> None:
    assert error("benchmark_name: B\nresults: &r {m: *r}\n").reason == "malformed"


def test_a_few_anchors_and_aliases_are_fine() -> None:
    text = "benchmark_name: B\nresults:\n  m1: &entry\n"
    text += "    metrics: {p50_horizon_length: {estimate: 3}}\n  m2: *entry\n"
    obs, _ = parse(text)
    assert sorted(o.subject for o in obs) == ["m1", "m2"]
    assert load_yaml(payload("a: &x 1\nb: *x\n")) == {"a": 1, "b": 1}


def test_epoch_copy_is_dated_by_the_fetch_time() -> None:
    data = (EPOCH / "metr_time_horizons_external.csv").read_bytes()
    connector = MetrHorizons({"source": "unused"})
    obs, rej = split(connector.parse(payload(data, "metr_time_horizons_external.csv")))
    assert rej == []  # the undated row is kept: its time is the fetch time
    assert [(o.subject, o.value) for o in obs] == [
        ("acme-large-2026-01-15", 250.5),  # at variant 16K
        ("widget-7b", 2.5),
        ("old-base-002", 0.15),
    ]
    assert {o.observed_at for o in obs} == {FETCHED}
    assert {o.attributes["timestamp_kind"] for o in obs} == {"fetched"}
    assert obs[0].attributes["release_date"] == "2026-01-15"
    assert "release_date" not in obs[2].attributes


def test_unknown_option_is_a_config_error() -> None:
    with pytest.raises(ConfigError):
        MetrHorizons({"source": "x", "path": "y"})


def test_run_feed_stores_horizons_and_reingest_adds_nothing(store: Store, tmp_path: Path) -> None:
    for name in ("benchmark_results_1_0.yaml", "benchmark_results_1_1.yaml"):
        shutil.copy(DATA / name, tmp_path / name)
    connector = MetrHorizons({"source": str(tmp_path)})
    result = run_feed(store, "metr", connector, Cursor(), clock)
    assert (result.ingested, result.rejected, result.error) == (10, 0, None)
    again = run_feed(store, "metr", connector, Cursor(), clock)
    assert (again.ingested, again.duplicates) == (0, 10)
    # Downloaded again (a new modification time, the same numbers): still nothing new.
    later = time.time() + 3600
    os.utime(tmp_path / "benchmark_results_1_1.yaml", (later, later))
    touched = run_feed(store, "metr", connector, Cursor(), clock)
    assert (touched.ingested, touched.duplicates) == (0, 10)


# -- property tests ---------------------------------------------------------------------------
SETTINGS = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(st.binary(max_size=400))
def test_arbitrary_bytes_raise_only_parse_error(content: bytes) -> None:
    try:
        items = parse_results(payload(content))
    except ParseError:
        return
    assert_storable([o for o in items if isinstance(o, Observation)])


estimates = st.fixed_dictionaries(
    {},
    optional={
        "estimate": st.floats() | st.integers(-5, 10**20) | st.booleans() | st.text(max_size=4),
        "ci_low": st.floats() | st.none(),
        "ci_high": st.floats() | st.none(),
    },
)
entries = st.fixed_dictionaries(
    {},
    optional={
        "benchmark_name": st.sampled_from(["METR-Horizon-v1.0", "", 3]),
        "release_date": st.sampled_from(["2024-06-20", "2024-13-01", None, 5]),
        "scaffolds": st.lists(st.one_of(st.none(), st.text(max_size=5)), max_size=3) | json_values,
        "metrics": st.dictionaries(
            st.sampled_from(["p50_horizon_length", "p80_horizon_length", "is_sota", "x"]),
            estimates | json_values,
            max_size=3,
        )
        | json_values,
    },
)


@SETTINGS
@given(
    st.dictionaries(st.text(max_size=8) | st.integers(), entries | json_values, max_size=4)
    | json_values,
    st.sampled_from(["METR-Horizon-v1.1", "", None]),
)
def test_arbitrary_documents_give_storable_observations_or_rejections(
    results: Any, name: Any
) -> None:
    text = yaml.safe_dump({"benchmark_name": name, "results": results})
    try:
        items = parse_results(payload(text))
    except ParseError:
        return
    assert_storable([o for o in items if isinstance(o, Observation)])


# -- the real samples -------------------------------------------------------------------------
@pytest.mark.realdata
def test_real_version_1_1(samples: Path) -> None:
    path = samples / "metr" / "benchmark_results_1_1.yaml"
    obs, rej = split(parse_results(payload(path.read_bytes(), str(path))))
    assert (len(obs), rej) == (34, [])
    found = by(obs)
    opus = found[("claude_opus_4_5_inspect", "p50_horizon_length")]
    assert (opus.value, opus.attributes["ci_low"], opus.attributes["ci_high"]) == (
        320.422486,
        169.810681,
        729.170929,
    )
    assert opus.attributes["release_date"] == "2025-11-24"
    assert found[("gpt_5_2025_08_07_inspect", "p80_horizon_length")].value == 31.643807
    davinci = found[("davinci_002", "p50_horizon_length")]
    assert (davinci.benchmark, davinci.value) == ("METR-Horizon-v1.0", 0.148793)


@pytest.mark.realdata
def test_real_version_1_0_and_epochs_copy_agree(samples: Path) -> None:
    path = samples / "metr" / "benchmark_results_1_0.yaml"
    obs, rej = split(parse_results(payload(path.read_bytes(), str(path))))
    assert (len(obs), rej) == (66, [])
    opus = by(obs)[("claude_opus_4_5", "p50_horizon_length")]
    assert (opus.benchmark, opus.value) == ("METR-Horizon-v1", 288.904952)
    # Epoch's copy carries TH 1.0's number for the same model (FORMATS.md 4.1).
    epoch = samples / "epoch" / "benchmark_data" / "metr_time_horizons_external.csv"
    connector = MetrHorizons({"source": str(epoch)})
    (item,) = list(connector.fetch(Cursor()))
    assert isinstance(item, Payload) and item.fetched_at is not None
    copied, rej = split(connector.parse(item))
    assert (len(copied), rej) == (33, [])
    same = {o.attributes.get("model_version"): o for o in copied}["claude-opus-4-5-20251101_16K"]
    assert (same.value, same.observed_at) == (opus.value, item.fetched_at)
    assert (same.subject, same.attributes["variant"]) == ("claude-opus-4-5-20251101", "16K")
    assert "variant" not in opus.attributes  # METR's scaffolds go with the file's version


class QuietFiles(SimpleHTTPRequestHandler):
    """A loopback file server (with Last-Modified and 304 answers) that does not log."""

    def log_message(self, format: str, *args: Any) -> None:
        return


def test_url_source_is_dated_by_arrival_and_refetch_adds_nothing(store: Store) -> None:
    handler = functools.partial(QuietFiles, directory=str(DATA))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_port}/benchmark_results_1_1.yaml"
        connector = MetrHorizons({"source": url})
        cursor = Cursor()
        first = run_feed(store, "metr", connector, cursor, clock)
        assert (first.ingested, first.rejected, first.error) == (6, 0, None)
        unchanged = run_feed(store, "metr", connector, cursor, clock)  # 304 Not Modified
        assert (unchanged.ingested, unchanged.duplicates) == (0, 0)
        refetched = run_feed(store, "metr", connector, Cursor(), clock)  # fetched again, later
        assert (refetched.ingested, refetched.duplicates) == (0, 6)
    finally:
        server.shutdown()
        server.server_close()
