"""The connector contract, shared by test_contract.py and test_realdata_http.py.

`CASES` holds, for every connector entry point, a small valid input in the format's real shape
(the project's own fixtures under tests/connectors/data/ and the per-connector test files'
builders; nothing copied from ../shared/samples) with the options it needs. `check_parse` is
what every parse must satisfy whatever the connector: observations that fit the store, keys
unique within a payload, rejections that say where they come from, and the same output twice.
"""

from __future__ import annotations

import json
import math
import shutil
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any, get_args

from connectors.archive import ZSTD
from tests.connectors import craft
from tests.connectors.lm_eval_docs import results_doc
from tests.connectors.mapped_feeds import CSV as CSV_MAPPING
from tests.connectors.mapped_feeds import JSON as JSON_MAPPING
from tests.connectors.test_observations_json import GOOD as GOOD_OBSERVATION
from warden.catalog.registry import Scale
from warden.core import plugins
from warden.core.errors import ParseError
from warden.core.model import Observation, Payload, Pending, Rejection
from warden.ingest.connector import Connector, Cursor, sha256
from warden.ingest.http import FetchLimits

DATA = Path(__file__).parent / "data"
SCALES = frozenset(get_args(Scale))
MAX_ID = 200  # the store's String(200) id columns
MAX_KEY = 64  # the store's String(64) key column
MAX_N = 2**31 - 1  # the store's Integer n column
FETCHED = datetime(2026, 2, 1, 12, tzinfo=UTC)

# Fetch limits small enough that a retried failure costs well under a second.
FAST = FetchLimits(
    connect_timeout=0.5,
    read_timeout=0.2,
    deadline=2.0,
    retries=1,
    backoff_base=0.001,
    backoff_max=0.002,
    retry_after_max=1.0,
)


@dataclass(frozen=True)
class Case:
    """One contract case: `build(folder)` writes the input under `folder` and returns the
    `source` option; `served` is the file (relative to `folder`) a URL source serves, or None
    when the connector refuses URLs (a ConfigError at configuration)."""

    connector: str
    name: str
    build: Callable[[Path], Path]
    served: str | None
    options: Mapping[str, Any] = field(default_factory=dict)

    def build_in(self, folder: Path) -> Path:
        """Write the input under `folder` (made if needed); the `source` option."""
        folder.mkdir(parents=True, exist_ok=True)
        return self.build(folder)

    @property
    def reads_urls(self) -> bool:
        return self.served is not None

    def make(self, source: str | Path, **more: Any) -> Connector:
        cls = plugins.load(plugins.CONNECTORS, self.connector)
        connector: Connector = cls({**self.options, "source": str(source), **more})
        return connector

    def fuzz_source(self) -> str:
        """The source name of a payload of arbitrary content: the name the parser sees for
        real input (some take the benchmark or the model from it)."""
        return Path(self.served or f"{self.name}.json").name


# -- the inputs ----------------------------------------------------------------------------------
def inspect_header(eval_id: str, created: str, accuracy: float) -> dict[str, Any]:
    """The header of a successful Inspect AI log, as inspect-ai 0.3.285 writes it (the fields
    the connector reads and a few it does not)."""
    score = {
        "name": "choice",
        "scorer": "choice",
        "scored_samples": 198,
        "unscored_samples": 0,
        "params": {},
        "metrics": {
            "accuracy": {"name": "accuracy", "value": accuracy, "params": {}},
            "stderr": {"name": "stderr", "value": 0.028, "params": {}},
        },
    }
    return {
        "version": 2,
        "status": "success",
        "eval": {
            "eval_id": eval_id,
            "run_id": f"run{eval_id}",
            "created": created,
            "task": "inspect_evals/gpqa_diamond",
            "task_id": f"task{eval_id}",
            "task_version": 0,
            "dataset": {"name": "gpqa_diamond", "samples": 198, "shuffled": False},
            "model": "openai/o3",
            "model_args": {},
            "config": {"epochs": 1, "fail_on_error": True, "log_samples": True},
            "packages": {"inspect_ai": "0.3.285"},
            "scorers": [{"name": "choice", "options": {}, "metrics": [], "metadata": {}}],
        },
        "plan": {"name": "plan", "steps": [], "config": {}},
        "results": {
            "total_samples": 198,
            "completed_samples": 198,
            "scores": [score],
            "headline": {"scorer": "choice", "score": "choice", "metric": "accuracy"},
        },
        "stats": {"started_at": created, "completed_at": created, "model_usage": {}},
        "invalidated": False,
        "tags": [],
        "metadata": {},
    }


INSPECT_EVAL = "2026-03-01T12-00-00+00-00_gpqa-diamond_Aa1.eval"
INSPECT_JSON = "2026-03-02T09-30-00+01-00_gpqa-diamond_Bb2.json"


def inspect_logs(folder: Path) -> Path:
    """A log folder: a zstd `.eval` and a `.json` log of two runs."""
    logs = folder / "logs"
    logs.mkdir()
    header = inspect_header("Aa1", "2026-03-01T12:00:00+00:00", 0.8)
    members = {"header.json": json.dumps(header).encode(), "summaries.json": b"[]"}
    craft.write_zip(logs / INSPECT_EVAL, members, ZSTD)
    doc = {**inspect_header("Bb2", "2026-03-02T09:30:00+01:00", 0.75), "samples": []}
    craft.write_json(logs / INSPECT_JSON, doc)
    return logs


def observations_json(folder: Path) -> Path:
    second = {**GOOD_OBSERVATION, "model": "acme/model-2", "value": 0.55, "stderr": None}
    (folder / "batch.json").write_text(json.dumps([GOOD_OBSERVATION, second]))
    return folder / "batch.json"


LM_EVAL_RESULTS = "acme__toy-7b/results_2026-01-01T01-00-00.5.json"


def lm_eval(folder: Path) -> Path:
    path = folder / "out" / LM_EVAL_RESULTS
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps(results_doc()))
    return folder / "out"


def copies(*names: str, into: str = "in") -> Callable[[Path], Path]:
    """A builder copying fixtures from tests/connectors/data/ into one folder."""

    def build(folder: Path) -> Path:
        target = folder / into
        target.mkdir()
        for name in names:
            shutil.copy2(DATA / name, target / Path(name).name)
        return target

    return build


def helm(folder: Path) -> Path:
    return Path(shutil.copytree(DATA / "helm" / "suite_v1", folder / "suite"))


SWEBENCH_RUN = "evaluation/verified/20250401_acme-agent_acme-m2"


def swebench_experiments(folder: Path) -> Path:
    shutil.copytree(DATA / "swebench" / "experiments" / SWEBENCH_RUN, folder / SWEBENCH_RUN)
    return folder


def _mapping(options: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in options.items() if k != "source"}


CASES = (
    Case("inspect_logs", "inspect_logs", inspect_logs, f"logs/{INSPECT_EVAL}"),
    Case("observations_json", "observations_json", observations_json, "batch.json"),
    Case("lm_eval", "lm_eval", lm_eval, f"out/{LM_EVAL_RESULTS}"),
    Case("helm", "helm", helm, None),
    Case(
        "epoch_benchmarks",
        "epoch_benchmarks",
        copies("epoch/gpqa_diamond.csv", "epoch/metr_time_horizons_external.csv"),
        "in/gpqa_diamond.csv",
    ),
    Case(
        "epoch_models",
        "epoch_models",
        copies("epoch/notable_ai_models.csv", "epoch/frontier_ai_models.csv"),
        "in/notable_ai_models.csv",
    ),
    Case(
        "metr_horizons",
        "metr_horizons",
        copies("metr/benchmark_results_1_0.yaml", "metr/benchmark_results_1_1.yaml"),
        "in/benchmark_results_1_1.yaml",
    ),
    Case(
        "swebench",
        "swebench",
        copies("swebench/leaderboards.json"),
        "in/leaderboards.json",
    ),
    Case(
        "swebench",
        "swebench-experiments",
        swebench_experiments,
        None,
        {"layout": "experiments"},
    ),
    Case(
        "hf_model_index",
        "hf_model_index",
        copies("hf_model_index/acme__model-1__README.md"),
        "in/acme__model-1__README.md",
    ),
    Case("csv", "csv", copies("mapped/scores.csv"), "in/scores.csv", _mapping(CSV_MAPPING)),
    Case("json", "json", copies("mapped/board.json"), "in/board.json", _mapping(JSON_MAPPING)),
    Case(
        "declarations",
        "declarations",
        copies("declarations/declarations.yaml", "declarations/declarations.csv"),
        "in/declarations.yaml",
    ),
    Case(
        "system_cards",
        "system_cards",
        copies("system_cards/acme-m1-system-card.md", "system_cards/beta-b2-system-card.html"),
        "in/acme-m1-system-card.md",
        {"models": {"acme/m1": ["Acme M1"], "beta/b2": ["Beta B2"]}},
    ),
)


def cases_for(connector: str) -> list[Case]:
    return [c for c in CASES if c.connector == connector]


def installed() -> list[str]:
    return sorted(plugins.available(plugins.CONNECTORS))


# -- what every parse must satisfy ---------------------------------------------------------------
def is_number(x: object) -> bool:
    return isinstance(x, int | float) and not isinstance(x, bool) and math.isfinite(x)


def check_observation(o: Observation, payload: Payload) -> None:
    for name in ("subject", "benchmark", "metric"):
        text = getattr(o, name)
        assert isinstance(text, str) and 0 < len(text) <= MAX_ID, (name, text)
        assert "\x00" not in text, (name, text)  # PostgreSQL refuses NUL in text
    assert isinstance(o.key, str) and 0 < len(o.key) <= MAX_KEY, o.key
    assert is_number(o.value), o.value
    assert o.stderr is None or (is_number(o.stderr) and o.stderr >= 0), o.stderr
    assert o.n is None or (isinstance(o.n, int) and not isinstance(o.n, bool)), o.n
    assert o.n is None or 0 <= o.n <= MAX_N, o.n
    assert isinstance(o.observed_at, datetime), o.observed_at
    assert o.observed_at.utcoffset() == timedelta(0), o.observed_at
    assert (o.source, o.content_hash) == (payload.source, payload.content_hash)
    assert isinstance(o.attributes, dict)
    assert all(isinstance(k, str) for k in o.attributes)
    json.dumps(o.attributes, allow_nan=False)
    if "scale" in o.attributes:
        assert o.attributes["scale"] in SCALES, o.attributes["scale"]


def check_rejection(r: Rejection, payload: Payload) -> None:
    assert r.reason in ParseError.REASONS, r.reason
    assert r.message, r
    assert (r.source, r.content_hash) == (payload.source, payload.content_hash), r


def check_items(items: object, payload: Payload) -> list[Observation]:
    """`items` as a parse result of `payload`: a list of valid observations and rejections with
    unique keys. Returns the observations."""
    assert isinstance(items, list), type(items)
    found = []
    for item in items:
        assert isinstance(item, Observation | Rejection), type(item)
        if isinstance(item, Rejection):
            check_rejection(item, payload)
        else:
            check_observation(item, payload)
            found.append(item)
    keys = [o.key for o in found]
    assert len(set(keys)) == len(keys), "keys repeat within one payload"
    return found


def check_parse(connector: Connector, payload: Payload) -> list[Observation | Rejection]:
    """Parse `payload`, check the result, and check parsing again gives the same."""
    items: list[Observation | Rejection] = list(connector.parse(payload))
    check_items(items, payload)
    assert list(connector.parse(payload)) == items, "parse is not pure"
    return items


def fuzz_payload(case: Case, content: bytes) -> Payload:
    return Payload(case.fuzz_source(), content, sha256(content), fetched_at=FETCHED)


@cache
def fuzz_connector(name: str) -> Connector:
    """The connector of case `name`, for parsing payloads made up by the test."""
    (case,) = (c for c in CASES if c.name == name)
    return case.make(f"/nonexistent/{case.fuzz_source()}")


def fetched(connector: Connector) -> list[Payload | Rejection | Pending]:
    return list(connector.fetch(Cursor()))
