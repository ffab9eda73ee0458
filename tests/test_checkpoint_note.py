"""C2SP tlog-checkpoint / signed-note encoding, against published and worked vectors."""

from __future__ import annotations

import base64

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from govctl.errors import IntegrityError
from govctl.ledger import checkpoint as cpm
from govctl.signing.keys import SigningKey

TEXT = (b"If you think cryptography is the answer to your problem,\n"
        b"then you don't know what your problem is.\n")


def _key(name, seed_hex):
    return SigningKey(name, Ed25519PrivateKey.from_private_bytes(bytes.fromhex(seed_hex)))


def test_signed_note_matches_go_sumdb_note_TestSign():
    peter = _key("PeterNeumann",
                 "810a1402d5146c8d84f2443330f54080ebf98ee17d9c74f6252fc5d5c7283173")
    want = TEXT + "\n— PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n".encode()  # noqa: E501
    assert cpm.sign_note(TEXT, "PeterNeumann", peter) == want
    assert cpm.note_key_hash("PeterNeumann", peter.public_raw).hex() == "c74f20a3"


def test_checkpoint_round_trip_and_worked_vector():
    key = _key("k", "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f")
    root = bytes.fromhex("5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328")
    cp = cpm.Checkpoint("example.com/govctl-test-log", 8, root)
    data = cpm.sign(cp, key)
    assert data == ("example.com/govctl-test-log\n8\nXcnaeacGWamtVZy3Ad7ZoqudgjqtL0lgz+Nw7/RgQyg=\n\n"
                    "— example.com/govctl-test-log d+Jrl6RKxM3R+0SJ3rONQgEszsXVF23Cu9ZiLUpJBLKvuI"
                    "GH0jaFf0j9dabs6rWw+yoaP+xXd3dRlAHNMw5HYo7RXwI=\n").encode()
    got, signer = cpm.verify(data, {"ops": key.public_raw})
    assert (got.size, got.root, signer) == (8, root, "ops")
    tampered = data.replace(b"\n8\n", b"\n9\n")
    with pytest.raises(IntegrityError, match="does not verify"):
        cpm.verify(tampered, {"ops": key.public_raw})
    other = _key("o", "11" * 32)
    with pytest.raises(IntegrityError, match="no signature by a key"):
        cpm.verify(data, {"other": other.public_raw})


@pytest.mark.parametrize("bad", [b"x\n1\n", b"o\n01\n" + base64.b64encode(b"\0" * 32) + b"\n\n"
                                 b"\xe2\x80\x94 o AAAAAAA=\n", b"\x01o\n1\nAA==\n\n\xe2\x80\x94 o AAAAAAA=\n"])
def test_malformed_checkpoints_are_rejected(bad):
    with pytest.raises(IntegrityError):
        cpm.parse(bad)
