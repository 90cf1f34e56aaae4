"""`warden log export` and `warden log verify-export`: exports of the trigger log that a reader
can check without warden's database, optionally signed (formats: warden/logexport.py); and
`warden log keygen`, the Ed25519 key pair whose public half checks a signature but cannot make
one. Added to the `log` group of the main command by warden/cli.py."""

from __future__ import annotations

import json
import os
import stat
import sys
from pathlib import Path

import click

from warden.core.errors import UsageError
from warden.interfaces.cli.common import (
    Context,
    config_option,
    known_threshold,
    parse_time,
    pass_ctx,
    store_threshold_ids,
    user_errors,
)
from warden.triggerlog.keys import (
    MIN_KEY_BYTES,
    Ed25519Key,
    HmacKey,
    Key,
    load_key,
    new_key_pair,
)

# As in warden/logexport.py, which is imported only when a command runs (`warden --help` stays
# fast); tests/triggerlog/test_export.py checks they agree.
FORMATS = ("jsonl", "csv")


def read_key(path: Path, *, sign: bool) -> Key:
    """The key in a key file: a PEM Ed25519 key (to sign, the private one; to verify, either),
    else an HMAC key: the file's bytes, exactly (a trailing newline is part of it), at least
    MIN_KEY_BYTES of them. Warns when others may read a file that holds a secret."""
    try:
        data = path.read_bytes()
        mode = path.stat().st_mode
    except OSError as exc:
        raise UsageError(f"key file {path}: {exc.strerror or exc}") from exc
    key = load_key(data, f"key file {path}")
    if isinstance(key, HmacKey) and len(data) < MIN_KEY_BYTES:
        raise UsageError(
            f"key file {path}: {len(data)} bytes; an HMAC key needs at least {MIN_KEY_BYTES} "
            f"(make one with: head -c 32 /dev/urandom > {path})"
        )
    if sign and not key.can_sign:
        raise UsageError(
            f"key file {path}: an Ed25519 public key, which cannot sign: --sign needs the "
            "private key (KEYFILE of warden log keygen, not KEYFILE.pub)"
        )
    if key.can_sign and os.name == "posix" and mode & (stat.S_IRWXG | stat.S_IRWXO):
        click.echo(f"warden: warning: key file {path} is readable by others (chmod 600)", err=True)
    return key


def _create(path: Path, data: bytes, mode: int) -> None:
    """Write a new file, created with `mode` (never wider, whatever the umask) and set to it
    exactly; an existing file, or a symlink, is refused."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, mode)
    except FileExistsError as exc:
        raise UsageError(
            f"{path}: already exists; warden log keygen does not overwrite a key (remove it or "
            "choose another KEYFILE)"
        ) from exc
    except OSError as exc:
        raise UsageError(f"{path}: {exc.strerror or exc}") from exc
    try:
        with os.fdopen(fd, "wb") as f:
            os.fchmod(f.fileno(), mode)
            f.write(data)
    except OSError as exc:
        path.unlink(missing_ok=True)
        raise UsageError(f"{path}: {exc.strerror or exc}") from exc


@click.command("keygen")
@click.argument("key_file", metavar="KEYFILE")
@user_errors
def keygen(key_file: str) -> None:
    """Make an Ed25519 key pair for signing exports.

    The private key goes to KEYFILE (PKCS#8 PEM, mode 0600), for `warden log export --sign
    KEYFILE`; the public key to KEYFILE.pub (PEM, mode 0644), for `warden log verify-export --key
    KEYFILE.pub`. The public key checks signatures but cannot make them: give it to whoever
    verifies. Prints the key id.

    Exit 2 if KEYFILE or KEYFILE.pub exists: a key is never overwritten."""

    private_path, public_path = Path(key_file), Path(f"{key_file}.pub")
    for path in (private_path, public_path):
        if path.exists() or path.is_symlink():
            raise UsageError(
                f"{path}: already exists; warden log keygen does not overwrite a key (remove it "
                "or choose another KEYFILE)"
            )
    private, public, kid = new_key_pair()
    _create(private_path, private, 0o600)
    try:
        _create(public_path, public, 0o644)
    except UsageError:
        private_path.unlink()  # no private key without its public half
        raise
    click.echo(
        f"key id {kid}: private key {private_path} (mode 0600; keep it secret), public key "
        f"{public_path} (give it to whoever verifies)"
    )


@click.command("export")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(FORMATS),
    default="jsonl",
    show_default=True,
    help="jsonl: one JSON object per line; csv: fixed columns, `content` as JSON text.",
)
@click.option(
    "--since", metavar="TIME", help="From the first entry at or after TIME (RFC 3339 or a date)."
)
@click.option("--until", metavar="TIME", help="Up to the first entry at or after TIME.")
@click.option("--threshold", metavar="ID", help="Only this threshold's entries.")
@click.option(
    "--kind",
    "kinds",
    multiple=True,
    metavar="KIND",
    help="Only entries of this kind (transition, catalog, assessment, ...); repeatable.",
)
@click.option("--output", "-o", metavar="FILE", help="Write to FILE (default: stdout).")
@click.option(
    "--sign",
    "key_file",
    metavar="KEYFILE",
    help="Sign into FILE.sig with KEYFILE: an Ed25519 private key (PEM, from `warden log keygen`; "
    f"checked with its public key), or any other file as an HMAC-SHA256 key (≥ {MIN_KEY_BYTES} "
    "bytes). Needs --output.",
)
@config_option
@pass_ctx
@user_errors
def export(
    ctx: Context,
    fmt: str,
    since: str | None,
    until: str | None,
    threshold: str | None,
    kinds: tuple[str, ...],
    output: str | None,
    key_file: str | None,
) -> None:
    """Export the trigger log, oldest first: every entry's seq, at, kind, threshold,
    threshold_version, subject, from, to, its whole canonical content, prev_hash and hash.

    Line 1 is a header (JSON; in CSV after "# ") naming the filters and the log's head. An
    unfiltered export verifies as the whole hash chain; --since/--until keep one run of the
    chain, whose links all verify; with --threshold or --kind each entry's hash still verifies
    against its content and prev_hash, but the chain has gaps. `warden log verify-export`
    checks an export, and its signature."""
    from warden.core.clock import system_clock
    from warden.triggerlog import export as logexport
    from warden.triggerlog.export import Filters

    filters = Filters(
        None if since is None else parse_time(since, "--since"),
        None if until is None else parse_time(until, "--until"),
        threshold,
        tuple(sorted(set(kinds))),
    )
    if filters.since and filters.until and filters.until <= filters.since:
        raise UsageError("--until must be later than --since")
    if key_file is not None and output is None:
        raise UsageError("--sign needs --output FILE (the signature is written to FILE.sig)")
    key = read_key(Path(key_file), sign=True) if key_file is not None else None
    store = ctx.store()
    origin = ctx.settings().log_origin

    def checkpoint(size: int) -> str:
        from warden.triggerlog import checkpoint as cps

        signer = key if isinstance(key, Ed25519Key) else None
        return cps.signed(cps.at(conn, origin, size), signer).show()

    try:
        if threshold is not None:
            known_threshold(
                threshold, _catalog_ids(ctx) | store_threshold_ids(store), "--threshold"
            )
        with store.read() as conn:
            if output is None:
                sys.stdout.flush()
                stdout = sys.stdout.buffer
                summary = logexport.export(conn, fmt, filters, system_clock(), stdout, checkpoint)
                stdout.flush()
            else:
                target, partial = Path(output), Path(f"{output}.partial")
                try:
                    with partial.open("wb") as out:
                        summary = logexport.export(
                            conn, fmt, filters, system_clock(), out, checkpoint
                        )
                    partial.replace(target)
                except OSError as exc:
                    raise UsageError(f"--output {output}: {exc.strerror or exc}") from exc
                finally:
                    partial.unlink(missing_ok=True)  # gone after the replace, unless it failed
    finally:
        store.dispose()
    span = f" (seq {summary.first_seq} to {summary.last_seq})" if summary.entries else ""
    said = (
        f"exported {summary.entries} of {summary.log_head[0]} entries{span} as {fmt} to "
        f"{output or 'stdout'}"
    )
    if output is not None:
        sig_path = Path(f"{output}.sig")
        if key is not None:
            doc = logexport.signature(key, summary, system_clock())
            try:
                sig_path.write_text(json.dumps(doc, indent=2, sort_keys=True) + "\n")
            except OSError as exc:
                raise UsageError(f"{sig_path}: {exc.strerror or exc}") from exc
            said += f"; signed: {sig_path} ({doc['alg']}, key id {doc['key_id']})"
        elif sig_path.exists():
            sig_path.unlink()  # it signed the file just replaced
            said += f"; removed {sig_path}, left by an earlier export"
    click.echo(said, err=True)


def _catalog_ids(ctx: Context) -> set[str]:
    """The configured catalog's threshold ids; none when it does not load (the export reads
    only the store, and works while the catalog is broken)."""
    from warden.catalog.thresholds import load_catalog
    from warden.core.errors import ProblemsError

    settings = ctx.settings()
    try:
        catalog = load_catalog(settings.catalog_paths(), settings.registry_paths())
    except ProblemsError:
        return set()
    return {t.id for t in catalog.thresholds}


@click.command("verify-export")
@click.argument("file")
@click.option(
    "--key",
    "key_file",
    metavar="KEYFILE",
    help="Check the signature itself with it: for ed25519 the public key (KEYFILE.pub of "
    "`warden log keygen`), for hmac-sha256 the HMAC key.",
)
@click.option("--signature", "sig_file", metavar="SIGFILE", help="Default: FILE.sig.")
@click.option(
    "--allow-unsigned",
    is_flag=True,
    help="Exit 0 for an export whose signature is absent or not checked (no --key): it then "
    "proves only that the file is consistent with itself.",
)
@user_errors
def verify_export(
    file: str, key_file: str | None, sig_file: str | None, allow_unsigned: bool
) -> None:
    """Check an export of `warden log export`: each entry's hash against its content and
    prev_hash, the columns against the content, the order, the links between consecutive
    entries, no gaps and no missing end when the export is unfiltered, and FILE.sig when
    present (the signature itself with --key: an ed25519 one with only the public key). Needs no
    database.

    Without a signature checked with --key, the hashes prove only that the file is consistent
    with itself (whoever edits it can recompute them): exit 1 unless --allow-unsigned.

    Exit 0 ok; 1 naming the first problem (an edited entry, a broken chain at seq N, bytes
    changed after signing, a wrong key, no signature checked); 2 unreadable FILE or key, an HMAC
    key under 32 bytes, a PEM key file that is not an Ed25519 key."""
    from warden.triggerlog import export as logexport
    from warden.triggerlog.export import ExportError

    try:
        data = Path(file).read_bytes()
    except OSError as exc:
        raise UsageError(f"{file}: {exc.strerror or exc}") from exc
    key = read_key(Path(key_file), sign=False) if key_file is not None else None
    sig_path = Path(sig_file or f"{file}.sig")
    sig = None
    try:
        sig = sig_path.read_bytes()
    except FileNotFoundError as exc:
        if sig_file is not None:
            raise UsageError(f"--signature {sig_file}: not found") from exc
        if key is not None:
            raise ExportError(f"{file}: not signed: {sig_path} not found") from exc
    except OSError as exc:
        raise UsageError(f"{sig_path}: {exc.strerror or exc}") from exc
    try:
        v = logexport.verify_export(data, sig, key)
    except ExportError as exc:
        raise ExportError(f"{file}: {exc}") from exc
    span = f" (seq {v.first_seq} to {v.last_seq})" if v.entries else ""
    scope = v.filters.scope
    if scope == "complete":
        what = f"the whole chain verifies up to the log head {v.log_head[1]}"
    elif scope == "contiguous":
        what = f"every entry's hash and the {v.links} links between them verify"
    else:
        f = v.filters
        shown = [f"threshold={f.threshold}"] if f.threshold is not None else []
        shown += [f"kind={','.join(f.kinds)}"] if f.kinds else []
        shown += [f"{k}={t.isoformat()}" for k, t in (("since", f.since), ("until", f.until)) if t]
        what = (
            f"filtered ({' '.join(shown)}): every entry's hash verifies against its content and "
            f"prev_hash; {v.links} links between consecutive entries verify; the chain is not "
            "followed across the gaps"
        )
    if key is None:  # the signature, if any, was not checked: nothing proves who wrote it
        proves = (
            f"{v.signature}: the hashes prove only that the file is consistent with itself, not "
            "that warden wrote it (whoever edits it can recompute them)"
        )
        if not allow_unsigned:
            raise ExportError(
                f"{file}: {v.entries} entries{span} are consistent, but {proves}; check a "
                "signed export with --key (`warden log export --sign KEYFILE`), or give "
                "--allow-unsigned to accept this"
            )
        click.echo(f"ok (unsigned): {file}: {v.entries} entries{span}, {v.fmt}; {what}; {proves}")
        return
    click.echo(f"ok: {file}: {v.entries} entries{span}, {v.fmt}; {what}; {v.signature}")


def register(main: click.Group) -> None:
    """Add `export`, `verify-export`, `keygen` and the Merkle-tree commands (verify,
    checkpoint, prove, consistency, verify-proof) to the `log` group of `main`."""
    group = main.commands["log"]
    if not isinstance(group, click.Group):
        raise TypeError("warden's `log` command is not a group")
    for command in (export, verify_export, keygen):
        group.add_command(command)
    from warden.interfaces.cli import logproof

    logproof.register(group)
