"""The ledger head as a C2SP ``tlog-checkpoint`` signed note, tracked in git.

Format (c2sp.org/tlog-checkpoint over c2sp.org/signed-note)::

    <origin>\\n<tree size>\\n<base64 root>\\n
    \\n
    — <key name> <base64(4-byte key hash || Ed25519 signature)>\\n

The key hash is ``SHA-256(name || 0x0A || 0x01 || public key)[:4]``. govctl names the log
``govctl.ledger/<ledger id>`` and uses that as the key name too; which trusted signer
signed is found by the key hash. ``ledger.checkpoint`` at the governed root carries the
newest head into every clone, and a merge driver keeps the larger of two consistent heads.
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass, field
from pathlib import Path

from govctl.errors import IntegrityError
from govctl.signing.keys import SigningKey, verify_signature

FILE = "ledger.checkpoint"
SIG_PREFIX = "\u2014 "  # EM DASH, space
ORIGIN_PREFIX = "govctl.ledger/"


def note_key_hash(name: str, public_raw: bytes) -> bytes:
    return hashlib.sha256(name.encode() + b"\n\x01" + public_raw).digest()[:4]


def origin_for(ledger_id: str) -> str:
    return ORIGIN_PREFIX + ledger_id


@dataclass
class Checkpoint:
    origin: str
    size: int
    root: bytes
    extensions: list[str] = field(default_factory=list)
    signatures: list[tuple[str, bytes, bytes]] = field(default_factory=list)  # name, hash, sig

    def text(self) -> bytes:
        lines = [self.origin, str(self.size), base64.b64encode(self.root).decode(),
                 *self.extensions]
        return ("\n".join(lines) + "\n").encode()

    def to_json(self) -> dict[str, object]:
        return {"origin": self.origin, "tree_size": self.size, "root": self.root.hex(),
                "key_hashes": [h.hex() for _, h, _ in self.signatures]}


def sign_note(text: bytes, name: str, key: SigningKey) -> bytes:
    if not text.endswith(b"\n") or " " in name or "+" in name or not name:
        raise ValueError("malformed note")
    blob = note_key_hash(name, key.public_raw) + key.sign(text)
    return text + b"\n" + f"{SIG_PREFIX}{name} {base64.b64encode(blob).decode()}\n".encode()


def sign(cp: Checkpoint, key: SigningKey) -> bytes:
    return sign_note(cp.text(), cp.origin, key)


def parse(data: bytes, *, source: str = FILE) -> Checkpoint:
    """Parse (not verify) a checkpoint note; raises :class:`IntegrityError` if malformed."""
    def bad(why: str) -> IntegrityError:
        return IntegrityError(f"{source} is not a valid checkpoint: {why}")

    try:
        s = data.decode("utf-8")
    except UnicodeDecodeError:
        raise bad("not UTF-8") from None
    if any(ord(c) < 0x20 and c != "\n" for c in s):
        raise bad("control characters")
    split = data.rfind(b"\n\n")
    if split < 0:
        raise bad("no signature block")
    text, sigs = data[: split + 1], data[split + 2:]
    if not sigs or not sigs.endswith(b"\n"):
        raise bad("no signature block")
    lines = text[:-1].split(b"\n")
    if len(lines) < 3 or not all(lines):
        raise bad("fewer than three lines")
    size_s = lines[1].decode()
    if not size_s.isdigit() or (size_s != "0" and size_s.startswith("0")):
        raise bad(f"tree size {size_s!r}")
    try:
        root = base64.b64decode(lines[2], validate=True)
    except ValueError:
        raise bad("the root is not base64") from None
    if len(root) != 32:
        raise bad("the root is not 32 bytes")
    cp = Checkpoint(lines[0].decode(), int(size_s), root, [ln.decode() for ln in lines[3:]])
    for line in sigs[:-1].decode().split("\n"):
        if not line.startswith(SIG_PREFIX):
            raise bad("a signature line lacks the '— ' prefix")
        name, _, b64 = line[len(SIG_PREFIX):].partition(" ")
        if not name or " " in b64 or "+" in name:
            raise bad("malformed signature line")
        try:
            blob = base64.b64decode(b64, validate=True)
        except ValueError:
            raise bad("a signature is not base64") from None
        if len(blob) < 5:
            raise bad("a signature is too short")
        cp.signatures.append((name, blob[:4], blob[4:]))
    if len(cp.signatures) > 100:
        raise bad("too many signatures")
    return cp


def verify(data: bytes, public_keys: dict[str, bytes], *, source: str = FILE) -> tuple[Checkpoint, str]:
    """Parse and verify; ``public_keys`` maps a signer name to its raw public key.

    Returns the checkpoint and the name of a trusted signer whose signature verifies.
    Unknown signatures are ignored; a known key with a bad signature fails the note.
    """
    cp = parse(data, source=source)
    text = cp.text()
    by_hash = {note_key_hash(cp.origin, pub): (name, pub) for name, pub in public_keys.items()}
    good = None
    for name, kh, sig in cp.signatures:
        if name != cp.origin or kh not in by_hash:
            continue
        signer, pub = by_hash[kh]
        if not verify_signature(pub, sig, text):
            raise IntegrityError(f"{source}: the signature of {signer} does not verify")
        good = good or signer
    if good is None:
        raise IntegrityError(f"{source}: no signature by a key the trust policy knows")
    return cp, good


def read(path: Path) -> bytes | None:
    return path.read_bytes() if path.is_file() else None
