"""`warden log verify`, `checkpoint`, `prove`, `consistency` and `verify-proof`: the trigger
log's hash chain and Merkle tree, the checkpoints an auditor keeps, and proofs checked with the
public key alone (formats: warden/triggerlog/checkpoint.py, proofs.py). Added to the `log` group
by warden/interfaces/cli/log.py."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import click

from warden.core.errors import UsageError
from warden.interfaces.cli.common import Context, config_option, pass_ctx, user_errors

if TYPE_CHECKING:
    from sqlalchemy import Connection

    from warden.triggerlog.checkpoint import Checkpoint
    from warden.triggerlog.keys import Ed25519Key
    from warden.triggerlog.note import Verifier


def _read(path: str, what: str) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        raise UsageError(f"{what} {path}: {exc.strerror or exc}") from exc


def _kept(path: str, what: str) -> Checkpoint:
    from warden.triggerlog.checkpoint import parse

    data = _read(path, what)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise UsageError(f"{what} {path}: not UTF-8 text (byte {exc.start})") from exc
    return parse(text, f"{what} {path}")


def _verifier(key_file: str | None, origin: str) -> Verifier | None:
    """The verifier in a public (or private) PEM key file, or a verifier key line
    (NAME+HASH+KEY, as Go's note tools write them)."""
    from warden.triggerlog.checkpoint import verifier
    from warden.triggerlog.keys import Ed25519Key, load_key
    from warden.triggerlog.note import parse_vkey

    if key_file is None:
        return None
    data = _read(key_file, "--key")
    if b"-----BEGIN" not in data:
        return parse_vkey(data.decode("utf-8", "replace"), f"--key {key_file}")
    key = load_key(data, f"--key {key_file}")
    if not isinstance(key, Ed25519Key):
        raise UsageError(f"--key {key_file}: not an Ed25519 key (KEYFILE.pub of warden log keygen)")
    return verifier(key, origin)


def _signing(ctx: Context, key_file: str | None) -> Ed25519Key | None:
    from warden.triggerlog.checkpoint import signing_key

    if key_file is not None:
        return signing_key(key_file, "--sign")
    configured = ctx.settings().checkpoint_key
    return None if configured is None else signing_key(configured, "checkpoint_key")


def _against(
    conn: Connection, ctx: Context, spec: str | None, key: Ed25519Key | None
) -> Checkpoint:
    """The checkpoint SPEC names: a checkpoint file (which must match the log), a tree size, or
    (None) the whole log now; the last two signed with `key` if given."""
    from warden.triggerlog import checkpoint as cps
    from warden.triggerlog.proofs import matches

    origin = ctx.settings().log_origin
    if spec is not None and not spec.isdigit():
        cp = _kept(spec, "checkpoint")
        matches(conn, cp, f"checkpoint {spec}")
        return cp
    return cps.signed(cps.at(conn, origin, None if spec is None else int(spec)), key)


@click.command("verify")
@click.option(
    "--checkpoint",
    "kept_file",
    metavar="FILE",
    help="Also prove that today's log extends this checkpoint (one you kept earlier).",
)
@click.option("--key", "key_file", metavar="KEYFILE", help="Check FILE's signature with it.")
@config_option
@pass_ctx
@user_errors
def verify(ctx: Context, kept_file: str | None, key_file: str | None) -> None:
    """Recompute the trigger log's hash chain; exit 1 naming the first bad entry. Reads only
    the store: it works while the catalog is broken.

    With --checkpoint, also recompute the Merkle tree from the entries and check that its first
    N entries (N: the checkpoint's size) have the checkpoint's root: an entry edited, deleted,
    inserted or reordered before it, or a log shorter than it, fails with the reason."""
    from warden.core.errors import ChainError
    from warden.store import alerts
    from warden.triggerlog.checkpoint import checked
    from warden.triggerlog.entries import verify as verify_chain
    from warden.triggerlog.proofs import audit

    kept = None if kept_file is None else _kept(kept_file, "--checkpoint")
    signature = ""
    if kept is not None:
        v = _verifier(key_file, kept.origin)
        signature = f"; {kept_file}: {checked(kept, v, f'--checkpoint {kept_file}')}"
    store = ctx.store()
    try:
        with store.read() as conn:
            if kept is not None:
                said = audit(conn, kept)
                click.echo(f"ok: {said}{signature}")
                return
            entries = list(alerts.entries(conn))
    finally:
        store.dispose()
    broken = verify_chain(entries)
    if broken is not None:
        raise ChainError(broken.seq, broken.why)
    head = entries[-1].hash if entries else "(empty)"
    click.echo(f"ok: {len(entries)} entries verified; head {head}")


@click.command("checkpoint")
@click.option(
    "--sign",
    "key_file",
    metavar="KEYFILE",
    help="Sign it with this Ed25519 private key (warden log keygen); default: checkpoint_key.",
)
@click.option("--output", "-o", metavar="FILE", help="Write it to FILE (default: stdout).")
@config_option
@pass_ctx
@user_errors
def checkpoint(ctx: Context, key_file: str | None, output: str | None) -> None:
    """Issue a checkpoint of the trigger log: origin, size and Merkle root (C2SP
    tlog-checkpoint), as a signed note when signed. Keep it: `warden log verify --checkpoint`
    and `warden log consistency` later prove that the log only grew since."""
    from warden.core.clock import system_clock
    from warden.triggerlog.checkpoint import issue, write_file

    key = _signing(ctx, key_file)
    store = ctx.store()
    try:
        with store.write() as conn:
            cp = issue(conn, ctx.settings().log_origin, key, system_clock())
    finally:
        store.dispose()
    if output is None:
        click.echo(cp.show(), nl=False)
    else:
        try:
            write_file(output, cp)
        except OSError as exc:
            raise UsageError(f"--output {output}: {exc.strerror or exc}") from exc
        click.echo(f"checkpoint of {cp.size} entries written to {output}", err=True)


@click.command("prove")
@click.argument("seq", type=click.IntRange(min=1))
@click.option(
    "--checkpoint",
    "spec",
    metavar="FILE|SIZE",
    help="Against this checkpoint file (or tree size); default: the whole log now.",
)
@click.option("--sign", "key_file", metavar="KEYFILE", help="Sign a checkpoint made here.")
@config_option
@pass_ctx
@user_errors
def prove(ctx: Context, seq: int, spec: str | None, key_file: str | None) -> None:
    """Print the inclusion proof of entry SEQ (JSON: the checkpoint, the entry, its audit
    path). `warden log verify-proof` checks it with the public key alone."""
    from warden.triggerlog.proofs import inclusion

    key = _signing(ctx, key_file) if spec is None or spec.isdigit() else None
    store = ctx.store()
    try:
        with store.read() as conn:
            doc = inclusion(conn, seq, _against(conn, ctx, spec, key))
    finally:
        store.dispose()
    click.echo(json.dumps(doc, indent=2, ensure_ascii=False))


@click.command("consistency")
@click.argument("old", metavar="OLD")
@click.argument("new", metavar="NEW", required=False)
@click.option("--sign", "key_file", metavar="KEYFILE", help="Sign checkpoints made here.")
@config_option
@pass_ctx
@user_errors
def consistency(ctx: Context, old: str, new: str | None, key_file: str | None) -> None:
    """Print the proof that the log at NEW extends the log at OLD (each a checkpoint file or a
    tree size; NEW default: the whole log now), as JSON for `warden log verify-proof`."""
    from warden.triggerlog import proofs

    key = _signing(ctx, key_file)
    store = ctx.store()
    try:
        with store.read() as conn:
            first = _against(conn, ctx, old, key)
            second = _against(conn, ctx, new, key)
            if second.size < first.size:
                raise UsageError(f"NEW ({second.size} entries) is older than OLD ({first.size})")
            doc = proofs.consistency(conn, first, second)
    finally:
        store.dispose()
    click.echo(json.dumps(doc, indent=2, ensure_ascii=False))


@click.command("verify-proof")
@click.argument("file")
@click.option(
    "--key",
    "key_file",
    metavar="KEYFILE",
    help="The log's public key: KEYFILE.pub of warden log keygen, or a verifier key line.",
)
@click.option(
    "--checkpoint",
    "kept_file",
    metavar="KEPT",
    help="A checkpoint you kept: FILE must prove that its log extends it.",
)
@click.option(
    "--allow-unsigned", is_flag=True, help="Exit 0 without --key (nothing proves who issued it)."
)
@user_errors
def verify_proof(
    file: str, key_file: str | None, kept_file: str | None, allow_unsigned: bool
) -> None:
    """Check FILE, a proof of `warden log prove` or `warden log consistency` (or a bare
    checkpoint), without a database: the checkpoint's signature, the entry's inclusion, the
    consistency between two checkpoints. Exit 0 ok; 1 naming what does not verify; 2 unreadable
    input."""
    from warden.triggerlog.proofs import verify as verify_doc

    data = _read(file, "proof")
    kept = None if kept_file is None else _kept(kept_file, "--checkpoint")
    origin = kept.origin if kept is not None else _origin_of(data)
    v = _verifier(key_file, origin)
    said = verify_doc(data, file, v, kept)
    if v is None and not allow_unsigned:
        from warden.triggerlog.merkle import ProofError

        raise ProofError(
            f"{file}: the proof is consistent, but no signature was checked: give --key (the "
            "log's public key), or --allow-unsigned"
        )
    click.echo(f"ok: {file}")
    for line in said:
        click.echo(f"  {line}")


def _origin_of(data: bytes) -> str:
    """The origin of the checkpoint in a proof document or checkpoint file (its first line);
    what is malformed is left for the verification to name."""
    text = data.decode("utf-8", "replace")
    if text.lstrip().startswith("{"):
        try:
            doc = json.loads(text)
        except json.JSONDecodeError:
            return "-"
        found = doc.get("checkpoint") if isinstance(doc, dict) else None
        text = found if isinstance(found, str) else ""
    return text.split("\n", 1)[0].strip() or "-"


def register(group: click.Group) -> None:
    for command in (verify, checkpoint, prove, consistency, verify_proof):
        group.add_command(command)
