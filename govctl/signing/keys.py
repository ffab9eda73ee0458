"""Ed25519 key store outside any repository.

Keys live in ``$GOVCTL_HOME/keys`` (default ``~/.config/govctl/keys``): ``NAME.key`` is the
PKCS#8 PEM private key, mode 0600, encrypted when a passphrase is given through an
environment variable; ``NAME.pub.json`` holds the public half and is all that
``keys list`` and ``keys export`` read. A key id is the SHA-256 of the raw public key.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from govctl import clock
from govctl.errors import InputError, IntegrityError, NotFound

PASSPHRASE_ENV = "GOVCTL_KEY_PASSPHRASE"
NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

# cryptography is imported where keys are used, not here: 'keys list' and the hooks read
# only public-key JSON and should not pay for it at start-up.


def govctl_home() -> Path:
    """Per-user govctl directory; ``GOVCTL_HOME`` overrides it."""
    env = os.environ.get("GOVCTL_HOME")
    if env:
        return Path(env).expanduser()
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "govctl"


def key_dir() -> Path:
    return govctl_home() / "keys"


def key_id(public_raw: bytes) -> str:
    """SHA-256 hex of the raw 32-byte Ed25519 public key."""
    return hashlib.sha256(public_raw).hexdigest()


def check_name(name: str) -> str:
    if not NAME_RE.match(name or ""):
        raise InputError(
            f"invalid key name {name!r}: use letters, digits, '.', '_' or '-' (max 64)"
        )
    return name


@dataclass(frozen=True)
class PublicKey:
    name: str
    public_raw: bytes
    created: str = ""
    encrypted: bool = False

    @property
    def key_id(self) -> str:
        return key_id(self.public_raw)

    @property
    def public_b64(self) -> str:
        from govctl.signing.dsse import b64e

        return b64e(self.public_raw)

    def to_json(self) -> dict[str, object]:
        return {
            "name": self.name,
            "key_id": self.key_id,
            "public_key": self.public_b64,
            "algorithm": "ed25519",
            "created": self.created,
            "encrypted": self.encrypted,
        }


class SigningKey:
    """A loaded private key. Its bytes never leave this object."""

    def __init__(self, name: str, private: Ed25519PrivateKey) -> None:
        from cryptography.hazmat.primitives import serialization

        self.name = name
        self._private = private
        self.public_raw = private.public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )
        self.key_id = key_id(self.public_raw)

    def sign(self, data: bytes) -> bytes:
        return self._private.sign(data)

    def __repr__(self) -> str:  # never print key material
        return f"SigningKey(name={self.name!r}, key_id={self.key_id[:16]}...)"


def verify_signature(public_raw: bytes, signature: bytes, data: bytes) -> bool:
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    try:
        Ed25519PublicKey.from_public_bytes(public_raw).verify(signature, data)
        return True
    except (InvalidSignature, ValueError):
        return False


def parse_public_key(text: str, *, source: str) -> bytes:
    """Accept base64 raw 32 bytes, a PEM SubjectPublicKeyInfo, or an exported JSON file."""
    from govctl.signing.dsse import b64d

    text = text.strip()
    if text.startswith("{"):
        try:
            text = str(json.loads(text)["public_key"])
        except (ValueError, KeyError, TypeError):
            raise InputError(f"{source}: not a govctl public key export") from None
    if text.startswith("-----BEGIN PUBLIC KEY-----"):
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

        try:
            key = serialization.load_pem_public_key(text.encode())
        except ValueError:
            raise InputError(f"{source}: unreadable PEM public key") from None
        if not isinstance(key, Ed25519PublicKey):
            raise InputError(f"{source}: not an Ed25519 public key")
        return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    try:
        raw = b64d(text, source)
    except IntegrityError:
        raise InputError(f"{source}: not a base64 or PEM Ed25519 public key") from None
    if len(raw) != 32:
        raise InputError(f"{source}: an Ed25519 public key has 32 bytes, this has {len(raw)}")
    return raw


class KeyStore:
    def __init__(self, root: Path | None = None) -> None:
        self.root = root or key_dir()

    def _priv(self, name: str) -> Path:
        return self.root / f"{check_name(name)}.key"

    def _pub(self, name: str) -> Path:
        return self.root / f"{check_name(name)}.pub.json"

    def exists(self, name: str) -> bool:
        return self._pub(name).exists() or self._priv(name).exists()

    def generate(self, name: str, *, passphrase_env: str | None = PASSPHRASE_ENV,
                 allow_unencrypted: bool | None = None) -> PublicKey:
        """Generate a key pair. With ``passphrase_env`` naming a variable other than the
        default (an explicit request for encryption), that variable must be set: no key is
        written, unencrypted or otherwise, when it is not. ``allow_unencrypted=False``
        refuses to write an unencrypted key even for the default variable."""
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

        from govctl.fsutil import atomic_write

        if self.exists(name):
            raise InputError(
                f"a key named {name!r} already exists in {self.root}",
                hint="choose another name, or use the existing key",
            )
        passphrase = os.environ.get(passphrase_env) if passphrase_env else None
        if allow_unencrypted is None:
            allow_unencrypted = passphrase_env in (None, PASSPHRASE_ENV)
        if not passphrase and not allow_unencrypted:
            raise InputError(f"passphrase_env {passphrase_env}: that environment variable "
                             "is not set (or empty); no key was written, unencrypted or "
                             "otherwise", field="passphrase_env")
        private = Ed25519PrivateKey.generate()
        encryption: serialization.KeySerializationEncryption
        if passphrase:
            encryption = serialization.BestAvailableEncryption(passphrase.encode("utf-8"))
        else:
            encryption = serialization.NoEncryption()
        pem = private.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption
        )
        self.root.mkdir(parents=True, exist_ok=True)
        os.chmod(self.root, 0o700)
        pub = PublicKey(
            name=name,
            public_raw=private.public_key().public_bytes(
                serialization.Encoding.Raw, serialization.PublicFormat.Raw
            ),
            created=clock.to_iso(clock.now()),
            encrypted=bool(passphrase),
        )
        atomic_write(self._priv(name), pem, mode=0o600)
        atomic_write(self._pub(name), json.dumps(pub.to_json(), indent=2) + "\n", mode=0o644)
        return pub

    def public(self, name: str) -> PublicKey:
        path = self._pub(name)
        if not path.exists():
            raise NotFound(
                f"no key named {name!r} in {self.root}",
                hint="list keys with 'govctl keys list' or create one with 'govctl keys generate'",
            )
        try:
            data = json.loads(path.read_text("utf-8"))
            raw = parse_public_key(data["public_key"], source=str(path))
        except (ValueError, KeyError, TypeError):
            raise InputError(f"{path}: unreadable public key file") from None
        return PublicKey(
            name=name,
            public_raw=raw,
            created=str(data.get("created", "")),
            encrypted=bool(data.get("encrypted", False)),
        )

    def list(self) -> list[PublicKey]:
        if not self.root.is_dir():
            return []
        names = sorted(p.name[: -len(".pub.json")] for p in self.root.glob("*.pub.json"))
        return [self.public(n) for n in names if NAME_RE.match(n)]

    def load(self, name: str, *, passphrase_env: str = PASSPHRASE_ENV) -> SigningKey:
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

        path = self._priv(name)
        if not path.exists():
            raise NotFound(
                f"no private key named {name!r} in {self.root}",
                hint="list keys with 'govctl keys list'; GOVCTL_HOME selects the key directory",
            )
        mode = stat.S_IMODE(path.stat().st_mode)
        if mode & 0o077:
            raise InputError(
                f"{path} is readable by other users (mode {mode:04o}); refusing to use it",
                hint=f"chmod 600 {path}",
            )
        pem = path.read_bytes()
        passphrase = os.environ.get(passphrase_env)
        encrypted = b"ENCRYPTED" in pem.split(b"\n", 1)[0]
        if encrypted and not passphrase:
            raise InputError(
                f"key {name!r} is encrypted: set {passphrase_env} to its passphrase"
            )
        try:
            private = serialization.load_pem_private_key(
                pem, password=passphrase.encode("utf-8") if encrypted and passphrase else None
            )
        except (ValueError, TypeError):
            if encrypted:
                raise InputError(f"wrong passphrase for key {name!r} (from {passphrase_env})") from None
            raise InputError(f"{path}: unreadable private key") from None
        if not isinstance(private, Ed25519PrivateKey):
            raise InputError(f"{path}: not an Ed25519 private key")
        key = SigningKey(name, private)
        pub = self._pub(name)
        if pub.exists() and self.public(name).public_raw != key.public_raw:
            raise IntegrityError(f"{pub} does not match the private key {path}")
        return key
