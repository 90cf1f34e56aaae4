"""Replay re-derives every trigger of a varied run from the store, and says what differs when
the evidence, the definition or the verdict do."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

from click.testing import CliRunner
from sqlalchemy import delete, update

from tests.support.varied_run import run
from warden.alerting.state import advance
from warden.core.chain import Entry
from warden.interfaces.cli.main import main
from warden.store import alerts, reads
from warden.store.schema import observations, threshold_definitions
from warden.triggerlog import replay as replaying


def _transitions(w: object) -> list[Entry]:
    with w.store.read() as conn:  # type: ignore[attr-defined]
        return [e for e in alerts.entries(conn) if e.kind == "transition"]


def _replay(w: object, seq: int) -> replaying.Replay:
    with w.store.read() as conn:  # type: ignore[attr-defined]
        inputs = replaying.gather(conn, seq)
    return replaying.replay(inputs, models=w.catalog.registry.models, advance=advance)  # type: ignore[attr-defined]


def test_every_trigger_of_a_varied_run_is_reproduced(tmp_path: Path, db_url: str) -> None:
    w, _ = run(tmp_path, db_url)
    try:
        entries = _transitions(w)
        # The run is varied: warnings, firing, pending, resolved and nodata, on five thresholds
        # and two versions of one of them.
        states = {e.to_state for e in entries}
        assert {"warning", "firing", "pending", "resolved", "nodata"} <= states
        assert len({e.threshold for e in entries}) == 5
        versions = {e.threshold_version for e in entries if e.threshold == "lab.ctf.high"}
        assert len(versions) == 2
        results = [_replay(w, e.seq) for e in entries]
        assert [(r.seq, r.outcome, r.differences) for r in results] == [
            (e.seq, "reproduced", ()) for e in entries
        ]
        assert all(r.replayed is not None and r.replayed.to_state == r.recorded.to_state
                   for r in results if r.recorded)  # fmt: skip
    finally:
        w.close()


def test_changed_evidence_missing_and_edited_definitions_are_named(
    tmp_path: Path, db_url: str
) -> None:
    w, _ = run(tmp_path, db_url)
    try:
        entries = _transitions(w)
        firing = next(e for e in entries if e.to_state == "firing" and e.body["evidence"])
        oid = firing.body["evidence"][0]["observation"]
        with w.store.write() as conn:
            conn.execute(update(observations).where(observations.c.id == oid).values(value=0.01))
        r = _replay(w, firing.seq)
        assert r.outcome == "evidence changed"
        assert replaying.Difference(f"evidence {oid}.value", firing.body["evidence"][0]["value"],
                                    0.01) in r.differences  # fmt: skip
        with w.store.write() as conn:
            conn.execute(delete(observations).where(observations.c.id == oid))
        r = _replay(w, firing.seq)
        assert r.outcome == "evidence changed"
        assert r.differences[0] == replaying.Difference(
            f"evidence {oid}", "recorded", "no longer in the store"
        )

        other = next(e for e in entries if e.threshold != firing.threshold)
        d = threshold_definitions
        with w.store.write() as conn:
            conn.execute(
                update(d)
                .where(d.c.version == other.threshold_version)
                .values(definition='{"id": "edited"}')
            )
        r = _replay(w, other.seq)
        assert r.outcome == "definition changed" and "does not hash" in r.notes[0]
        with w.store.write() as conn:
            conn.execute(delete(d).where(d.c.version == other.threshold_version))
        r = _replay(w, other.seq)
        assert r.outcome == "definition missing"
        assert other.threshold_version[:12] in r.notes[0]
    finally:
        w.close()


def test_a_verdict_the_code_no_longer_gives_is_shown(tmp_path: Path, sqlite_url: str) -> None:
    w, _ = run(tmp_path, sqlite_url)
    try:
        entries = _transitions(w)
        firing = next(e for e in entries if e.to_state == "firing" and e.body["value"] is not None)
        with w.store.read() as conn:
            inputs = replaying.gather(conn, firing.seq)
        # As if the code of the time had judged the same evidence "ok" at another value.
        body = {**firing.body, "verdict": "ok", "value": 0.123}
        moved = dataclasses.replace(firing, content=json.dumps(body))
        r = replaying.replay(dataclasses.replace(inputs, entry=moved), advance=advance)
        assert r.outcome == "verdict changed"
        assert [d.what for d in r.differences] == ["verdict", "value"]
        assert r.differences[0] == replaying.Difference("verdict", "ok", "breached")
    finally:
        w.close()


def test_entries_that_are_not_transitions_are_not_replayable(
    tmp_path: Path, sqlite_url: str
) -> None:
    w, _ = run(tmp_path, sqlite_url)
    try:
        with w.store.read() as conn:
            kinds = {e.kind: e.seq for e in alerts.entries(conn)}
            assert reads.entry(conn, kinds["ack"]) is not None
        for kind in ("catalog", "ack", "silence"):
            r = _replay(w, kinds[kind])
            assert r.outcome == "not replayable" and kind in r.notes[0]
    finally:
        w.close()


def test_warden_log_replay(tmp_path: Path, sqlite_url: str) -> None:
    w, _ = run(tmp_path, sqlite_url)
    seq = _transitions(w)[0].seq
    config = tmp_path / "warden.yaml"
    config.write_text(f"database_url: {sqlite_url}\ncatalog: [{tmp_path / 'catalog.yaml'}]\n")
    w.close()
    runner = CliRunner()
    r = runner.invoke(main, ["log", "replay", str(seq), "--config", str(config)])
    assert r.exit_code == 0, r.output
    assert r.output.startswith(f"trigger {seq}: reproduced")
    r = runner.invoke(main, ["log", "replay", str(seq), "--json", "--config", str(config)])
    assert r.exit_code == 0 and json.loads(r.output)["outcome"] == "reproduced"
    r = runner.invoke(main, ["log", "replay", "99999", "--config", str(config)])
    assert r.exit_code == 2 and "no such entry" in r.output
