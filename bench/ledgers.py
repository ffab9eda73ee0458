"""Ledgers grown the way commands grow them, for the benchmarks (cached between runs).

Every entry goes through ``Ledger.append`` — one signed entry and one signed checkpoint per
append, exactly as a command writes it — with a mix and sizes taken from a year of a busy
service's commands:

=====================  =====  ==========================================================
action                 share  evidence
=====================  =====  ==========================================================
canary.analyze         55 %   the analysis: seven checks with values, thresholds, counts
gate.evaluate          30 %   every checklist item as decided (~7 KB, like a real gate)
checklist.signoff       8 %   the item, the role, the signature digest
release.promote /
canary.step (intent +   4 %   an intent and its completion, as transitions write them
complete)
data.add                2 %   the dataset's DVC hash and classification
model.register          1 %   run id, datasets, lineage tags
=====================  =====  ==========================================================

spread over 20 services. The signer holds every role, so the ledger also passes an audit
that replays authority.

Built ledgers are cached in ``bench/.cache/``: one *base* ledger is grown to the largest size
a benchmark asks for (``base=``), and each smaller size is its exact prefix — entries and
checkpoints 1..N as the library wrote them, the head file and ``ledger.checkpoint`` of
checkpoint N (Ed25519 is deterministic: the bytes the library wrote at that size) and the
derived state rebuilt for N. The cache is keyed by size and ``MIX_VERSION`` (bump it when the
mix or the entry format changes); a ledger built by older code is upgraded by the library
on first use, as any older repo is. Run ``python bench/ledgers.py N`` to (re)build one and
print its location.
"""

from __future__ import annotations

import hashlib
import os
import random
import shutil
import sys
import tarfile
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
CACHE = ROOT / "bench" / ".cache"
MIX = (("canary.analyze", 55), ("gate.evaluate", 30), ("checklist.signoff", 8),
       ("transition", 4), ("data.add", 2), ("model.register", 1))
ROLES = ["admin", "eng-lead", "product-owner", "compliance", "ml-engineer", "releaser",
         "oncall"]
ITEMS = ["use-case", "acceptance-metrics", "data-inventory", "data-lineage", "held-out-eval",
         "no-regression", "red-team", "agreement-signed", "retrieval-access", "pii-retention",
         "prompt-injection", "tracing", "cost-alerts", "fallback-modes", "rollback-plan",
         "incident-playbook", "data-allowed", "data-pushed", "prompts-pinned", "model-drift"]


MIX_VERSION = 1


def _digest(rng: random.Random) -> str:
    return "sha256:" + hashlib.sha256(rng.randbytes(16)).hexdigest()


def _gate_evidence(rng: random.Random) -> dict[str, Any]:
    items = []
    for item in ITEMS:
        items.append({
            "id": item, "kind": rng.choice(["automatic", "signoff"]), "status": "pass",
            "reason": f"{item}: evidence checked against the policy rule and the inventory; "
                      f"every dataset classified, hashed and allowed in production "
                      f"({rng.randint(1, 40)} records)",
            "evidence": {"digest": _digest(rng), "signer": rng.choice(["cora", "erin", "paul"]),
                         "waiver": None, "checked": [_digest(rng) for _ in range(3)]},
        })
    return {"env": "production", "passed": True, "checklist": _digest(rng),
            "agreement": _digest(rng), "policies": _digest(rng), "results": _digest(rng),
            "result_items": items}


def _analysis_evidence(rng: random.Random) -> dict[str, Any]:
    """Shaped like ``release.advance``'s entry: the verdict, its reason naming every check,
    and each variant's traffic summary in decimal strings (signed entries hold no floats)."""
    def arm() -> dict[str, Any]:
        return {"n": rng.randint(200, 50_000),
                "latency_ms": {q: f"{rng.uniform(50, 900):.3f}" for q in
                               ("p5", "p25", "p50", "p75", "p90", "p95", "p99")},
                "error_rate": f"{rng.uniform(0, 0.02):.6f}",
                "cost_per_request_usd": f"{rng.uniform(0, 0.002):.8f}",
                "tokens_in_mean": f"{rng.uniform(100, 900):.2f}",
                "tokens_out_mean": f"{rng.uniform(20, 400):.2f}",
                "quality_mean": f"{rng.uniform(0.7, 1):.4f}"}
    reason = "; ".join(
        f"{m}: canary {rng.uniform(0, 500):.1f} vs stable {rng.uniform(0, 500):.1f} "
        f"(limit {rng.uniform(0, 600):.1f}, n={rng.randint(200, 5000)}) pass"
        for m in ("latency_p95_ms", "error_rate", "cost_per_request_usd", "tokens",
                  "quality"))
    return {"env": "production", "verdict": "pass", "reason": reason, "failed": [],
            "step": rng.randint(0, 3), "weight_bps": rng.choice([500, 2500, 5000]),
            "telemetry": {"stable": arm(), "canary": arm(),
                          "bad_records": {"invalid_json": rng.randint(0, 3)}}}


def _events(rng: random.Random) -> list[dict[str, Any]]:
    """One command's worth of entries (a transition writes an intent and a completion)."""
    service = f"svc-{rng.randrange(20):02d}"
    version = str(rng.randint(1, 60))
    subject = {"kind": "service", "name": service, "version": version}
    action = rng.choices([a for a, _ in MIX], [w for _, w in MIX])[0]
    if action == "canary.analyze":
        return [{"action": action, "subject": subject, "evidence": _analysis_evidence(rng),
                 "note": "pass"}]
    if action == "gate.evaluate":
        return [{"action": action, "subject": subject, "evidence": _gate_evidence(rng),
                 "note": "passed"}]
    if action == "checklist.signoff":
        return [{"action": action, "subject": {**subject, "item": rng.choice(ITEMS)},
                 "evidence": {"role": "compliance", "signature": _digest(rng),
                              "checklist": _digest(rng)}, "note": "reviewed"}]
    if action == "data.add":
        return [{"action": action, "subject": {"kind": "dataset", "name": f"ds-{rng.randrange(500)}"},
                 "evidence": {"md5": hashlib.md5(rng.randbytes(8)).hexdigest(),
                              "sensitivity": "internal", "pii": "none", "kind": "train"}}]
    if action == "model.register":
        return [{"action": action, "subject": subject,
                 "evidence": {"run_id": rng.randbytes(16).hex(),
                              "datasets": {f"ds-{i}": _digest(rng) for i in range(3)}}}]
    return [{"action": rng.choice(["release.promote", "canary.step"]), "subject":
             {"kind": "service", "name": service},
             "evidence": {"env": "production", "aliases": {"production-canary": version},
                          "weight_bps": 500}, "phase": "intent"}]


def grow(repo: Path, n: int, *, seed: int = 7, progress: bool = True) -> None:
    """Initialise a governed repo at ``repo`` and grow its ledger to ``n`` entries through
    the library, one append (and checkpoint) per command, intents completed."""
    from govctl import trust
    from govctl.bootstrap import init
    from govctl.config import find_repo
    from govctl.ledger.log import Ledger
    from govctl.signing.keys import KeyStore

    init(repo, "alice")
    gov = find_repo(repo)
    key = KeyStore().load("alice")
    signers = [s.model_dump(exclude_none=True) for s in trust.read_current(gov).signers]
    signers[0]["roles"] = ROLES
    trust.amend(gov, {"signers": signers}, [key])
    ledger = Ledger.for_repo(gov)
    if ledger.size() < 2:  # amend records its own entry once issue 19 lands; before, record it
        from govctl.ledger.log import record

        record(gov, key, "trust.update", {"kind": "trust", "name": "policy", "version": 2})
    rng = random.Random(seed)
    started = time.perf_counter()
    count = ledger.size()
    while count < n:
        for ev in _events(rng):
            if count >= n:
                break
            if ev.get("phase") == "intent":
                intent = ledger.intent(key, ev["action"], ev["subject"], evidence=ev["evidence"])
                count += 1
                if count < n:
                    ledger.complete(key, intent)
                    count += 1
            else:
                ledger.append(key, ev["action"], ev["subject"], evidence=ev.get("evidence"),
                              note=ev.get("note"))
                count += 1
        if progress and count % 5000 < 2:
            rate = count / (time.perf_counter() - started)
            print(f"  grown to {count:,} entries ({rate:,.0f}/s)", file=sys.stderr)


def _tar(n: int) -> Path:
    return CACHE / f"ledger-{n}-mix{MIX_VERSION}.tar"


def _extract(tar: Path, dest: Path) -> None:
    with tarfile.open(tar) as t:
        t.extractall(dest, filter="fully_trusted")


def _store(tar: Path, build: Path) -> None:
    with tarfile.open(tar.with_suffix(".tmp"), "w") as t:
        t.add(build / "svc", "svc")
        t.add(build / "home", "home")
    tar.with_suffix(".tmp").rename(tar)


def _truncate(build: Path, n: int) -> None:
    """Cut the ledger at ``build/svc`` to its first ``n`` entries: what the library had
    written when it held ``n`` (the same checkpoint, head file and checkpoint note)."""
    import json
    import sqlite3

    from govctl.config import find_repo
    from govctl.ledger import checkpoint as note
    from govctl.ledger.log import Ledger
    from govctl.signing import dsse
    from govctl.signing.keys import KeyStore

    gov = find_repo(build / "svc")
    db = sqlite3.connect(gov.state / "ledger.db")
    with db:
        db.execute("delete from govctl_entries where seq > ?", (n,))
        db.execute("delete from govctl_checkpoints where tree_size > ?", (n,))
        body, sig = db.execute("select body, sig from govctl_checkpoints where tree_size = ?",
                               (n,)).fetchone()
        lid = db.execute("select value from govctl_meta where key = 'ledger_id'").fetchone()[0]
    db.execute("vacuum")
    db.close()
    env = dsse.Envelope(dsse.LEDGER_CHECKPOINT, bytes(body), [dsse.Signature("", sig)])
    (gov.state / "ledger.head.json").write_bytes(env.dumps())
    cp = note.Checkpoint(note.origin_for(lid), n, bytes.fromhex(json.loads(body)["root"]))
    (gov.root / note.FILE).write_bytes(note.sign(cp, KeyStore().load("alice")))
    Ledger.for_repo(gov).rebuild_state()


def cached(n: int, dest: Path, *, base: int | None = None) -> tuple[Path, Path]:
    """A governed repo with an ``n``-entry ledger at ``dest/svc`` (keys in ``dest/home``),
    from the cache; else cut from a cached base ledger of at least ``n`` entries (grown to
    ``base`` entries first if there is none)."""
    CACHE.mkdir(parents=True, exist_ok=True)
    tar = _tar(n)
    if not tar.exists():
        # Built on a RAM disk where there is one: the same code path and bytes, without
        # the per-append fsyncs that make a 100k-entry build take an hour on a shared disk.
        shm = Path("/dev/shm")
        build = Path(tempfile.mkdtemp(dir=shm if shm.is_dir() else dest))
        os.environ["GOVCTL_HOME"] = str(build / "home")
        try:
            bigger = sorted(m for m in _sizes() if m > n)
            if not bigger and (base or n) > n:
                cached(base or n, build)  # grows and caches the base
                shutil.rmtree(build / "svc")
                shutil.rmtree(build / "home")
                bigger = [base or n]
            if bigger:
                _extract(_tar(bigger[0]), build)
                _truncate(build, n)
            else:
                grow(build / "svc", n)
            _store(tar, build)
        finally:
            os.environ.pop("GOVCTL_HOME", None)
            shutil.rmtree(build, ignore_errors=True)
    _extract(tar, dest)
    return dest / "svc", dest / "home"


def _sizes() -> list[int]:
    out = []
    for p in CACHE.glob(f"ledger-*-mix{MIX_VERSION}.tar"):
        try:
            out.append(int(p.name.split("-")[1]))
        except ValueError:
            continue
    return out


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    size = int(sys.argv[1]) if len(sys.argv) > 1 else 10_000
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        cached(size, Path(tmp))
        print(f"{size:,}-entry ledger ready in {time.perf_counter() - t0:.1f}s "
              f"(cache: {CACHE})")
