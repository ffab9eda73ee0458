"""Agreement signature files: one DSSE envelope per signer.

``agreements/SERVICE.sigs/NAME.json`` holds NAME's signature over the canonical document,
so two operators signing in separate clones add two files and git merges them without a
conflict. Ed25519 signatures are deterministic: signing the same document again writes the
same bytes. A legacy ``SERVICE.sig.json`` (all signatures in one envelope) is still read,
and split into per-signer files the next time anyone signs.

A signature counts only while its signer is in the current trust policy and unexpired.
A signature by a removed or expired signer is *dead*: reported by name and trust version,
not counted, and it blocks no one; the role is signed again by its current holder.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from govctl.config import GovernedRepo
from govctl.errors import IntegrityError
from govctl.fsutil import atomic_write
from govctl.signing import dsse
from govctl.signing.dsse import Envelope, Signature
from govctl.signing.keys import SigningKey
from govctl.trust import Former, TrustPolicy, dead_signature


def sigs_dir(repo: GovernedRepo, service: str) -> Path:
    return repo.agreements / f"{service}.sigs"


def legacy_path(repo: GovernedRepo, service: str) -> Path:
    return repo.agreements / f"{service}.sig.json"


def files(repo: GovernedRepo, service: str) -> list[Path]:
    out = [legacy_path(repo, service)] if legacy_path(repo, service).exists() else []
    d = sigs_dir(repo, service)
    if d.is_dir():
        out += sorted(d.glob("*.json"))
    return out


@dataclass
class Collected:
    """The signatures over one payload, merged, and what else the files hold."""

    merged: Envelope
    any_files: bool = False
    stale: list[tuple[str, Envelope]] = field(default_factory=list)
    dead: list[str] = field(default_factory=list)
    integrity: list[str] = field(default_factory=list)


def collect(repo: GovernedRepo, service: str, payload: bytes, policy: TrustPolicy,
            former: dict[str, Former], at: datetime) -> Collected:
    out = Collected(Envelope(dsse.AGREEMENT, payload, []))
    message = dsse.pae(dsse.AGREEMENT, payload)
    for path in files(repo, service):
        out.any_files = True
        source = repo.rel(path)
        try:
            env = Envelope.loads(path.read_bytes(), source=source)
        except IntegrityError as exc:
            out.integrity.append(exc.message)
            continue
        if env.payload_type != dsse.AGREEMENT:
            out.integrity.append(f"{source}: signed as {env.payload_type!r}, not "
                                 f"{dsse.AGREEMENT!r} (a signature from another document kind)")
            continue
        if env.payload != payload:
            out.stale.append((source, env))
            continue
        for sig in env.signatures:
            dead = dead_signature(sig, message, policy, former, at, source,
                                  "its role must be signed again by a current holder")
            if dead is not None:
                out.dead.append(dead)
                continue
            out.merged.signatures.append(sig)
    return out


def write(repo: GovernedRepo, service: str, signer_name: str, payload: bytes,
          key: SigningKey) -> tuple[Path, bool]:
    """Write ``signer_name``'s signature file; returns (path, it was already there)."""
    path = sigs_dir(repo, service) / f"{signer_name}.json"
    sig = Signature(key.key_id, key.sign(dsse.pae(dsse.AGREEMENT, payload)))
    text = Envelope(dsse.AGREEMENT, payload, [sig]).dumps()
    already = path.exists() and path.read_text("utf-8") == text
    if not already:
        atomic_write(path, text)
    return path, already


def migrate_legacy(repo: GovernedRepo, service: str, policy: TrustPolicy,
                   former: dict[str, Former]) -> list[str]:
    """Split a legacy ``SERVICE.sig.json`` into per-signer files; returns files written."""
    path = legacy_path(repo, service)
    if not path.exists():
        return []
    env = Envelope.loads(path.read_bytes(), source=repo.rel(path))
    written = []
    for sig in env.signatures:
        signer = policy.signer_by_key(sig.keyid)
        name = (signer.name if signer else former[sig.keyid].signer.name
                if sig.keyid in former else sig.keyid[:16] or "unknown")
        target = sigs_dir(repo, service) / f"{name}.json"
        if target.exists():
            continue
        atomic_write(target, Envelope(env.payload_type, env.payload, [sig]).dumps())
        written.append(repo.rel(target))
    path.unlink()
    return written


def write_signed_copy(path: Path, merged: Envelope) -> None:
    """The last fully signed version, deterministic: signatures sorted by key id, and the
    file rewritten only when its content changes (no churn on a re-sign)."""
    env = Envelope(merged.payload_type, merged.payload,
                   sorted({(s.keyid, s.sig): s for s in merged.signatures}.values(),
                          key=lambda s: (s.keyid, s.sig)))
    text = env.dumps()
    if not path.exists() or path.read_text("utf-8") != text:
        atomic_write(path, text)
