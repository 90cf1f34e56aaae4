"""C2SP signed notes (https://c2sp.org/signed-note; golang.org/x/mod/sumdb/note) with Ed25519.

A note is UTF-8 text ending in a newline, then a blank line, then signature lines
"— NAME BASE64\\n" (an em dash U+2014 and a space first), BASE64 being the 4-byte key hash then
the 64-byte Ed25519 signature of the text. The key hash is the first 4 bytes of
SHA-256(NAME || 0x0A || 0x01 || 32-byte public key); a verifier key, as Go's tools spell it, is
"NAME+HASH8HEX+BASE64(0x01 || public key)". Signatures by other keys are ignored, as the spec
says, so a witness can add its cosignature to warden's checkpoint.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from dataclasses import dataclass

from warden.core.errors import WardenError

ALG_ED25519 = b"\x01"
DASH = "\u2014 "
MAX_SIGNATURES = 100
_NAME = re.compile(r"[^\s+]+")


class NoteError(WardenError):
    """A signed note that is malformed or whose signature does not verify (exit 1)."""


@dataclass(frozen=True)
class Verifier:
    name: str
    public: bytes  # the raw 32-byte Ed25519 public key

    @property
    def key_hash(self) -> bytes:
        return key_hash(self.name, self.public)

    @property
    def vkey(self) -> str:
        pub = base64.b64encode(ALG_ED25519 + self.public).decode()
        return f"{self.name}+{self.key_hash.hex()}+{pub}"

    def verify(self, message: bytes, signature: bytes) -> bool:
        from cryptography.exceptions import InvalidSignature
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

        try:
            Ed25519PublicKey.from_public_bytes(self.public).verify(signature, message)
        except InvalidSignature:
            return False
        return True


def key_hash(name: str, public: bytes) -> bytes:
    return hashlib.sha256(name.encode() + b"\n" + ALG_ED25519 + public).digest()[:4]


def check_name(name: str) -> str:
    if not _NAME.fullmatch(name):
        raise NoteError(f"key name {name!r}: must be non-empty, without spaces or '+'")
    return name


def parse_vkey(text: str, where: str) -> Verifier:
    """A verifier key "NAME+HASH+BASE64(0x01 || key)", checked against its own hash."""
    parts = text.strip().split("+", 2)  # the base64 key may hold "+"
    if len(parts) != 3:
        raise NoteError(f"{where}: not a verifier key (NAME+HASH+KEY)")
    name, hash_hex, b64 = parts
    try:
        raw = base64.b64decode(b64, validate=True)
        wanted = bytes.fromhex(hash_hex)
    except (binascii.Error, ValueError) as exc:
        raise NoteError(f"{where}: a verifier key with a malformed hash or key") from exc
    if len(raw) != 33 or raw[:1] != ALG_ED25519 or len(wanted) != 4:
        raise NoteError(f"{where}: not an Ed25519 verifier key")
    v = Verifier(check_name(name), raw[1:])
    if v.key_hash != wanted:
        raise NoteError(f"{where}: the verifier key's hash does not match its name and key")
    return v


def _check_text(text: str) -> None:
    if not text.endswith("\n"):
        raise NoteError("a note's text must end with a newline")
    if any(ord(c) < 0x20 and c != "\n" for c in text):
        raise NoteError("a note's text must not hold control characters")


def sign(text: str, name: str, private: object) -> str:
    """`text` signed by `name`'s Ed25519 key (`private`, a cryptography
    Ed25519PrivateKey)."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    assert isinstance(private, Ed25519PrivateKey)
    _check_text(text)
    check_name(name)
    public = private.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    sig = private.sign(text.encode())
    blob = base64.b64encode(key_hash(name, public) + sig).decode()
    return f"{text}\n{DASH}{name} {blob}\n"


def split(note: str) -> tuple[str, list[tuple[str, bytes]]]:
    """The text and the (name, key hash + signature) of each signature line."""
    cut = note.rfind("\n\n")
    if cut < 0 or not note.endswith("\n"):
        raise NoteError("not a signed note: no blank line before signature lines")
    text, lines = note[: cut + 1], note[cut + 2 : -1].split("\n")
    _check_text(text)
    if len(lines) > MAX_SIGNATURES:
        raise NoteError(f"more than {MAX_SIGNATURES} signatures")
    sigs = []
    for n, line in enumerate(lines, 1):
        if not line.startswith(DASH):
            raise NoteError(f"signature line {n}: does not start with '— '")
        name, _, b64 = line[len(DASH) :].partition(" ")
        try:
            blob = base64.b64decode(b64, validate=True)
        except binascii.Error as exc:
            raise NoteError(f"signature line {n}: not base64") from exc
        if not _NAME.fullmatch(name) or len(blob) < 5:
            raise NoteError(f"signature line {n}: malformed")
        sigs.append((name, blob))
    return text, sigs


def open_note(note: str, verifier: Verifier) -> str:
    """The text of `note` once `verifier`'s signature on it checks; NoteError saying why not."""
    text, sigs = split(note)
    mine = [b for name, b in sigs if name == verifier.name and b[:4] == verifier.key_hash]
    if not mine:
        named = sorted({f"{name}+{b[:4].hex()}" for name, b in sigs})
        raise NoteError(
            f"no signature by key {verifier.name}+{verifier.key_hash.hex()} (signed by: "
            f"{', '.join(named)}): a wrong key, or a note from another log"
        )
    if not all(verifier.verify(text.encode(), b[4:]) for b in mine):
        raise NoteError(
            f"the signature by {verifier.name}+{verifier.key_hash.hex()} does not verify: the "
            "note's text was changed after signing"
        )
    return text
