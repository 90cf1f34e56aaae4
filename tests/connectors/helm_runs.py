"""The HELM run folders and helpers the helm tests share (test_helm.py, test_helm_sources.py)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from connectors.helm import Helm, pack, parse_run
from warden.core.errors import ParseError
from warden.core.model import Observation, Payload, Pending, Rejection
from warden.ingest.connector import Cursor, sha256

DATA = Path(__file__).parent / "data" / "helm"
SUITE = DATA / "suite_v1"
GPQA = SUITE / "gpqa-subset=gpqa_diamond,use_chain_of_thought=true,model=acme_model-1"
MMLU = SUITE / "mmlu-subject=anatomy,method=multiple_choice_joint,model=acme_model-2"
WHEN = datetime(2026, 2, 1, 12, tzinfo=UTC)
REAL_RUN = "helm/runs/mmlu-subject=philosophy,method=multiple_choice_joint,model=openai_gpt2"
REAL_SUITE = "helm/generated_offline/benchmark_output_runs_test"


def fetch(source: Path, **opts: object) -> list[Payload | Rejection | Pending]:
    return list(Helm({"source": str(source), **opts}).fetch(Cursor()))


def parse_folder(run: Path) -> list[Observation | Rejection]:
    (item,) = fetch(run)
    assert isinstance(item, Payload), item
    return parse_run(item)


def only_observations(items: list[Observation | Rejection]) -> dict[str, Observation]:
    found = {o.metric: o for o in items if isinstance(o, Observation)}
    assert len(found) == len([o for o in items if isinstance(o, Observation)])
    return found


def payload(spec: Any, stats: Any, source: str = "runs/s/run/stats.json") -> Payload:
    """A packed run from documents (or raw bytes), as fetch makes it."""
    texts = [x if isinstance(x, bytes) else json.dumps(x).encode() for x in (spec, stats)]
    content = pack(texts[0], texts[1], source)
    return Payload(source, content, sha256(content), fetched_at=WHEN)


def spec_doc(**adapter: Any) -> dict[str, Any]:
    return {
        "name": "gpqa:subset=gpqa_main,model=acme_model-9",
        "scenario_spec": {"class_name": "helm.GPQAScenario", "args": {"subset": "gpqa_main"}},
        "adapter_spec": {"model": "acme/model-9", "model_deployment": "acme/serve-9", **adapter},
    }


def stat(name: str, mean: Any, split: str = "test", **more: Any) -> dict[str, Any]:
    return {"name": {"name": name, "split": split, **more}, "count": 1, "mean": mean}


GOOD_STATS = [stat("exact_match", 0.5), stat("num_instances", 10.0)]


def error(spec: Any, stats: Any) -> ParseError:
    with pytest.raises(ParseError) as caught:
        parse_run(payload(spec, stats))
    return caught.value


def rejections(items: list[Observation | Rejection]) -> list[Rejection]:
    return [r for r in items if isinstance(r, Rejection)]
