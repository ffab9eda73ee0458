"""Release attestations: in-toto Statements v1 that supply-chain tools can read.

Each time a version becomes stable in an environment (a promotion without canary, or a
canary that passed its last step) govctl writes an in-toto Statement whose subject is the
model by its artifact-manifest digest and whose predicate (type :data:`PREDICATE_TYPE`)
says what was decided about those bytes: the gate's result, the agreement and its signers,
the checklist, the canary analyses, the prompts and the ledger entry recording it. The
statement is DSSE-signed by the releaser (payload type ``application/vnd.in-toto+json``),
stored at ``attestations/SERVICE/VERSION-ENV.intoto.json`` and its digest recorded in the
ledger (action ``release.attest``). See docs/registry.md for the predicate's fields.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from govctl.config import GovernedRepo
from govctl.errors import IntegrityError, NotFound
from govctl.ledger.log import Entry, Ledger
from govctl.signing import dsse
from govctl.signing.canonical import canonical_bytes, digest
from govctl.signing.keys import SigningKey, verify_signature

STATEMENT_TYPE = "https://in-toto.io/Statement/v1"
PREDICATE_TYPE = "https://govctl.dev/release/v1"
PAYLOAD_TYPE = "application/vnd.in-toto+json"
ACTION = "release.attest"


def attestation_path(repo: GovernedRepo, service: str, version: str, env: str) -> Path:
    return repo.root / "attestations" / service / f"{version}-{env}.intoto.json"


def _last(entries: list[Entry], **match: Any) -> Entry | None:
    found = None
    for e in entries:
        if all((e.evidence.get(k) if k != "version" else e.subject.get("version")) == v
               for k, v in match.items()):
            found = e
    return found


def _gate(entries: list[Entry], version: str, env: str) -> dict[str, Any]:
    gates = [e for e in entries if e.action == "gate.evaluate" and e.evidence.get("passed")]
    g = _last(gates, version=version, env=env)
    if g is None:
        return {}
    items = {i["id"]: i for i in g.evidence.get("result_items") or []}
    agreement = (items.get("agreement-signed") or {}).get("evidence") or {}
    prompts = ((items.get("prompts-pinned") or {}).get("evidence") or {}).get("prompts") or {}
    return {
        "gate": {"results_digest": g.evidence.get("results"),
                 "checklist_digest": g.evidence.get("checklist"), "ledger_seq": g.seq,
                 "time": g.time,
                 "items": {i: it["status"] for i, it in sorted(items.items())}},
        "agreement": {"digest": agreement.get("digest"), "signers": agreement.get("signers")
                      or {}, "expires": agreement.get("expires")},
        "prompts": [{"name": n, "sha256": h} for n, h in sorted(prompts.items())],
    }


def build_statement(repo: GovernedRepo, service: str, version: str, env: str,
                    release_entry: Entry, key: SigningKey) -> dict[str, Any]:
    """The in-toto Statement for ``service`` v``version`` becoming stable in ``env``."""
    from govctl.registry import manifests

    manifest = manifests.load(repo, service, version)
    mdigest = digest(manifest)
    ledger = Ledger.for_repo(repo)
    entries = [e for e in ledger.entries(subject_prefix=f"service:{service}")
               if e.subject.get("name") == service]
    analyses = [
        {"ledger_seq": e.seq, "verdict": e.evidence.get("verdict"), "step": e.evidence.get("step"),
         "weight_bps": e.evidence.get("weight_bps"), "reason": e.evidence.get("reason"),
         "time": e.time}
        for e in entries if e.action == "canary.analyze" and e.evidence.get("env") == env
        and str(e.subject.get("version")) == version
        and e.seq > _promote_seq(entries, version, env)
    ]
    try:  # the release entry proved into the newest signed checkpoint (RFC 9162)
        proof = ledger.prove(release_entry.seq)
        checkpoint = {"tree_size": proof["tree_size"], "root": proof["root"],
                      "leaf_hash": proof["leaf_hash"], "inclusion_proof": proof["proof"]}
    except (NotFound, IntegrityError):
        checkpoint = {}
    predicate = {
        "service": service, "version": version, "environment": env,
        "manifest": {"sha256": mdigest, "model_signing_root_digest":
                     manifest["root_digest"]["sha256"], "files": len(manifest["resources"]),
                     "bytes": manifest["total_size"], "source": manifest["source"],
                     "path": repo.rel(manifests.manifest_path(repo, service, version))},
        **_gate(entries, version, env),
        "canary_analyses": analyses,
        "release": {"action": release_entry.action, "ledger_seq": release_entry.seq,
                    "time": release_entry.time, "releaser": key.name, "key_id": key.key_id,
                    "previous_stable": release_entry.evidence.get("previous_stable"),
                    "git_commit": release_entry.git_commit},
        "ledger": {"entry": release_entry.seq, "checkpoint": checkpoint},
    }
    return {"_type": STATEMENT_TYPE,
            "subject": [{"name": f"models:/{service}/{version}",
                         "digest": {"sha256": mdigest.removeprefix("sha256:")}}],
            "predicateType": PREDICATE_TYPE, "predicate": predicate}


def _promote_seq(entries: list[Entry], version: str, env: str) -> int:
    seqs = [e.seq for e in entries if e.action == "release.promote"
            and e.evidence.get("env") == env and str(e.evidence.get("version")) == version]
    return max(seqs) if seqs else 0


def attest(repo: GovernedRepo, key: SigningKey, service: str, version: str, env: str,
           release_entry: Entry) -> Path:
    """Build, sign, store and record the attestation of a completed release."""
    from govctl import ledger as ledger_mod
    from govctl.fsutil import atomic_write

    statement = build_statement(repo, service, str(version), env, release_entry, key)
    payload = canonical_bytes(statement)
    env_ = dsse.Envelope(PAYLOAD_TYPE, payload,
                         [dsse.Signature(key.key_id, key.sign(dsse.pae(PAYLOAD_TYPE, payload)))])
    path = attestation_path(repo, service, str(version), env)
    text = env_.dumps()
    atomic_write(path, text)
    ledger_mod.record(repo, key, ACTION, {"kind": "service", "name": service,
                                          "version": str(version)},
                      evidence={"env": env, "path": repo.rel(path),
                                "envelope_sha256": _sha(text.encode()),
                                "statement": digest(statement),
                                "subject_sha256": statement["subject"][0]["digest"]["sha256"],
                                "release_seq": release_entry.seq},
                      note=f"attested {service} v{version} in {env}")
    return path


def _sha(raw: bytes) -> str:
    return "sha256:" + hashlib.sha256(raw).hexdigest()


def _recorded(repo: GovernedRepo, service: str, version: str, env: str) -> Entry | None:
    found = None
    for e in Ledger.for_repo(repo).entries(action=ACTION):
        if (e.subject.get("name") == service and e.subject.get("version") == str(version)
                and e.evidence.get("env") == env):
            found = e
    return found


def _envs(repo: GovernedRepo, service: str, version: str) -> list[str]:
    folder = repo.root / "attestations" / service
    suffix = ".intoto.json"
    return sorted(p.name[len(f"{version}-"):-len(suffix)] for p in folder.glob(
        f"{version}-*{suffix}")) if folder.is_dir() else []


def read(repo: GovernedRepo, service: str, version: str, env: str | None = None
         ) -> tuple[Path, dsse.Envelope, str]:
    """The stored envelope (unverified) and its environment."""
    if env is None:
        envs = _envs(repo, service, version)
        if not envs:
            raise NotFound(f"no attestation of {service} v{version} (a version is attested "
                           "when it becomes stable in an environment)")
        env = "production" if "production" in envs else envs[-1]
    path = attestation_path(repo, service, str(version), env)
    if not path.is_file():
        raise NotFound(f"no attestation of {service} v{version} in {env} ({repo.rel(path)})")
    return path, dsse.Envelope.loads(path.read_bytes(), source=repo.rel(path)), env


def verify(repo: GovernedRepo, service: str, version: str, env: str | None = None
           ) -> dict[str, Any]:
    """Check an attestation: a valid signature by a trust-policy signer over the exact
    payload, the statement's type, subject and predicate naming this release, the subject
    digest equal to the manifest digest the ledger pinned at registration, and the
    envelope the one the ledger recorded. IntegrityError (exit 4) otherwise."""
    from govctl import trust
    from govctl.registry import manifests

    path, envelope, env = read(repo, service, version, env)
    where = repo.rel(path)
    if envelope.payload_type != PAYLOAD_TYPE:
        raise IntegrityError(f"{where}: payload type {envelope.payload_type!r} is not "
                             f"{PAYLOAD_TYPE}")
    policy = trust.read_current(repo)
    signers = []
    for sig in envelope.signatures:
        signer = policy.signer_by_key(sig.keyid)
        if signer is not None and verify_signature(
                signer.public_raw, sig.sig, dsse.pae(envelope.payload_type, envelope.payload)):
            signers.append(signer.name)
    if not signers:
        raise IntegrityError(f"{where}: no valid signature by a trust-policy signer over the "
                             "statement (edited, or signed by an unknown key)")
    st = envelope.payload_json(source=where)
    pred = st.get("predicate") if isinstance(st, dict) else None
    if (not isinstance(pred, dict) or st.get("_type") != STATEMENT_TYPE
            or st.get("predicateType") != PREDICATE_TYPE):
        raise IntegrityError(f"{where}: not a {PREDICATE_TYPE} in-toto statement")
    if (pred.get("service"), pred.get("version"), pred.get("environment")) != (
            service, str(version), env):
        raise IntegrityError(f"{where}: the statement is about {pred.get('service')} "
                             f"v{pred.get('version')} in {pred.get('environment')}, not "
                             f"{service} v{version} in {env}")
    pinned = manifests.pinned_digest(repo, service, str(version))
    subject = st.get("subject") or [{}]
    got = (subject[0].get("digest") or {}).get("sha256")
    if pinned is None or got != pinned.removeprefix("sha256:"):
        raise IntegrityError(f"{where}: subject digest {got} is not the manifest digest "
                             f"{pinned} the ledger recorded for {service} v{version}")
    rec = _recorded(repo, service, str(version), env)
    if rec is None or rec.evidence.get("envelope_sha256") != _sha(path.read_bytes()):
        raise IntegrityError(f"{where}: not the attestation the ledger recorded (ledger "
                             f"entry {rec.seq if rec else 'missing'})")
    return {"service": service, "version": str(version), "environment": env, "path": where,
            "signed_by": signers, "subject": subject[0], "ledger_seq": rec.seq,
            "statement": st}


def show(repo: GovernedRepo, service: str, version: str, env: str | None = None
         ) -> dict[str, Any]:
    """The attestation's statement and envelope, as stored (verify separately)."""
    path, envelope, env = read(repo, service, version, env)
    return {"path": repo.rel(path), "environment": env, "envelope": envelope.to_json(),
            "statement": json.loads(envelope.payload)}
