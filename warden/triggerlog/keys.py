"""Signing keys for trigger-log exports (`warden.triggerlog.export`): HMAC-SHA256 keys (a key
file's bytes, exactly) and Ed25519 keys (PEM files, as `warden log keygen` writes them).

- `load_key`: the key in a key file's bytes. A file with a PEM `BEGIN` line must hold an Ed25519
  key, private (PKCS#8) or public (SubjectPublicKeyInfo); anything else is an HMAC key.
- Each key has an `alg`, an `id` (the first 16 hex digits of SHA-256 of the HMAC key, or of the
  raw 32-byte Ed25519 public key), `can_sign`, `sign(message)` and `verify(message, signature)`.
- `new_key_pair`: a new Ed25519 key pair as PEM, and its id.

`cryptography` is imported only where an Ed25519 key is made or used, so `warden --help` and
HMAC-only use never load it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

from warden.core.errors import UsageError

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import (
        Ed25519PrivateKey,
        Ed25519PublicKey,
    )

HMAC_SHA256 = "hmac-sha256"
ED25519 = "ed25519"
ALGS = (ED25519, HMAC_SHA256)
MIN_KEY_BYTES = 32


def key_id(key: bytes) -> str:
    return hashlib.sha256(key).hexdigest()[:16]


@dataclass(frozen=True)
class HmacKey:
    """An HMAC-SHA256 key: a key file's bytes, exactly."""

    secret: bytes
    alg: ClassVar[str] = HMAC_SHA256
    can_sign: ClassVar[bool] = True

    @property
    def id(self) -> str:
        return key_id(self.secret)

    def sign(self, message: bytes) -> str:
        return hmac.new(self.secret, message, hashlib.sha256).hexdigest()

    def verify(self, message: bytes, signature: object) -> bool:
        return hmac.compare_digest(str(signature).encode(), self.sign(message).encode())


@dataclass(frozen=True)
class Ed25519Key:
    """An Ed25519 key from a PEM file: the public key, and the private one if the file held it."""

    public: Ed25519PublicKey
    private: Ed25519PrivateKey | None = None
    alg: ClassVar[str] = ED25519

    @property
    def can_sign(self) -> bool:
        return self.private is not None

    @property
    def id(self) -> str:
        from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

        return key_id(self.public.public_bytes(Encoding.Raw, PublicFormat.Raw))

    def sign(self, message: bytes) -> str:
        if self.private is None:
            raise ValueError("an Ed25519 public key cannot sign")
        return base64.b64encode(self.private.sign(message)).decode("ascii")

    def verify(self, message: bytes, signature: object) -> bool:
        from cryptography.exceptions import InvalidSignature

        try:  # only the one encoding: another spelling of the same bytes is an alteration too
            raw = base64.b64decode(str(signature), validate=True)
            if base64.b64encode(raw).decode("ascii") != signature:
                return False
            self.public.verify(raw, message)
        except (ValueError, InvalidSignature):  # binascii.Error is a ValueError
            return False
        return True


Key = HmacKey | Ed25519Key
_PEM = re.compile(rb"^-----BEGIN ([^\r\n-]*)-----\r?$", re.MULTILINE)


def load_key(data: bytes, where: str) -> Key:
    """The key in a key file's bytes: a PEM file must hold an Ed25519 key, private (PKCS#8) or
    public (SubjectPublicKeyInfo); anything else is an HMAC key. Raises UsageError naming
    `where` and what the PEM holds instead."""
    found = _PEM.search(data)
    if found is None:
        return HmacKey(data)
    from cryptography.exceptions import UnsupportedAlgorithm
    from cryptography.hazmat.primitives.asymmetric.ed25519 import (
        Ed25519PrivateKey,
        Ed25519PublicKey,
    )
    from cryptography.hazmat.primitives.serialization import (
        load_pem_private_key,
        load_pem_public_key,
    )

    label = found.group(1).decode("ascii", "replace")
    private = "PRIVATE KEY" in label
    if not private and "PUBLIC KEY" not in label:
        raise UsageError(f"{where}: a PEM {label!r}, not a key (make one: warden log keygen)")
    try:
        key = load_pem_private_key(data, None) if private else load_pem_public_key(data)
    except TypeError as exc:  # cryptography: "Password was not given but private key is ..."
        raise UsageError(
            f"{where}: an encrypted private key; warden needs it unencrypted (PKCS#8 PEM, as "
            "warden log keygen writes it)"
        ) from exc
    except (ValueError, UnsupportedAlgorithm) as exc:
        raise UsageError(f"{where}: a PEM {label!r} that is not a readable key ({exc})") from exc
    if isinstance(key, Ed25519PrivateKey):
        return Ed25519Key(key.public_key(), key)
    if isinstance(key, Ed25519PublicKey):
        return Ed25519Key(key)
    raise UsageError(f"{where}: {_describe(key)}, not an Ed25519 key (make one: warden log keygen)")


def _describe(key: object) -> str:
    """'an RSA private key', 'an EC (secp256r1) public key', ..."""
    name = type(key).__name__
    found = re.fullmatch(r"(\w+?)(Private|Public)Key", name)
    if found is None:
        return f"a {name}"
    algo = {"EllipticCurve": "EC", "RSA": "RSA", "DSA": "DSA"}.get(found[1], found[1])
    curve = getattr(key, "curve", None)
    if curve is not None:
        algo += f" ({curve.name})"
    article = "an" if algo[0] in "AEFHILMNORSX" else "a"
    return f"{article} {algo} {found[2].lower()} key"


def new_key_pair() -> tuple[bytes, bytes, str]:
    """A new Ed25519 key pair: the private key as PKCS#8 PEM, the public key as
    SubjectPublicKeyInfo PEM, and its key id."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    from cryptography.hazmat.primitives.serialization import (
        Encoding,
        NoEncryption,
        PrivateFormat,
        PublicFormat,
    )

    private = Ed25519PrivateKey.generate()
    public = private.public_key()
    return (
        private.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption()),
        public.public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo),
        Ed25519Key(public).id,
    )
