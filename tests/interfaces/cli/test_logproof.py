"""`warden log checkpoint`, `prove`, `consistency`, `verify --checkpoint` and `verify-proof`,
as an auditor runs them: keep a signed checkpoint, check a proof with the public key alone, and
find a log cut short since."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner, Result
from sqlalchemy import delete

from tests.support.treelog import grow
from warden.interfaces.cli.main import main
from warden.store import Store
from warden.store.schema import triggers


def warden(*args: str | Path) -> Result:
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)


def test_an_auditor_keeps_a_checkpoint_and_checks_proofs_offline(tmp_path: Path) -> None:
    db = tmp_path / "w.db"
    config = tmp_path / "warden.yaml"
    config.write_text(f"database_url: sqlite:///{db}\nlog_origin: example.org/warden-log\n")
    store = Store(f"sqlite:///{db}")
    store.upgrade()
    grow(store, 20, batch=4)
    key = tmp_path / "log.key"
    assert warden("log", "keygen", key).exit_code == 0
    kept = tmp_path / "kept.txt"
    r = warden("log", "checkpoint", "--config", config, "--sign", key, "-o", kept)
    assert r.exit_code == 0, r.output
    lines = kept.read_text().split("\n")
    assert lines[:2] == ["example.org/warden-log", "20"] and lines[4].startswith("— example.org/")

    grow(store, 6)
    r = warden("log", "prove", "7", "--config", config, "--sign", key)
    assert r.exit_code == 0, r.output
    proof = tmp_path / "proof.json"
    proof.write_text(r.output)
    assert json.loads(r.output)["entry"]["seq"] == 7
    r = warden("log", "verify-proof", proof, "--key", f"{key}.pub")
    assert r.exit_code == 0 and "entry 7" in r.output and "signature valid" in r.output, r.output
    r = warden("log", "verify-proof", proof)  # no key: nothing proves who issued it
    assert r.exit_code == 1 and "no signature was checked" in r.output

    r = warden("log", "consistency", kept, "--config", config, "--sign", key)
    assert r.exit_code == 0, r.output
    cons = tmp_path / "consistency.json"
    cons.write_text(r.output)
    r = warden("log", "verify-proof", cons, "--key", f"{key}.pub", "--checkpoint", kept)
    assert r.exit_code == 0 and "extends the kept checkpoint of 20" in r.output, r.output

    r = warden("log", "verify", "--config", config, "--checkpoint", kept, "--key", f"{key}.pub")
    assert r.exit_code == 0 and "26 entries extends the kept checkpoint of 20" in r.output
    other = tmp_path / "other.key"
    warden("log", "keygen", other)
    r = warden("log", "verify", "--config", config, "--checkpoint", kept, "--key", f"{other}.pub")
    assert r.exit_code == 1 and "no signature by key" in r.output

    with store.write() as conn:  # the newest entries removed: the chain alone still verifies
        conn.execute(delete(triggers).where(triggers.c.seq > 17))
    assert warden("log", "verify", "--config", config).exit_code == 0
    r = warden("log", "verify", "--config", config, "--checkpoint", kept)
    assert r.exit_code == 1 and "17 entries but the kept checkpoint covers 20" in r.output
    store.dispose()


def test_a_file_that_is_not_a_checkpoint_is_named_not_quoted(tmp_path: Path) -> None:
    bad = tmp_path / "bad.txt"
    bad.write_text("SECRET=hunter2\n")
    r = warden("log", "verify-proof", bad, "--allow-unsigned")
    assert r.exit_code == 1 and str(bad) in r.output and "hunter2" not in r.output


def test_an_export_carries_the_checkpoint_it_ends_at(tmp_path: Path) -> None:
    db = tmp_path / "w.db"
    config = tmp_path / "warden.yaml"
    config.write_text(f"database_url: sqlite:///{db}\n")
    store = Store(f"sqlite:///{db}")
    store.upgrade()
    grow(store, 9, batch=2)
    store.dispose()
    key = tmp_path / "log.key"
    warden("log", "keygen", key)
    out = tmp_path / "log.jsonl"
    r = warden("log", "export", "--config", config, "-o", out, "--sign", key)
    assert r.exit_code == 0, r.output
    header = json.loads(out.read_text().split("\n", 1)[0])
    cp = tmp_path / "cp.txt"
    cp.write_text(header["checkpoint"])
    assert header["checkpoint"].split("\n")[1] == "9"
    r = warden("log", "verify-proof", cp, "--key", f"{key}.pub")  # its signature
    assert r.exit_code == 0 and "signature valid" in r.output, r.output
    assert warden("log", "verify-export", out, "--key", f"{key}.pub").exit_code == 0
    # A header whose checkpoint is not the entries' root fails, though re-signed.
    lines = out.read_text().split("\n")
    header["checkpoint"] = header["checkpoint"].replace("\n9\n", "\n8\n", 1)
    out.write_text("\n".join([json.dumps(header), *lines[1:]]))
    r = warden("log", "verify-export", out, "--allow-unsigned", "--signature", tmp_path / "none")
    assert r.exit_code != 0
    (tmp_path / "log.jsonl.sig").unlink()
    r = warden("log", "verify-export", out, "--allow-unsigned")
    assert r.exit_code == 1 and "not the Merkle root of the 9 entries" in r.output, r.output
