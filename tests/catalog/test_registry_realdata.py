"""The bundled registry over the real samples: few ids left unmapped, and no model under two
spellings across feeds."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import select

from thresholds import bundled_registry
from warden.catalog.registry import load_registry
from warden.catalog.suggestions import spelling
from warden.store import Store
from warden.store.schema import observations
from warden.store.sightings import unmapped_models

CLOCK = datetime(2030, 1, 1, tzinfo=UTC)  # after every sample file was written


def feeds(samples: Path) -> list[tuple[str, object]]:
    from connectors.epoch_benchmarks import EpochBenchmarks
    from connectors.epoch_models import EpochModels
    from connectors.helm import Helm
    from connectors.hf_model_index import HfModelIndex
    from connectors.lm_eval import LmEval
    from connectors.metr import MetrHorizons
    from connectors.swebench import SweBench

    swe = samples / "swe-bench"
    return [
        ("epoch-hub", EpochBenchmarks({"source": str(samples / "epoch/benchmark_data")})),
        ("epoch-models", EpochModels({"source": str(samples / "epoch/ai_models")})),
        ("metr", MetrHorizons({"source": str(samples / "metr")})),
        ("swebench", SweBench({"source": str(swe / "leaderboards.2025-12-02.truncated.json")})),
        ("hf", HfModelIndex({"source": str(samples / "hf-model-index")})),
        ("helm", Helm({"source": str(samples / "helm")})),
        ("lmeval", LmEval({"source": str(samples / "lm-eval")})),
        *[
            (f"lmeval-{i}", LmEval({"source": str(f)}))
            for i, f in enumerate(sorted((samples / "lm-eval/real_saucam_model_evals").glob("*")))
        ],
    ]


@pytest.mark.realdata
def test_the_samples_models_map_to_one_id_each(samples: Path, tmp_path: Path) -> None:
    from warden.ingest.connector import Cursor
    from warden.ingest.feedrun import run_feed

    registry = load_registry([bundled_registry()])
    store = Store(f"sqlite:///{tmp_path / 'w.db'}")
    store.upgrade()
    for feed, connector in feeds(samples):
        run_feed(store, feed, connector, Cursor(), lambda: CLOCK, registry)  # type: ignore[arg-type]
    with store.read() as conn:
        unmapped = unmapped_models(conn)
        rows = conn.execute(select(observations.c.subject, observations.c.feed)).all()
    store.dispose()
    # 200 model ids were unmapped before; what is left: SWE-bench's ensembles (`a + b`), the
    # test models of the lm-eval and HELM samples, `deepseek-reasoner` (an API name that has
    # served several models) and ids with an effort suffix until the connector splits it off.
    ids = {raw for raw, *_ in unmapped}
    assert len(ids) <= 16, sorted(ids)
    ensembles = {raw for raw in ids if " + " in raw}
    assert len(ids - ensembles) <= 10, sorted(ids - ensembles)
    # One model, one subject: the models several feeds name are stored under one id ...
    subjects: dict[str, set[str]] = {}
    for subject, feed in rows:
        subjects.setdefault(subject, set()).add(feed)
    assert {"epoch-hub", "metr"} <= subjects["anthropic/claude-3.5-sonnet"]
    assert {"epoch-hub", "metr"} <= subjects["openai/gpt-4-turbo"]
    assert {"epoch-hub", "metr"} <= subjects["openai/gpt-4-1106-preview"]
    assert {"metr", "helm"} <= subjects["openai/gpt2"]
    assert {"epoch-hub", "epoch-models"} <= subjects["alibaba/qwen3-235b-a22b"]
    assert any(f.startswith("lmeval-") for f in subjects["meta/llama-3-8b-instruct"])
    # ... and no two stored subjects are spellings of one model (same words, same date stamp)
    by_spelling: dict[tuple[object, ...], set[str]] = {}
    for subject in subjects:
        if " + " in subject:
            continue
        sp = spelling(subject)
        by_spelling.setdefault((sp.key, sp.stamp), set()).add(subject)
    twice = {k: v for k, v in by_spelling.items() if len(v) > 1}
    assert twice == {}
    # base and instruct models stay apart where the source keeps them apart
    assert "alibaba/qwen2.5-72b" in subjects and "alibaba/qwen2.5-72b-instruct" in subjects
