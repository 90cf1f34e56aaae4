"""The real sample files (../shared/samples) served over HTTP and ingested end to end (issue 4).

Each test serves one sample from a loopback server (with an ETag, so the second run is a
conditional GET answered 304), configures a feed on its URL in a real warden.yaml with the
bundled catalog and registry, and runs the feed twice through `Warden.run_feed`. It asserts the
values stored under the registry's canonical ids, the ids the registry does not know (as
`warden registry unmapped` counts them), the rejections the sample deserves, and that the second
run adds nothing. Expectations the code does not meet yet are strict xfails naming the gap.
"""

from __future__ import annotations

import io
import zipfile
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy import RowMapping, select

from tests.connectors.conftest import clock
from tests.connectors.source_server import etagged
from tests.support.loopback import Loopback, loopback
from warden.app.daemon import Warden
from warden.app.settings import load_settings
from warden.ingest.feedrun import IngestResult
from warden.store import observations as obs_rows
from warden.store.schema import observations

__all__ = ["loopback"]  # the fixture, shared with tests/ingest/test_http.py

FEED = "sample"
INSPECT = Path("inspect")
ZSTD = INSPECT / "inspect_ai_0.3.285_zstd"
ZSTD_LOG = ZSTD / "2026-11-28T08-19-13-00-00_tiny_6ra3G4mhgScs9HrNqA8iQP.eval"
JSON_LOG = ZSTD / "2026-11-28T08-19-18-00-00_tiny_BPmmEjFZcY23q7gy857wj3.json"
PUBMEDQA = INSPECT / "real_public_logs" / "evaleval__data_pubmedqa_gpt4o_mini.json"
LM_EVAL = Path("lm-eval/generated_offline/vqvnukgg/results_2026-11-28T08-22-39.115333.json")
HUB = Path("epoch") / "benchmark_data"
NOTABLE = Path("epoch") / "ai_models" / "notable_ai_models.first150rows.csv"
LEADERBOARDS = Path("swe-bench") / "leaderboards.2025-12-02.truncated.json"
CARDS = Path("hf-model-index")
BEAGLE = CARDS / "leliuga_cohere-configurations__NeuralBeagle14-7B__README.md"
KODIAK = CARDS / "kodiakllc_kdk-mlx__Qwen2.5-7B-Instruct-Uncensored-4bit__README.md"
DATA = Path(__file__).parent / "data"


@dataclass
class Run:
    """Two runs of one feed on a served sample, and what they stored."""

    first: IngestResult
    again: IngestResult
    rows: list[RowMapping]
    unmapped: dict[tuple[str, str], int]  # (kind, raw id) -> observations

    def reasons(self) -> Counter[tuple[str, str | None]]:
        return Counter((r.reason, r.field) for r in self.first.rejections)

    def where(self, **match: Any) -> list[RowMapping]:
        return [r for r in self.rows if all(r[k] == v for k, v in match.items())]

    def one(self, **match: Any) -> RowMapping:
        (row,) = self.where(**match)
        return row

    def raw(self, model: str, **match: Any) -> RowMapping:
        """The one row of `model` as the source spells it (Epoch's with its effort suffix)."""
        (row,) = [r for r in self.where(**match) if spelled(r) == model]
        return row

    def pairs(self) -> Counter[tuple[str, str]]:
        return Counter((r.benchmark, r.metric) for r in self.rows)

    def unmapped_ids(self, kind: str) -> set[str]:
        return {raw for (k, raw) in self.unmapped if k == kind}


Serve = Callable[..., Run]


@pytest.fixture
def served(tmp_path: Path, loopback: Loopback, db_url: str) -> Iterator[Serve]:
    """`served(connector, body, name, content_type, **options)`: serve `body` at /data/<name>,
    run a feed on its URL twice through a Warden configured by a warden.yaml (the bundled
    catalog and registry, the `db_url` database), and return the Run."""
    made: list[Warden] = []

    def run(
        connector: str,
        body: bytes,
        name: str,
        content_type: str = "application/octet-stream",
        **options: Any,
    ) -> Run:
        path = f"/data/{name}"
        loopback.routes[path] = etagged(body, content_type=content_type)
        feed = {"id": FEED, "connector": connector, "every": 3600}
        feed["options"] = {"source": loopback.url(path), **options}
        config = {
            "database_url": db_url,
            "catalog": ["bundled"],
            "registry": ["bundled"],
            "feeds": [feed],
        }
        cfg = tmp_path / "warden.yaml"
        cfg.write_text(yaml.safe_dump(config, sort_keys=False))
        warden = Warden(load_settings(cfg), clock)
        made.append(warden)
        first = warden.run_feed(FEED)
        again = warden.run_feed(FEED)
        assert first.error is None, first.error
        # The second run asked with the ETag, got 304 and read nothing.
        assert loopback.hits(path)[-1].headers.get("If-None-Match") == '"v1"'
        assert (again.ingested, again.duplicates, again.rejected, again.error) == (0, 0, 0, None)
        with warden.store.read() as conn:
            query = select(observations).where(observations.c.feed == FEED)
            rows = list(conn.execute(query.order_by(observations.c.id)).mappings())
            unmapped = {(k, raw): n for k, raw, f, n, *_ in obs_rows.unmapped(conn) if f == FEED}
        assert len(rows) == first.ingested > 0
        return Run(first, again, rows, unmapped)

    yield run
    for warden in made:
        warden.close()


def sample(samples: Path, path: Path) -> bytes:
    return (samples / path).read_bytes()


# -- Inspect AI ------------------------------------------------------------------------------------
@pytest.mark.realdata
@pytest.mark.parametrize(
    ("log", "content_type", "eval_id", "created"),
    [
        # A .eval is a zip: served as application/zip it is still one log, not an archive.
        (ZSTD_LOG, "application/zip", "9KKC7U49yLti57H8fBc2gg", datetime(2026, 11, 28, 8, 19, 13)),
        (JSON_LOG, "application/json", "ZYkqwMzXm4oF65MNT3j9AW", datetime(2026, 11, 28, 8, 19, 18)),
    ],
    ids=["eval", "json"],
)
def test_inspect_logs(
    served: Serve, samples: Path, log: Path, content_type: str, eval_id: str, created: datetime
) -> None:
    run = served("inspect_logs", sample(samples, log), log.name, content_type)
    assert run.reasons() == Counter()
    assert run.pairs() == {("tiny", "match/accuracy"): 1, ("tiny", "includes/accuracy"): 1}
    match = run.one(metric="match/accuracy")
    assert (match.subject, match.value, match.stderr, match.n) == (
        "mockllm/model",
        pytest.approx(2 / 3),
        pytest.approx(1 / 3),
        3,
    )
    assert match.observed_at == created.replace(tzinfo=UTC)
    assert match.attributes["eval_id"] == eval_id and match.attributes["headline"] is True
    # A task and a model of the test harness: nothing in the registry.
    assert run.unmapped == {("benchmark", "tiny"): 2, ("model", "mockllm/model"): 2}


@pytest.mark.realdata
def test_inspect_real_public_log_with_a_local_offset(served: Serve, samples: Path) -> None:
    run = served("inspect_logs", sample(samples, PUBMEDQA), PUBMEDQA.name, "application/json")
    o = run.one()
    # `openai/azure/gpt-4o-mini` is a registry alias; the task is not in the registry.
    assert (o.subject, o.benchmark, o.metric) == (
        "openai/gpt-4o-mini",
        "inspect_evals/pubmedqa",
        "choice/accuracy",
    )
    assert (o.value, o.n, o.model_known, o.benchmark_known) == (1.0, 2, True, False)
    assert o.attributes["raw_model"] == "openai/azure/gpt-4o-mini"
    assert o.observed_at == datetime(2025, 7, 3, 14, 44, 38, tzinfo=UTC)  # 16:44:38+02:00
    assert o.attributes["partial"] is True  # a --limit run: 2 samples
    assert run.unmapped == {("benchmark", "inspect_evals/pubmedqa"): 1}


# -- lm-evaluation-harness -----------------------------------------------------------------------
@pytest.mark.realdata
def test_lm_eval_results_file(served: Serve, samples: Path) -> None:
    run = served("lm_eval", sample(samples, LM_EVAL), LM_EVAL.name, "application/json")
    assert run.reasons() == Counter()
    assert run.pairs() == {
        ("toy_mc", "acc"): 1,
        ("toy_mc", "acc_norm"): 1,
        ("toy_gen", "exact_match/strict-match"): 1,
        ("toy_gen", "exact_match/flexible-extract"): 1,
        ("toy_suite", "acc"): 1,
        ("toy_suite", "exact_match/strict-match"): 1,
    }
    mc = run.one(benchmark="toy_mc", metric="acc")
    assert (mc.subject, mc.value, mc.stderr, mc.n) == (
        "dummy",
        pytest.approx(1 / 3),
        pytest.approx(0.14213381090374033),
        12,
    )
    assert mc.observed_at == datetime(2026, 11, 28, 8, 22, 38, 979322, tzinfo=UTC)  # `date`
    suite = run.one(benchmark="toy_suite", metric="acc")
    assert suite.attributes["group"] is True and suite.n == 12
    assert run.unmapped_ids("benchmark") == {"toy_mc", "toy_gen", "toy_suite"}
    assert run.unmapped[("model", "dummy")] == 6


# -- Epoch AI ------------------------------------------------------------------------------------
@pytest.mark.realdata
def test_epoch_gpqa_diamond_csv(served: Serve, samples: Path) -> None:
    body = sample(samples, HUB / "gpqa_diamond.csv")
    run = served("epoch_benchmarks", body, "gpqa_diamond.csv", "text/csv")
    assert run.reasons() == Counter()
    # Every row lands on the canonical benchmark and metric.
    assert run.pairs() == {("gpqa_diamond", "accuracy"): 145}
    gpt = run.raw("gpt-5.2-2025-12-11_xhigh")
    assert (gpt.subject, gpt.value, gpt.stderr) == ("openai/gpt-5.2", 0.914, 0.018)
    assert gpt.observed_at == datetime(2025, 12, 13, 9, 4, tzinfo=UTC)  # `Started at`
    assert gpt.attributes["variant"] == "xhigh" and gpt.attributes["raw_metric"] == "mean_score"
    opus = run.where(subject="anthropic/claude-opus-4.5")
    assert sorted(r.value for r in opus) == pytest.approx(
        [0.8068181818, 0.8547979798, 0.8604797980]
    )
    assert not any(kind == "benchmark" for kind, _ in run.unmapped)
    known = {spelled(r) for r in run.rows if r.model_known}
    assert {"claude-opus-4-5-20251101_16K", "gemini-3-pro-preview"} <= known
    assert sum(r.model_known for r in run.rows) >= 73  # deepseek-reasoner is left unmapped
    assert run.unmapped_ids("model") <= EPOCH_MODELS_NOT_IN_REGISTRY | EPOCH_MISSING_ALIASES


def spelled(r: RowMapping) -> str:
    """A row's model as the source spells it (Epoch's `Model version` with its suffix)."""
    return str(r.attributes.get("model_version", r.attributes.get("raw_model", r.subject)))


# Epoch spellings of models the bundled registry does not have at all (nothing to alias).
EPOCH_MODELS_NOT_IN_REGISTRY = {
    "deepseek-reasoner",  # DeepSeek's API name, which served several models over time
    "DeepSeek-R1-Distill-Llama-70B", "DeepSeek-R1-Distill-Qwen-14B", "Eurus-2-7B-PRIME",
    "Hermes-2-Theta-Llama-3-70B", "Llama-2-70b-chat-hf", "Llama-3.1-70B-Instruct",
    "Llama-3.1-8B-Instruct", "Llama-3.1-Tulu-3-70B-DPO", "Llama-3.2-90B-Vision-Instruct",
    "Meta-Llama-3-70B-Instruct", "Meta-Llama-3-8B-Instruct", "Mistral-7B-Instruct-v0.3",
    "Mixtral-8x7B-Instruct-v0.1", "Phi-3-medium-128k-instruct", "WizardLM-2-8x22B",
    "Yi-1.5-34B-Chat", "Yi-34B-Chat", "claude-2.0", "claude-2.1", "claude-3-5-haiku-20241022",
    "claude-3-haiku-20240307", "claude-3-sonnet-20240229", "dbrx-instruct",
    "deepseek-llm-67b-chat", "gemini-1.0-pro-001", "gemini-1.5-flash-001", "gemini-1.5-flash-002",
    "gemini-1.5-flash-8b-001", "gemini-1.5-pro-001", "gemini-1.5-pro-002",
    "gemini-2.0-flash-001", "gemini-2.0-flash-thinking-exp-01-21", "gemini-2.0-pro-exp-02-05",
    "gemma-2-27b-it", "gemma-2-9b-it", "gemma-3-27b-it", "gpt-3.5-turbo-0125",
    "gpt-3.5-turbo-1106", "gpt-3.5-turbo-instruct", "gpt-4-0125-preview", "gpt-4-1106-preview",
    "gpt-4-turbo-2024-04-09", "gpt-4.1-mini-2025-04-14", "gpt-4.1-nano-2025-04-14",
    "gpt-4o-2024-08-06", "gpt-5-nano-2025-08-07_high", "gpt-5-nano-2025-08-07_medium",
    "gpt2-xl", "magistral-small-2506", "ministral-3b-2410", "ministral-8b-2410",
    "mistral-large-2402", "mistral-large-2411", "mistral-medium-2505", "mistral-small-2501",
    "mistral-small-2503", "o1-mini-2024-09-12_high", "o1-mini-2024-09-12_medium",
    "open-mistral-7b", "open-mistral-nemo-2407", "open-mixtral-8x22b", "open-mixtral-8x7b",
    "qwen-max-2025-01-25", "qwen-plus-2025-01-25", "qwen-plus-2025-04-28",
    "qwen-turbo-2024-11-01", "qwen1.5-32b-chat", "qwen1.5-72b-chat", "qwen2-72b-instruct",
    "qwen2.5-32b-instruct", "qwen3-235b-a22b", "qwq-plus",
}  # fmt: skip
# Earlier previews of a model the registry has (google/gemini-2.5-pro): aliases or models of
# their own, for the registry's maintainers to decide.
EPOCH_MISSING_ALIASES = {"gemini-2.5-pro-exp-03-25", "gemini-2.5-pro-preview-05-06"}


def hub_zip(samples: Path) -> bytes:
    """The benchmarking hub as Epoch publishes it: benchmark_data.zip, CSVs and a README."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted((samples / HUB).iterdir()):
            archive.write(path, f"benchmark_data/{path.name}")
    return buffer.getvalue()


@pytest.mark.realdata
def test_epoch_benchmark_hub_zip(served: Serve, samples: Path) -> None:
    run = served("epoch_benchmarks", hub_zip(samples), "benchmark_data.zip", "application/zip")
    assert run.pairs() == {
        ("gpqa_diamond", "accuracy"): 145,
        ("frontiermath", "accuracy"): 74,
        ("swe_bench_verified", "resolved"): 23,
        ("metr_time_horizon", "p50_minutes"): 32,
    }
    # METR's davinci-002 row in Epoch's copy has no release date and no run time: no time to
    # place it at (the metr_horizons connector reading the same file dates it by the fetch).
    assert run.reasons() == Counter({("missing_field", "Release date"): 1})
    (refused,) = run.first.rejections
    record = ("benchmark_data/metr_time_horizons_external.csv:33", run.rows[0].source)
    assert (refused.record, refused.source) == record  # the member, then the row
    members = Counter(r.attributes["member"] for r in run.rows)
    assert members["benchmark_data/metr_time_horizons_external.csv"] == 32
    # Epoch's copy of METR's TH 1.0 estimate, in minutes, with its interval.
    opus = run.raw("claude-opus-4-5-20251101_16K", benchmark="metr_time_horizon")
    assert opus.subject == "anthropic/claude-opus-4.5"
    assert opus.value == 288.904952 and opus.observed_at == datetime(2025, 11, 24, tzinfo=UTC)
    assert (opus.attributes["ci_low"], opus.attributes["ci_high"]) == (108.873592, 1225.190511)
    assert opus.stderr == pytest.approx((288.904952 - 108.873592) / 1.959964, rel=1e-6)
    fm = run.raw("gpt-5.2-2025-12-11_xhigh", benchmark="frontiermath")
    assert (fm.subject, fm.value, fm.stderr) == ("openai/gpt-5.2", 0.407, 0.029)
    assert not any(kind == "benchmark" for kind, _ in run.unmapped)


@pytest.mark.realdata
def test_epoch_notable_models_csv(served: Serve, samples: Path) -> None:
    run = served("epoch_models", sample(samples, NOTABLE), "notable_ai_models.csv", "text/csv")
    assert run.reasons() == Counter()
    assert run.pairs() == {("training_compute", "flop"): 64}  # the rows with a compute figure
    kimi = run.one(subject="moonshot/kimi-k2-thinking")
    assert (kimi.value, kimi.observed_at) == (4.2e24, datetime(2025, 11, 6, tzinfo=UTC))
    assert kimi.attributes["raw_model"] == "Kimi K2 Thinking"
    assert kimi.attributes["timestamp_kind"] == "release_date"
    assert sum(r.model_known for r in run.rows) >= 21
    assert not any(kind == "benchmark" for kind, _ in run.unmapped)


@pytest.mark.realdata
def test_epoch_release_date_survives_a_registry_model_without_one(
    served: Serve, samples: Path
) -> None:
    run = served("epoch_models", sample(samples, NOTABLE), "notable_ai_models.csv", "text/csv")
    # The registry knows the model but not its release date: Epoch's stays.
    behemoth = run.one(subject="meta/llama-4-behemoth-preview")
    assert behemoth.attributes["release_date"] == "2025-04-05"
    assert behemoth.observed_at == datetime(2025, 4, 5, tzinfo=UTC)


@pytest.mark.realdata
def test_epoch_deepseek_reasoner_row_is_not_taken_for_r1(served: Serve, samples: Path) -> None:
    body = sample(samples, HUB / "gpqa_diamond.csv")
    run = served("epoch_benchmarks", body, "gpqa_diamond.csv", "text/csv")
    assert run.raw("deepseek-reasoner").subject != "deepseek/deepseek-r1"


# -- METR ----------------------------------------------------------------------------------------
# METR's keys for models the bundled registry does not have (nothing to alias).
METR_NOT_IN_REGISTRY = {
    "davinci_002", "gpt2", "gpt_3_5_turbo_instruct", "gpt_4_0125", "gpt_4_1106", "gpt_4_turbo",
    "qwen_2_72b", "gpt_4_1106_inspect", "gpt_4_turbo_inspect",
}  # fmt: skip


@pytest.mark.realdata
@pytest.mark.parametrize(
    ("name", "models", "key", "p50", "ci", "version"),
    [
        (
            "benchmark_results_1_0.yaml",
            33,
            "claude_opus_4_5",
            288.904952,
            (108.873592, 1225.190511),
            "METR-Horizon-v1",
        ),
        (
            "benchmark_results_1_1.yaml",
            17,
            "claude_opus_4_5_inspect",
            320.422486,
            (169.810681, 729.170929),
            "METR-Horizon-v1.1",
        ),
    ],
    ids=["1.0", "1.1"],
)
def test_metr_time_horizons(
    served: Serve,
    samples: Path,
    name: str,
    models: int,
    key: str,
    p50: float,
    ci: tuple[float, float],
    version: str,
) -> None:
    before = datetime.now(UTC)
    run = served("metr_horizons", sample(samples, Path("metr") / name), name, "text/yaml")
    after = datetime.now(UTC)
    assert run.reasons() == Counter()
    # p50 and p80 of every model, on the canonical benchmark (the 1.1 file's carried-over
    # entries say METR-Horizon-v1.0: an alias too).
    assert run.pairs() == {
        ("metr_time_horizon", "p50_minutes"): models,
        ("metr_time_horizon", "p80_minutes"): models,
    }
    opus = run.raw(key, metric="p50_minutes")
    assert (opus.subject, opus.value) == ("anthropic/claude-opus-4.5", p50)
    assert (opus.attributes["ci_low"], opus.attributes["ci_high"]) == ci
    assert opus.attributes["source_version"] == version
    # No measurement time in the file: dated when fetched, the release date an attribute.
    assert opus.attributes["timestamp_kind"] == "fetched" and before <= opus.observed_at <= after
    assert opus.attributes["release_date"] == "2025-11-24"
    assert not any(kind == "benchmark" for kind, _ in run.unmapped)
    assert run.unmapped_ids("model") <= METR_NOT_IN_REGISTRY
    assert sum(r.model_known for r in run.rows) >= 2 * (models - 7)


# -- SWE-bench -----------------------------------------------------------------------------------
# Leaderboard model spellings that cannot be one registry model: ensembles, models the registry
# lacks, and the spellings of MISSING_SWEBENCH_ALIASES.
SWEBENCH_UNMAPPED = {
    "Doubao-Seed-Code + Doubao-Seed-1.6",
    "claude-sonnet-4-20250514 + gpt-5",
    "claude-sonnet-4.5 + gpt-5",
    "claude-4-sonnet-20250514 + o3-mini + o4-mini",
    "claude-3-7-sonnet-20250219 + o4-mini",
    "Qwen3-Coder-30B-A3B-Instruct",
}
MISSING_SWEBENCH_ALIASES = {
    "claude-4-opus-20250514": "anthropic/claude-opus-4",
    "claude-4-sonnet-20250514": "anthropic/claude-sonnet-4",
    "claude-4-sonnet": "anthropic/claude-sonnet-4",
}


@pytest.mark.realdata
def test_swebench_leaderboards(served: Serve, samples: Path) -> None:
    body = sample(samples, LEADERBOARDS)
    run = served("swebench", body, "leaderboards.json", "application/json")
    # Two entries of the Test board name no model in their tags: rejected, each on its own.
    assert run.reasons() == Counter({("missing_field", "tags"): 2})
    assert {r.record for r in run.first.rejections} == {
        "Test/20250605_atlassian-rovo-dev",
        "Test/20250522_amazon-q-developer-agent-20250405-dev",
    }
    assert run.pairs()[("swe_bench_verified", "resolved")] == 5
    # Verified's percentages are stored as the canonical fraction.
    opus = run.one(benchmark="swe_bench_verified", subject="anthropic/claude-opus-4.5")
    assert (opus.value, opus.n) == (pytest.approx(0.744), 500)
    assert (opus.attributes["raw_value"], opus.attributes["raw_scale"]) == (74.4, "percent")
    assert opus.observed_at == datetime(2025, 11, 24, tzinfo=UTC)
    # `checked` given as the string "false (See README.md ...)" is false.
    gemini = run.raw("gemini-3-pro-preview", benchmark="swe_bench_verified")
    assert (gemini.value, gemini.attributes["checked"]) == (pytest.approx(0.774), False)
    # The other boards are not in the registry: kept raw, in their own scale.
    assert {raw: n for (kind, raw), n in run.unmapped.items() if kind == "benchmark"} == {
        "SWE-bench Lite": 5,
        "SWE-bench Multimodal": 4,
        "SWE-bench Test": 2,
        "SWE-bench bash-only": 4,
    }
    lite = run.where(benchmark="SWE-bench Lite")
    assert sorted(r.value for r in lite) == [49.67, 56.67, 58.33, 60.0, 60.33]
    assert run.unmapped_ids("model") <= SWEBENCH_UNMAPPED | set(MISSING_SWEBENCH_ALIASES)
    assert sum(r.model_known for r in run.rows) >= 9


@pytest.mark.realdata
def test_swebench_claude_4_spellings_map(served: Serve, samples: Path) -> None:
    body = sample(samples, LEADERBOARDS)
    run = served("swebench", body, "leaderboards.json", "application/json")
    found = {r.attributes.get("raw_model", r.subject): r.subject for r in run.rows}
    assert {raw: found[raw] for raw in MISSING_SWEBENCH_ALIASES} == MISSING_SWEBENCH_ALIASES


# -- Hugging Face model cards --------------------------------------------------------------------
@pytest.mark.realdata
def test_hf_model_card_open_llm_leaderboard_v1(served: Serve, samples: Path) -> None:
    before = datetime.now(UTC)
    run = served("hf_model_index", sample(samples, BEAGLE), BEAGLE.name, "text/markdown")
    assert run.reasons() == Counter()
    assert len(run.rows) == 6
    arc = run.one(benchmark="ai2_arc:ARC-Challenge")
    # The registry knows the community fine-tune by its repository (kept apart from its bases).
    assert (arc.subject, arc.metric, arc.value) == ("mlabonne/neuralbeagle14-7b", "acc_norm", 72.95)
    assert arc.attributes["scale"] == "percent" and arc.vendor_reported is True
    assert arc.attributes["num_few_shot"] == 25
    assert arc.attributes["timestamp_kind"] == "fetched" and arc.observed_at >= before
    assert run.one(benchmark="hellaswag").value == 88.34
    # Its benchmarks are not in the registry (general-capability benchmarks); the model is.
    assert ("model", "NeuralBeagle14-7B") not in run.unmapped
    assert len(run.unmapped_ids("benchmark")) == 6


@pytest.mark.realdata
def test_hf_model_card_open_llm_leaderboard_v2(served: Serve, samples: Path) -> None:
    run = served("hf_model_index", sample(samples, KODIAK), KODIAK.name, "text/plain")
    assert run.reasons() == Counter()
    gpqa = run.one(benchmark="Idavidrein/gpqa")
    # v2 scores are rescaled above the random baseline: points, never an accuracy.
    assert (gpqa.subject, gpqa.metric, gpqa.value) == (
        "orion-zhen/qwen2.5-7b-instruct-uncensored",
        "acc_norm",
        7.05,
    )
    assert gpqa.attributes["scale"] == "points" and gpqa.attributes["normalised_score"] is True
    assert gpqa.benchmark_known is False  # all GPQA subsets, not gpqa_diamond
    assert len(run.unmapped_ids("benchmark")) == 6


def test_hf_model_card_url_without_a_name_is_named_by_its_repository(served: Serve) -> None:
    body = (DATA / "hf_model_index" / "model-2" / "README.md").read_bytes()
    run = served("hf_model_index", body, "acme/model-2/resolve/main/README.md", "text/plain")
    assert {r.subject for r in run.rows} == {"acme/model-2"}


# -- a mapped CSV --------------------------------------------------------------------------------
@pytest.mark.realdata
def test_csv_mapping_over_an_epoch_csv(served: Serve, samples: Path) -> None:
    mapping: Mapping[str, Any] = {
        "model": {"column": "Model version"},
        "benchmark": {"value": "swe_bench_verified"},
        "metric": {"value": "mean_score"},
        "value": {"column": "mean_score"},
        "stderr": {"column": "stderr"},
        "time": {"column": "Started at"},
        "timestamp_kind": "run_start",
        "scale": "fraction",
        "attributes": {"organisation": "Organization", "release_date": "Release date"},
    }
    body = sample(samples, HUB / "swe_bench_verified.csv")
    run = served("csv", body, "swe_bench_verified.csv", "text/csv", **mapping)
    assert run.reasons() == Counter()
    assert run.pairs() == {("swe_bench_verified", "resolved"): 23}
    mini = run.raw("gpt-5-mini-2025-08-07_high")
    assert (mini.subject, mini.value) == ("openai/gpt-5-mini", 0.616)
    assert mini.stderr == pytest.approx(0.02177236946554712)
    assert mini.observed_at == datetime(2025, 10, 30, 10, 54, 58, 88000, tzinfo=UTC)
    assert mini.attributes["raw_metric"] == "mean_score"
    assert run.unmapped_ids("model") <= {
        "gemini-2.0-flash-001",
        "gpt-4.1-mini-2025-04-14",
        "qwen-plus-2025-04-28",
    }
