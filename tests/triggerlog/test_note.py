"""C2SP signed notes: the published example of golang.org/x/mod/sumdb/note reproduced byte for
byte, round trips with a key of `warden log keygen`, a wrong key or a changed byte refused."""

from __future__ import annotations

import base64

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from warden.triggerlog.checkpoint import verifier
from warden.triggerlog.keys import Ed25519Key, load_key, new_key_pair
from warden.triggerlog.note import NoteError, open_note, parse_vkey, sign

# golang.org/x/mod/sumdb/note, note_test.go (also in its package documentation).
GO_SKEY = "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz"
GO_VKEY = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
GO_TEXT = (
    "If you think cryptography is the answer to your problem,\n"
    "then you don't know what your problem is.\n"
)
GO_NOTE = (
    GO_TEXT + "\n— PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgK"
    "vqfqdngotpRZb6KE6RyyBwJnAM=\n"
)


def test_the_published_go_note_is_reproduced_and_opens() -> None:
    seed = base64.b64decode(GO_SKEY.split("+", 4)[4])[1:]
    assert sign(GO_TEXT, "PeterNeumann", Ed25519PrivateKey.from_private_bytes(seed)) == GO_NOTE
    v = parse_vkey(GO_VKEY, "vkey")
    assert v.vkey == GO_VKEY
    assert open_note(GO_NOTE, v) == GO_TEXT


def _key() -> Ed25519Key:
    private, public, _ = new_key_pair()
    key = load_key(private, "key")
    assert isinstance(key, Ed25519Key)
    assert load_key(public, "pub").id == key.id
    return key


def test_a_note_signed_with_a_keygen_key_round_trips_and_refuses_changes() -> None:
    key = _key()
    assert key.private is not None
    text = "warden.test/log\n12\n" + base64.b64encode(bytes(32)).decode() + "\n"
    note = sign(text, "warden.test/log", key.private)
    v = verifier(key, "warden.test/log")
    assert open_note(note, v) == text
    assert open_note(note, parse_vkey(v.vkey, "vkey")) == text  # as Go's tools name the key
    for i in range(len(text)):  # every changed byte of the text
        changed = note[:i] + ("x" if note[i] != "x" else "y") + note[i + 1 :]
        if changed[i] == "\n" or note[i] == "\n":
            continue
        with pytest.raises(NoteError):
            open_note(changed, v)
    with pytest.raises(NoteError, match="does not verify"):  # same key name and hash, new text
        open_note(note.replace("\n12\n", "\n13\n"), v)
    with pytest.raises(NoteError, match="no signature by key"):
        open_note(note, verifier(_key(), "warden.test/log"))
    with pytest.raises(NoteError, match="no signature by key"):
        open_note(note, verifier(key, "other.log"))
    cut = note.rstrip("\n")[:-6] + "\n"
    with pytest.raises(NoteError):
        open_note(cut, v)
    with pytest.raises(NoteError, match="blank line"):
        open_note(text, v)


def test_a_vkey_whose_hash_does_not_match_is_refused() -> None:
    with pytest.raises(NoteError, match="hash does not match"):
        parse_vkey(GO_VKEY.replace("c74f20a3", "c74f20a4"), "vkey")
    with pytest.raises(NoteError, match="not a verifier key"):
        parse_vkey("PeterNeumann", "vkey")
