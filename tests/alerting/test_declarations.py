"""Lab declarations through ingest, the bundled catalog and the evaluation cycle: `declared:`
thresholds fire on the bundled public declarations; the divergence alert fires both ways
(independent evidence past the proxy while the lab declared below; a declaration above what the
independent evidence shows) and not on the vendor's own numbers. On SQLite, and PostgreSQL when
WARDEN_TEST_DATABASE_URL is set."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from connectors.declarations import Declarations
from thresholds import bundled_catalog, bundled_registry
from warden.alerting.cycle import run_cycle
from warden.catalog.thresholds import Catalog, load_catalog
from warden.core.model import Observation, State
from warden.core.notification import Notification
from warden.delivery.sinks.render import view
from warden.ingest.connector import Cursor
from warden.ingest.feedrun import run_feed
from warden.store import Store, alerts
from warden.store import observations as obs_rows

NOW = datetime(2026, 3, 1, tzinfo=UTC)
ANTHROPIC = "declarations.anthropic_rsp.asl_3_cbrn.divergence"


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return load_catalog([bundled_catalog()], [bundled_registry()])


def ingest(store: Store, catalog: Catalog, source: Path) -> None:
    result = run_feed(
        store,
        "labs",
        Declarations({"source": str(source)}),
        Cursor(),
        lambda: NOW,
        catalog.registry,
    )
    assert result.rejected == 0 and result.ingested > 0, result


def vct(store: Store, model: str, value: float, measured_by: str) -> None:
    o = Observation(
        model,
        "vct",
        "accuracy",
        value,
        NOW,
        f"vct-{model}-{measured_by}-{value}",
        f"https://{measured_by}.example.org/vct",
        "0" * 64,
        0.01,
        attributes={"measured_by": measured_by},
    )
    with store.write() as conn:
        obs_rows.insert_observations(conn, measured_by, [o], NOW)


def fired(store: Store, catalog: Catalog, ids: list[str]) -> dict[tuple[str, str], str]:
    chosen = [catalog.by_id(i) for i in ids]
    result = run_cycle(store, catalog, ["hook"], lambda: NOW, thresholds=chosen)
    return {
        (t.threshold, t.subject): t.evaluation.reason
        for _, t in result.transitions
        if t.to_state is State.FIRING
    }


def test_declared_thresholds_fire_on_the_bundled_public_declarations(
    store: Store, catalog: Catalog
) -> None:
    ingest(store, catalog, bundled_catalog() / "declarations" / "public.yaml")
    got = fired(
        store,
        catalog,
        [
            "declarations.anthropic_rsp.asl_3_cbrn.declared",
            "declarations.openai_preparedness.high_bio_chem.declared",
            "declarations.gdm_fsf.cbrn_uplift_1.early_warning",
        ],
    )
    assert set(got) == {
        ("declarations.anthropic_rsp.asl_3_cbrn.declared", "anthropic/claude-opus-4"),
        ("declarations.openai_preparedness.high_bio_chem.declared", "openai/chatgpt-agent"),
        ("declarations.openai_preparedness.high_bio_chem.declared", "openai/gpt-5"),
        ("declarations.gdm_fsf.cbrn_uplift_1.early_warning", "google/gemini-2.5-deep-think"),
    }
    with store.read() as conn:
        entries = [e for e in alerts.entries(conn) if e.subject == "anthropic/claude-opus-4"]
    (evidence,) = entries[0].body["evidence"]
    assert evidence["source"].endswith("public.yaml")
    assert evidence["observed_at"].startswith("2025-05-22")
    assert evidence["measured_by"] == "vendor"
    # Said as a status, not as the ordinal it is stored as ("2 >= 2"), in the log and in the
    # alert a sink renders (no "declaration ... = 2 (trigger >= 2)").
    said = "declared could_not_rule_out (anthropic-rsp.asl-3.cbrn); at least could_not_rule_out"
    assert entries[0].body["reason"] == said
    alert = view(Notification("", "", entries[0].seq, entries[0].hash, entries[0].body))  # type: ignore[arg-type]
    assert alert.measurements == () and alert.reason == said
    # Whether the declaration was checked against its primary source travels with it: the
    # bundled Gemini 2.5 Deep Think entry could not be, and its alert says so.
    assert alert.evidence[0].text.endswith("observed 2025-05-22 00:00:00 UTC")
    with store.read() as conn:
        (gemini,) = [e for e in alerts.entries(conn) if e.subject == "google/gemini-2.5-deep-think"]
    assert gemini.body["evidence"][0]["verified"] is False
    shown = view(Notification("", "", gemini.seq, gemini.hash, gemini.body))  # type: ignore[arg-type]
    assert shown.evidence[0].text.endswith("; not verified against its primary source")
    # The level is the lab's own declared status: the framework's, not unstated.
    assert alert.basis == "framework number", alert.basis
    assert alert.basis_notes == (
        "when.declared.status: framework number (the lab's own status under its own "
        "framework, as it declared it)",
    )


def test_a_declaration_above_the_independent_evidence_is_an_evidence_gap(
    store: Store, catalog: Catalog
) -> None:
    ingest(store, catalog, bundled_catalog() / "declarations" / "public.yaml")
    vct(store, "anthropic/claude-opus-4", 0.15, "independent")  # below the 0.221 proxy
    got = fired(store, catalog, [ANTHROPIC])
    reason = got[(ANTHROPIC, "anthropic/claude-opus-4")]
    assert reason.startswith("declaration above the evidence (an evidence gap): vct/accuracy")
    assert "0.15 not >= 0.221, measured by independent" in reason
    assert "declared could_not_rule_out" in reason
    with store.read() as conn:
        (entry,) = [e for e in alerts.entries(conn) if e.body.get("threshold") == ANTHROPIC]
    alert = view(Notification("", "", entry.seq, entry.hash, entry.body))  # type: ignore[arg-type]
    assert alert.measurements == () and alert.reason == reason  # not "vct accuracy = 0.15 ..."


def test_independent_evidence_above_a_declared_below_fires_and_the_vendors_does_not(
    store: Store, catalog: Catalog, tmp_path: Path
) -> None:
    (tmp_path / "lab.yaml").write_text(
        "declarations:\n"
        "  - {organisation: Acme, model: acme/m0, framework: anthropic-rsp, level: ASL-3,\n"
        "     domain: CBRN, status: below, date: 2026-01-05,\n"
        "     source_url: 'https://acme.example.org/m0'}\n"
        "  - {organisation: Acme, model: acme/m9, framework: anthropic-rsp, level: ASL-3,\n"
        "     domain: CBRN, status: below, date: 2026-01-05,\n"
        "     source_url: 'https://acme.example.org/m9'}\n"
    )
    ingest(store, catalog, tmp_path / "lab.yaml")
    vct(store, "acme/m0", 0.30, "independent")
    vct(store, "acme/m9", 0.30, "vendor")  # the lab's own number: not independent evidence
    vct(store, "acme/m9", 0.10, "independent")
    got = fired(store, catalog, [ANTHROPIC])
    assert list(got) == [(ANTHROPIC, "acme/m0")]
    assert got[(ANTHROPIC, "acme/m0")].startswith(
        "evidence above the declaration: vct/accuracy 0.3 >= 0.221, measured by independent; "
        "declared below"
    )
