"""The bundled signs of under-elicitation on the real public samples (Epoch's benchmarking hub
and models table, METR, the SWE-bench leaderboards, HELM, lm-eval and Hugging Face model
indexes), through the store and the evaluation cycle: how many signs they raise, and which.

Judged by hand (see docs/how-to/evidence-and-declarations.md, "Signs of under-elicitation"):

- GPQA Diamond, Gemini 2.5 Pro Preview 05-06 at 0.667 ± 0.034 against Gemini 2.5 Pro Exp 03-25
  at 0.838 ± 0.026 (Epoch's runs; 4.0 combined stderrs). Its successors score 0.848 and 0.853:
  the one run sits alone far below the line on both sides. A true sign: this run is not the
  model's capability.
- SWE-bench Verified, Claude Sonnet 4.5 at 0.648 ± 0.021 (Epoch's own scaffold) against Claude
  Sonnet 4's best result, 0.768 with the EPAM AI/Run agent (a leaderboard submission). The
  model did not regress (Sonnet 4 on Epoch's scaffold: 0.606); its best known result is a
  weaker scaffold's. A true sign of under-elicited evidence, not of the model: 0.648 is not
  Sonnet 4.5's SWE-bench capability while a stronger scaffold exists for its predecessor.

No sample has two runs of one model and variant on different sample counts, nor a vendor number
on these benchmarks: elicitation_drop and below_vendor raise nothing there.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from tests.catalog.test_registry_realdata import feeds
from thresholds import bundled_catalog, bundled_registry
from warden.alerting.cycle import run_cycle
from warden.catalog.thresholds import load_catalog
from warden.core.model import Verdict
from warden.ingest.connector import Cursor
from warden.ingest.feedrun import run_feed
from warden.store import Store

pytestmark = pytest.mark.realdata

CLOCK = datetime(2030, 1, 1, tzinfo=UTC)  # after every sample file was written

JUDGED = {
    ("elicitation.gpqa_diamond.predecessor_drop", "google/gemini-2.5-pro-preview-05-06"),
    ("elicitation.swe_bench_verified.predecessor_drop", "anthropic/claude-sonnet-4.5"),
}


def test_the_real_samples_raise_the_two_signs_judged_true(samples: Path, tmp_path: Path) -> None:
    catalog = load_catalog([bundled_catalog()], [bundled_registry()])
    store = Store(f"sqlite:///{tmp_path / 'w.db'}")
    store.upgrade()
    for feed, connector in feeds(samples):
        run_feed(store, feed, connector, Cursor(), lambda: CLOCK, catalog.registry)  # type: ignore[arg-type]
    signs = [t for t in catalog.thresholds if t.id.startswith("elicitation.")]
    result = run_cycle(store, catalog, ["hook"], lambda: CLOCK, thresholds=signs)
    store.dispose()
    raised = {(e.threshold, e.subject) for e in result.evaluations if e.verdict is Verdict.BREACHED}
    assert raised == JUDGED
    # Many comparisons were made, and found no sign: the rule is not silent for want of data.
    judged = [e for e in result.evaluations if e.verdict is Verdict.OK]
    assert len(judged) >= 60
    assert {e.threshold for e in judged} >= {
        "elicitation.gpqa_diamond.predecessor_drop",
        "elicitation.swe_bench_verified.predecessor_drop",
        "elicitation.frontiermath.predecessor_drop",
    }
    reasons = {e.subject: e.reason for e in result.evaluations if e.verdict is Verdict.BREACHED}
    assert (
        "its predecessor in family gemini-pro google/gemini-2.5-pro-exp-03-25"
        in (reasons["google/gemini-2.5-pro-preview-05-06"])
    )
    assert (
        "(variant EPAM AI/Run Developer Agent v20250719 + Claude 4 Sonnet)"
        in (reasons["anthropic/claude-sonnet-4.5"])
    )
