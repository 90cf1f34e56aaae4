"""Real trigger contents of bundled thresholds: the bundled catalog and registry loaded as the
daemon loads them, observations stored in a SQLite file, one evaluation cycle, and the trigger
log read back as the dispatcher reads it.

Kinds (`BUNDLED`): `metr` (autonomy.metr_time_horizon.p50.high firing on 520 minutes: a proxy,
in minutes), `compute` (compute.training_compute.eu_systemic_risk.high firing on 1.2e25 FLOP:
the AI Act's own number), `compute_warning` (the same threshold's early warning on 5e24 FLOP
for another model), `gpqa` (general.gpqa_diamond.beyond_experts.early_warning, whose trigger
1.2 x 0.697 is 0.8363999999999999 as a float) and `uplift` (bio_chem.uplift_evidence.at_least_two
.high: proxies corroborated, warning levels from the xAI draft).
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from warden.alerting.cycle import idempotency_key, run_cycle
from warden.catalog.thresholds import load_catalog
from warden.core.model import COMPUTE, Observation
from warden.core.notification import Notification
from warden.store import Store, alerts
from warden.store import observations as obs_rows

ROOT = Path(__file__).resolve().parents[3]
# Observed with microseconds: people read them to the second.
T0 = datetime(2025, 6, 2, 9, 30, 15, 987654, tzinfo=UTC)
METR_URL = "https://metr.org/time-horizons/run-42.json"

BUNDLED = {
    "metr": ("autonomy.metr_time_horizon.p50.high", "frontier", "firing"),
    "compute": ("compute.training_compute.eu_systemic_risk.high", "acme/big", "firing"),
    "compute_warning": ("compute.training_compute.eu_systemic_risk.high", "acme/mid", "warning"),
    "gpqa": ("general.gpqa_diamond.beyond_experts.early_warning", "frontier", "firing"),
    "uplift": ("bio_chem.uplift_evidence.at_least_two.high", "frontier", "firing"),
}


def _obs(
    subject: str, bench: str, metric: str, value: float, stderr: float | None = None
) -> Observation:
    return Observation(
        subject,
        bench,
        metric,
        value,
        T0,
        f"{subject}:{bench}:{metric}",
        METR_URL if bench == "metr_time_horizon" else "/data/epoch/benchmarks.csv",
        "cd" * 32,
        stderr=stderr,
        n=198 if stderr is not None else None,
    )


def build(folder: Path, sink: str = "sink") -> dict[str, Notification]:
    catalog = load_catalog([ROOT / "thresholds"], [ROOT / "thresholds" / "registry"])
    store = Store(f"sqlite:///{folder / 'warden.db'}")
    store.upgrade()
    try:
        with store.write() as conn:
            obs_rows.insert_observations(
                conn,
                "lab",
                [
                    _obs("acme/agent", "metr_time_horizon", "p50_minutes", 520.0),
                    _obs("acme/big", *COMPUTE, 1.2e25),
                    _obs("acme/mid", *COMPUTE, 5e24),
                    _obs("acme/sci", "gpqa_diamond", "accuracy", 0.9, stderr=0.01),
                    _obs("acme/bio", "vct", "accuracy", 0.3),
                    _obs("acme/bio", "wmdp_bio", "accuracy", 0.85),
                ],
                T0,
            )
        run_cycle(store, catalog, [sink], lambda: T0)
        with store.read() as conn:
            entries = [e for e in alerts.entries(conn) if e.kind == "transition"]
    finally:
        store.dispose()
    found = {(e.threshold, e.subject, e.to_state): e for e in entries}
    return {
        kind: Notification(idempotency_key(e.hash, sink), sink, e.seq, e.hash, e.body)
        for kind, wanted in BUNDLED.items()
        for e in [found[wanted]]
    }
