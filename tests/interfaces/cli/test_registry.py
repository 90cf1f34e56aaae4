"""`warden registry suggest`: proposals for the stored unmapped ids, printed or written to a
new registry file that the config then loads, mapping what is ingested next."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from click.testing import CliRunner

from thresholds import bundled_registry
from warden.catalog.registry import load_registry
from warden.core.model import Observation
from warden.interfaces.cli.main import main
from warden.store import Store
from warden.store.observations import insert_observations

T = datetime(2026, 1, 1, tzinfo=UTC)


def seen(subject: str, key: str, **attributes: object) -> Observation:
    o = Observation(
        subject,
        "gpqa_diamond",
        "accuracy",
        0.5,
        T,
        key,
        "src",
        "0" * 64,
        None,
        None,
        dict(attributes),
    )
    return load_registry([bundled_registry()]).normalise(o)


def test_suggest_writes_a_registry_file_the_config_loads(tmp_path: Path) -> None:
    db = tmp_path / "w.db"
    store = Store(f"sqlite:///{db}")
    store.upgrade()
    with store.write() as conn:
        insert_observations(
            conn,
            "hub",
            [
                seen(
                    "Acme-Chat-2-20250301", "a", organisation="Acme AI", release_date="2025-03-01"
                ),
                seen("acme_chat_2", "b", release_date="2025-03-03"),
                seen("Acme-Chat-2-Instruct", "c", organisation="Acme AI"),
                seen("claude-3-5-sonnet-20240620", "d"),  # known: not a proposal
            ],
            T,
        )
    store.dispose()
    config = tmp_path / "warden.yaml"
    config.write_text(f"database_url: sqlite:///{db}\n")
    runner = CliRunner()
    printed = runner.invoke(main, ["registry", "suggest", "-c", str(config)])
    assert printed.exit_code == 0, printed.output
    assert "3 unmapped model ids: 3 mapped by the proposals" in printed.stderr
    target = tmp_path / "proposed.yaml"
    written = runner.invoke(
        main, ["registry", "suggest", "--write", str(target), "-c", str(config)]
    )
    assert written.exit_code == 0, written.output
    assert target.read_text().split("\n", 1)[1] == printed.stdout.split("\n", 1)[1]
    again = runner.invoke(main, ["registry", "suggest", "--write", str(target), "-c", str(config)])
    assert again.exit_code == 2 and "the file exists" in again.stderr
    # accepted: the config lists it after the bundled registry
    config.write_text(f"database_url: sqlite:///{db}\nregistry: [bundled, {target}]\n")
    checked = runner.invoke(main, ["check", "--config-only", "-c", str(config)])
    assert "model_aliases" not in checked.output and "proposed.yaml" not in checked.output
    registry = load_registry([bundled_registry(), target])
    base, instruct = registry.model("ACME_CHAT_2"), registry.model("acme-chat-2-instruct")
    assert base is not None and instruct is not None and base.id != instruct.id
    assert registry.model("Acme-Chat-2-20250301") == base
    assert base.organisation == "Acme AI" and str(base.release_date) == "2025-03-01"
