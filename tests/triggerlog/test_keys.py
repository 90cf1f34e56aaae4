"""`warden log keygen` and Ed25519-signed exports: signed with the private key, checked with the
public key alone, on real SQLite and PostgreSQL stores (tests/support/exportlogs.py)."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from tests.support.exportlogs import (
    Log,
    build_log,
    edit,
    export,
    fails,
    key_file,
    verify,
    warden,
)
from warden.core.chain import canonical


@pytest.fixture
def log(tmp_path: Path, db_url: str) -> Log:
    return build_log(tmp_path, db_url)


# Ed25519: `warden log keygen`, signing with the private key, checking with the public key only.


def keygen(folder: Path, name: str = "export.key") -> tuple[Path, Path, str]:
    """A key pair made by `warden log keygen`: the private key file, the public one, the id."""
    r = warden("log", "keygen", folder / name)
    assert r.exit_code == 0, r.output
    kid = r.stdout.split()[2].rstrip(":")
    return folder / name, folder / f"{name}.pub", kid


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.mark.parametrize("umask", [0o000, 0o077])
def test_keygen_writes_a_private_key_for_its_owner_and_a_public_key(
    tmp_path: Path, umask: int
) -> None:
    old = os.umask(umask)  # 0: a file created wide and narrowed later would be 0644 for a moment
    try:
        private, public, kid = keygen(tmp_path)
    finally:
        os.umask(old)
    assert (mode(private), mode(public)) == (0o600, 0o644)
    assert private.read_bytes().startswith(b"-----BEGIN PRIVATE KEY-----\n")  # PKCS#8
    assert public.read_bytes().startswith(b"-----BEGIN PUBLIC KEY-----\n")  # SubjectPublicKeyInfo
    key = serialization.load_pem_private_key(private.read_bytes(), None)
    pub = serialization.load_pem_public_key(public.read_bytes())
    assert isinstance(key, ed25519.Ed25519PrivateKey)
    assert isinstance(pub, ed25519.Ed25519PublicKey)
    raw = pub.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    assert (
        key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        == raw
    )
    assert kid == hashlib.sha256(raw).hexdigest()[:16]
    assert keygen(tmp_path, "second.key")[2] != kid


def test_keygen_never_overwrites(tmp_path: Path) -> None:
    private, public, _ = keygen(tmp_path)
    before = (private.read_bytes(), public.read_bytes())
    r = warden("log", "keygen", private)
    assert r.exit_code == 2 and f"{private}: already exists" in r.stderr, r.output
    assert (private.read_bytes(), public.read_bytes()) == before
    public.rename(tmp_path / "lone.key.pub")  # only KEYFILE.pub there: refused too, nothing made
    r = warden("log", "keygen", tmp_path / "lone.key")
    assert r.exit_code == 2 and "lone.key.pub: already exists" in r.stderr, r.output
    assert not (tmp_path / "lone.key").exists()
    (tmp_path / "link.key").symlink_to(tmp_path / "nowhere")  # a dangling link is not followed
    assert warden("log", "keygen", tmp_path / "link.key").exit_code == 2
    assert not (tmp_path / "nowhere").exists()
    r = warden("log", "keygen", tmp_path / "no" / "dir.key")
    assert r.exit_code == 2 and "No such file" in r.stderr and "Traceback" not in r.output


@pytest.mark.parametrize("fmt", ["jsonl", "csv"])
def test_ed25519_signature_verifies_with_the_public_key_alone(log: Log, fmt: str) -> None:
    private, public, kid = keygen(log.folder)
    path = export(log, f"log.{fmt}", "--format", fmt, "--sign", private)
    sig = json.loads(Path(f"{path}.sig").read_text())
    assert (sig["alg"], sig["key_id"]) == ("ed25519", kid)
    assert sig["export_sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
    assert (sig["entries"], sig["first_seq"], sig["last_seq"]) == (7, 1, 7)
    # what a reader without warden checks: standard padded base64 of an Ed25519 signature over
    # the canonical JSON of the other fields
    raw = base64.b64decode(sig["signature"], validate=True)
    assert len(raw) == 64 and base64.b64encode(raw).decode() == sig["signature"]
    signed = canonical({k: v for k, v in sig.items() if k != "signature"}).encode()
    pub = serialization.load_pem_public_key(public.read_bytes())
    assert isinstance(pub, ed25519.Ed25519PublicKey)
    pub.verify(raw, signed)  # raises if not
    # governance staff receive FILE, FILE.sig and KEYFILE.pub; the private key stays behind
    away = log.folder / "kept"
    away.mkdir()
    private.rename(away / private.name)
    r = verify(path, "--key", public)
    assert r.exit_code == 0, r.output
    assert f"signature valid (ed25519, key id {kid}, made {sig['created_at']})" in r.stdout
    assert "readable by others" not in r.stderr  # a public key is meant to be read
    r = verify(path, "--key", away / private.name)  # the private key verifies too
    assert r.exit_code == 0 and "signature valid (ed25519" in r.stdout, r.output
    r = verify(path)  # a signature not checked proves nothing: exit 1 unless allowed
    assert r.exit_code == 1 and "signature present but not checked" in r.stderr
    r = verify(path, "--allow-unsigned")
    assert r.exit_code == 0 and f"signature present but not checked (give --key): key id {kid}" in (
        r.stdout
    )


def test_tampering_with_an_ed25519_signed_export(log: Log) -> None:
    private, public, kid = keygen(log.folder)
    path = export(log, "log.jsonl", "--sign", private)
    sig_path = Path(f"{path}.sig")
    original, doc = path.read_bytes(), json.loads(sig_path.read_text())
    edit(path, 0, b'"exported_at":"', b'"exported_at":" ')  # the export's bytes
    fails(path, "the export's bytes differ from those signed", "--key", public)
    path.write_bytes(original)
    assert verify(path, "--key", public).exit_code == 0
    # a field of the signature file: each is signed
    sig_path.write_text(json.dumps({**doc, "created_at": "2020-01-01T00:00:00+00:00"}))
    fails(path, "signature does not match: the signature file was altered", "--key", public)
    sig_path.write_text(json.dumps({**doc, "entries": 6}))
    fails(path, "signature file: describes entries (6, 1, 7", "--key", public)
    sig_path.write_text(json.dumps({**doc, "key_id": "0" * 16}))
    fails(path, f"signed with key id {'0' * 16}, --key has id {kid}", "--key", public)
    # the signature itself: another valid signature, one bit flipped, the same bytes spelt
    # otherwise (padding bits set), not base64, cut short, unpadded, not text
    other = ed25519.Ed25519PrivateKey.generate().sign(b"something else")
    raw = bytearray(base64.b64decode(doc["signature"]))
    raw[10] ^= 1
    digits = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
    last = digits.index(doc["signature"][-3])  # 64 bytes end "Xy==": y's low 4 bits are padding
    respelt = doc["signature"][:-3] + digits[last ^ 1] + "=="
    assert base64.b64decode(respelt) == base64.b64decode(doc["signature"])
    for bad in [
        base64.b64encode(other).decode(),
        base64.b64encode(bytes(raw)).decode(),
        respelt,
        "not base64!",
        "é" * 88,
        doc["signature"][:-8],
        doc["signature"].rstrip("="),
        17,
    ]:
        sig_path.write_text(json.dumps({**doc, "signature": bad}))
        fails(path, "signature does not match: the signature file was altered", "--key", public)
    sig_path.write_text(json.dumps(doc))
    assert verify(path, "--key", public).exit_code == 0


def test_an_ed25519_signature_and_the_wrong_key(log: Log) -> None:
    private, public, kid = keygen(log.folder)
    _, other_public, other_kid = keygen(log.folder, "other.key")
    path = export(log, "log.jsonl", "--sign", private)
    fails(
        path,
        f"wrong key: the export was signed with key id {kid}, --key has id {other_kid}",
        "--key",
        other_public,
    )
    hmac_key = key_file(log.folder, "hmac.key")
    fails(path, "wrong kind of key: the export was signed with ed25519", "--key", hmac_key)
    fails(path, "give the Ed25519 public key (KEYFILE.pub", "--key", hmac_key)
    hmac_path = export(log, "hmac.jsonl", "--sign", hmac_key)
    fails(hmac_path, "wrong kind of key: the export was signed with hmac-sha256", "--key", public)
    fails(hmac_path, "--key is an Ed25519 key", "--key", public)
    assert verify(hmac_path, "--key", hmac_key).exit_code == 0  # HMAC as before


def pem_files(folder: Path) -> dict[str, Path]:
    """Key files warden must refuse to sign with: other algorithms, public, encrypted."""
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    ec_key = ec.generate_private_key(ec.SECP256R1())
    ed_key = ed25519.Ed25519PrivateKey.generate()
    pem, pkcs8 = serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8
    spki = serialization.PublicFormat.SubjectPublicKeyInfo
    plain = serialization.NoEncryption()
    files = {
        "rsa": rsa_key.private_bytes(pem, serialization.PrivateFormat.TraditionalOpenSSL, plain),
        "rsa.pub": rsa_key.public_key().public_bytes(pem, spki),
        "ec": ec_key.private_bytes(pem, pkcs8, plain),
        "ed.pub": ed_key.public_key().public_bytes(pem, spki),
        "ed.enc": ed_key.private_bytes(
            pem, pkcs8, serialization.BestAvailableEncryption(b"passphrase")
        ),
        "cert": b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
        "broken": b"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
    }
    for name, data in files.items():
        (folder / name).write_bytes(data)
        (folder / name).chmod(0o600)
    return {name: folder / name for name in files}


def test_a_pem_key_that_is_not_an_ed25519_private_key_cannot_sign(log: Log) -> None:
    files = pem_files(log.folder)
    out = log.folder / "log.jsonl"
    expected = {
        "rsa": "an RSA private key, not an Ed25519 key",
        "rsa.pub": "an RSA public key, not an Ed25519 key",
        "ec": "an EC (secp256r1) private key, not an Ed25519 key",
        "ed.pub": "an Ed25519 public key, which cannot sign: --sign needs the private key",
        "ed.enc": "an encrypted private key; warden needs it unencrypted",
        "cert": "a PEM 'CERTIFICATE', not a key",
        "broken": "a PEM 'PRIVATE KEY' that is not a readable key",
    }
    for name, message in expected.items():
        r = warden("log", "export", "-c", log.config, "-o", out, "--sign", files[name])
        assert r.exit_code == 2, (name, r.output)
        assert f"warden: error: key file {files[name]}: {message}" in r.stderr, (name, r.stderr)
        assert "Traceback" not in r.output and not out.exists()
    path = export(log, "signed.jsonl", "--sign", keygen(log.folder)[0])
    r = verify(path, "--key", files["rsa.pub"])  # verifying with one is a usage error too
    assert r.exit_code == 2 and "an RSA public key, not an Ed25519 key" in r.stderr, r.output


def test_a_private_key_readable_by_others_is_used_with_a_warning(log: Log) -> None:
    private, public, _ = keygen(log.folder)
    private.chmod(0o644)
    r = warden("log", "export", "-c", log.config, "-o", log.folder / "e.jsonl", "--sign", private)
    assert r.exit_code == 0 and f"key file {private} is readable by others" in r.stderr
    assert "(ed25519, key id" in r.stderr
    assert verify(log.folder / "e.jsonl", "--key", public).exit_code == 0


def test_the_cli_imports_cryptography_only_when_a_key_needs_it() -> None:
    code = "import sys, warden.interfaces.cli.main; print('cryptography' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
