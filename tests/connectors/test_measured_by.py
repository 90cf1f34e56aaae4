"""Who measured each observation (`measured_by`), as each connector says: model cards vendor;
Epoch, METR, HELM and SWE-bench independent unless the row says the lab submitted it; Inspect,
lm-eval and pushes own unless told; the CSV/JSON mappings and pushes accept it."""

from __future__ import annotations

import json
import shutil
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import select

from connectors.developers import by_developer
from connectors.epoch_benchmarks import parse_hub
from connectors.observations_json import ObservationsJson
from connectors.swebench import SweBench
from tests.connectors.epoch_tables import payload as epoch_payload
from tests.connectors.mapped_feeds import CSV, csv_parse, split
from thresholds import bundled_registry
from warden.catalog.thresholds import load_catalog
from warden.core.errors import ParseError
from warden.core.model import Observation, Payload
from warden.ingest.connector import Cursor, sha256
from warden.ingest.feedrun import run_feed
from warden.store import Store
from warden.store.schema import observations

NOW = datetime(2030, 1, 1, tzinfo=UTC)  # after the copies' modification times

PUSHED = {
    "model": "acme/m1",
    "benchmark": "b",
    "metric": "acc",
    "value": 0.5,
    "observed_at": "2026-01-01T00:00:00Z",
}


def pushed(*records: dict[str, object]) -> list[Observation]:
    data = json.dumps(list(records)).encode()
    return list(ObservationsJson({"source": "x"}).parse(Payload("push", data, sha256(data))))


def test_a_push_is_own_unless_it_says_who_measured_it() -> None:
    own, independent, vendor = pushed(
        PUSHED,
        {**PUSHED, "measured_by": "independent"},
        {**PUSHED, "vendor_reported": True},
    )
    assert [o.attributes["measured_by"] for o in (own, independent, vendor)] == [
        "own",
        "independent",
        "vendor",
    ]
    assert vendor.attributes["vendor_reported"] is True
    assert len({own.key, independent.key, vendor.key}) == 3


def test_a_push_that_contradicts_itself_or_names_no_measurer_is_refused() -> None:
    with pytest.raises(ParseError, match="vendor_reported contradicts measured_by 'own'"):
        pushed({**PUSHED, "vendor_reported": True, "measured_by": "own"})
    with pytest.raises(ParseError) as caught:
        pushed({**PUSHED, "measured_by": "lab"})
    assert (caught.value.record, caught.value.field) == ("0", "measured_by")


def test_a_mapping_reads_measured_by_from_a_column_or_a_constant() -> None:
    header = "Model ,Score,SE,Questions,Evaluated,Organisation,Open weights,Notes,Who\n"
    rows = (
        "acme/m1,70,1,198,2026-03-01T12:00:00Z,Acme,yes,,Independent\n"
        "acme/m2,70,1,198,2026-03-01T12:00:00Z,Acme,yes,,somebody\n"
    )
    attributes = {**CSV["attributes"], "measured_by": {"column": "Who"}}  # type: ignore[dict-item]
    found, refused = split(csv_parse(header + rows, attributes=attributes))
    assert [o.attributes["measured_by"] for o in found] == ["independent"]
    assert [(r.record, r.field) for r in refused] == [("row 3", "Who")]
    constant = {**CSV["attributes"], "measured_by": {"value": "vendor"}}  # type: ignore[dict-item]
    found, _ = split(csv_parse(header + rows, attributes=constant))
    assert {o.attributes["measured_by"] for o in found} == {"vendor"}


def test_an_epoch_external_row_sourced_from_the_lab_is_the_vendors() -> None:
    text = (
        "Model version,Time horizon,Release date,Organization,CI_high,CI_low,Source,id\n"
        "acme-1,100,2026-01-01,Acme AI,200,50,Acme AI system card,r1\n"
        "acme-2,120,2026-01-01,Acme AI,200,50,METR - Measuring AI Ability,r2\n"
    )
    items = parse_hub(epoch_payload(text, "metr_time_horizons_external.csv"))
    assert [o.attributes["measured_by"] for o in items if isinstance(o, Observation)] == [
        "vendor",
        "independent",
    ]


def test_a_lab_submitting_its_own_model_is_the_vendor() -> None:
    assert by_developer(["claude-opus-4-5-20251101"], ["Anthropic"])
    assert not by_developer(["claude-opus-4-5-20251101"], ["Anthropic", "SWE-agent"])
    assert not by_developer(["claude-sonnet-4", "gpt-5"], ["Atlassian"])
    assert not by_developer(["acme-1"], ["Acme"])  # an unknown developer is never assumed


@pytest.mark.realdata
def test_the_real_samples_say_who_measured_them(
    store: Store, samples: Path, tmp_path: Path
) -> None:
    """Epoch's hub is independent. SWE-bench's leaderboards are independent but for one entry:
    ByteDance's TRAE agent on its own Doubao models (Verified, 78.8), a lab's own submission.
    The bash-only board's `Org: Anthropic` entries are the SWE-bench team's own runs, and
    mini-SWE-agent + Claude 4.5 Opus is tagged by Anthropic and SWE-agent: both independent.
    METR's files are independent. The model cards are the vendor's. So no model has results
    from two measurers on one series: the real samples raise no evidence conflict."""
    from connectors.epoch_benchmarks import EpochBenchmarks
    from connectors.hf_model_index import HfModelIndex
    from connectors.metr import MetrHorizons

    registry = load_catalog([], [bundled_registry()]).registry
    for name, folder in (
        ("epoch", samples / "epoch" / "benchmark_data"),
        ("cards", samples / "hf-model-index"),
    ):
        shutil.copytree(folder, tmp_path / name)
    (tmp_path / "swe").mkdir()
    shutil.copy(samples / "swe-bench" / "leaderboards.2025-12-02.truncated.json", tmp_path / "swe")
    feeds = {
        "epoch": EpochBenchmarks({"source": str(tmp_path / "epoch")}),
        "swe": SweBench({"source": str(tmp_path / "swe")}),
        "cards": HfModelIndex({"source": str(tmp_path / "cards")}),
        "metr": MetrHorizons({"source": str(samples / "metr")}),
    }
    for feed, connector in feeds.items():
        result = run_feed(store, feed, connector, Cursor(), lambda: NOW, registry)
        assert result.ingested > 0, result
    with store.read() as conn:
        rows = conn.execute(select(observations.c.feed, observations.c.measured_by)).all()
    counts = Counter((feed, who) for feed, who in rows)
    assert set(counts) == {
        ("epoch", "independent"),
        ("swe", "independent"),
        ("swe", "vendor"),
        ("cards", "vendor"),
        ("metr", "independent"),
    }
    assert counts[("swe", "vendor")] == 1
    with store.read() as conn:
        (subject,) = conn.execute(
            select(observations.c.subject).where(
                observations.c.measured_by == "vendor", observations.c.feed == "swe"
            )
        ).scalars()
    assert subject == "Doubao-Seed-Code + Doubao-Seed-1.6"
