"""Frontiers over variants: on the release-date basis a model is valued by its most capable
variant's newest estimate (not by its newest run), while a newer version of a versioned source
still supersedes an older one whatever the variant. Read from a real store."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from tests.forecasting.test_frontier import CATALOG, T0, frontier, observation, stored, values
from warden.catalog.thresholds import Catalog, load_catalog
from warden.store import Store


@pytest.fixture
def catalog(tmp_path: Path) -> Catalog:
    (tmp_path / "catalog.yaml").write_text(CATALOG)
    return load_catalog([tmp_path / "catalog.yaml"])


def test_a_model_is_valued_by_its_most_capable_variant(store: Store, catalog: Catalog) -> None:
    stored(
        store,
        catalog,
        [
            observation("lab/a", 0.85, 1, variant="xhigh"),
            observation("lab/a", 0.75, 2, variant="high"),
            observation("lab/a", 0.6, 3, variant="medium"),  # the newest run
            observation("lab/a", 0.9, 0, variant="high"),  # an older high run: replaced
            observation("other/c", 0.5, 4),
        ],
    )
    f = frontier(store, catalog, basis="release_date")
    assert values(f) == [(0, 0.85, "lab/a")]
    assert f.points[0].variant == "xhigh"
    assert f.as_dict()["points"][0]["variant"] == "xhigh"
    assert dict(f.left_out) == {
        "less capable variants of a model": 2,
        "older estimates of a model": 1,
    }
    # Lower is more capable for a lower metric: the lowest variant's newest estimate.
    stored(
        store,
        catalog,
        [
            observation("lab/a", 0.2, 1, "err", variant="xhigh"),
            observation("lab/a", 0.3, 2, "err", variant="medium"),
        ],
    )
    low = frontier(store, catalog, "err", basis="release_date")
    assert [(p.value, p.variant) for p in low.points] == [(0.2, "xhigh")]


def test_a_newer_source_version_supersedes_the_older_across_variants(
    store: Store, catalog: Catalog
) -> None:
    old = {"source_version": "METR-Horizon-v1.0", "source_date": "2025-06-01"}
    new = {"source_version": "METR-Horizon-v1.1", "source_date": "2025-12-01"}
    stored(
        store,
        catalog,
        [
            observation("lab/a", 300.0, 1, "mins", variant="flock-public", **old),
            observation("lab/a", 250.0, 2, "mins", variant="metr_agents/react", **new),
            observation("lab/a", 200.0, 3, "mins", variant="triframe", **new),
        ],
    )
    f = frontier(store, catalog, "mins", basis="release_date")
    assert [(p.value, p.variant) for p in f.points] == [(250.0, "metr_agents/react")]
    assert dict(f.left_out) == {
        "superseded by a newer version of their source": 1,
        "less capable variants of a model": 1,
    }
    # On the observation-time basis every observation is a point: records, variants and all.
    by_time = frontier(store, catalog, "mins", basis="observed_at")
    assert [(p.at - T0, p.value) for p in by_time.points] == [(timedelta(days=1), 300.0)]
