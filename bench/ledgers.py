"""Ledgers grown the way commands grow them, for the benchmarks (cached between runs).

A ledger starts as ``govctl demo`` leaves it — the real support-bot service (data, DVC
pipeline, a SQLite MLflow store with three model versions, prompts, agreement, sign-offs,
gates, canaries, rollbacks: about a hundred entries) — and then grows through
``Ledger.append``: one signed entry and one signed checkpoint per append, exactly as a
command writes it, with a mix and sizes taken from a year of a busy service's commands:

=====================  =====  ==========================================================
action                 share  evidence
=====================  =====  ==========================================================
canary.analyze         55 %   the analysis: verdict, a reason naming five checks, both
                              variants' traffic summaries (~1.5 KB)
gate.evaluate          30 %   every checklist item as decided (~7 KB, like a real gate)
checklist.signoff       8 %   the item, the role, the signature digest
release.promote /
canary.step (intent +   4 %   an intent and its completion, as transitions write them
complete)
data.add                2 %   the dataset's DVC hash and classification
model.register          1 %   run id, datasets, lineage tags
=====================  =====  ==========================================================

spread over 20 services ``svc-00`` .. ``svc-19`` and support-bot, which gets a quarter of
the analyses, gates and sign-offs (alias moves and registrations stay on the others: those
would be drift against the demo's MLflow store). The demo's admin ``alex`` holds every role,
so the ledger also passes an audit that replays authority.

Built ledgers are cached in ``bench/.cache/``: one *base* ledger is grown to the largest size
a benchmark asks for (``base=``), and each smaller size is its exact prefix — entries and
checkpoints 1..N as the library wrote them, the head file and ``ledger.checkpoint`` of
checkpoint N (Ed25519 is deterministic: the bytes the library wrote at that size) and the
derived state rebuilt for N. ``cached(0, ...)`` is the demo as it finished. MLflow records
absolute paths, so a ledger is always unpacked at ``LOCATION`` (a RAM disk where there is
one; ``GOVCTL_BENCH_LEDGER_DIR`` chooses another). The cache is keyed by size, that
location and ``MIX_VERSION`` (bump it when the mix, the demo or the
entry format changes); a ledger built by older code is upgraded by the library on first
use, as any older repo is. Run ``python bench/ledgers.py N`` to (re)build one.
"""

from __future__ import annotations

import hashlib
import json
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
LOCATION = Path(os.environ.get("GOVCTL_BENCH_LEDGER_DIR") or Path(
    "/dev/shm" if Path("/dev/shm").is_dir() else tempfile.gettempdir()) / "govctl-bench-ledger")
DEMO_SERVICE = "support-bot"
MIX = (("canary.analyze", 55), ("gate.evaluate", 30), ("checklist.signoff", 8),
       ("transition", 4), ("data.add", 2), ("model.register", 1))
ROLES = ["admin", "eng-lead", "product-owner", "compliance", "ml-engineer", "releaser",
         "oncall"]
ITEMS = ["use-case", "acceptance-metrics", "data-inventory", "data-lineage", "held-out-eval",
         "no-regression", "red-team", "agreement-signed", "retrieval-access", "pii-retention",
         "prompt-injection", "tracing", "cost-alerts", "fallback-modes", "rollback-plan",
         "incident-playbook", "data-allowed", "data-pushed", "prompts-pinned", "model-drift"]


MIX_VERSION = 2


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
    action = rng.choices([a for a, _ in MIX], [w for _, w in MIX])[0]
    if action in ("canary.analyze", "gate.evaluate", "checklist.signoff") and rng.random() < 0.25:
        service, version = DEMO_SERVICE, str(rng.randint(1, 3))
    subject = {"kind": "service", "name": service, "version": version}
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


def demo(directory: Path) -> tuple[Path, Path]:
    """``govctl demo`` at ``directory`` through the library: (repo, keys home)."""
    os.environ["GOVCTL_NOW"] = ""
    from govctl.demo.run import run

    summary = run(directory, quiet=True)
    (directory.parent / "demo-summary.json").write_text(json.dumps(summary, indent=2))
    return Path(summary["repo"]), Path(summary["govctl_home"])


def demo_versions() -> dict[str, str]:
    """The demo's model versions (``v1``.. ``v3`` -> MLflow version) in the unpacked ledger."""
    return dict(json.loads((LOCATION / "demo-summary.json").read_text())["versions"])


def grow(repo: Path, n: int, *, seed: int = 7, progress: bool = True) -> None:
    """Grow the demo repo's ledger to ``n`` entries through the library, one append (and
    checkpoint) per command, intents completed; the demo's admin first gets every role."""
    from govctl import trust
    from govctl.config import find_repo
    from govctl.ledger.log import Ledger
    from govctl.signing.keys import KeyStore

    gov = find_repo(repo)
    key = KeyStore().load("alex")
    ledger = Ledger.for_repo(gov)
    signers = [s.model_dump(exclude_none=True) for s in trust.read_current(gov).signers]
    if set(signers[0]["roles"]) != set(ROLES):
        signers[0]["roles"] = ROLES
        trust.amend(gov, {"signers": signers}, [key], note="bench: every role for alex")
    rng = random.Random(seed)
    started = time.perf_counter()
    count = start = ledger.size()
    while count < n:
        for ev in _events(rng):
            if count >= n:
                break
            if ev.get("phase") == "intent":
                intent = ledger.intent(key, ev["action"], ev["subject"], evidence=ev["evidence"])
                count += 1
                if count < n:
                    ledger.complete(key, intent, evidence=ev["evidence"])
                    count += 1
            else:
                ledger.append(key, ev["action"], ev["subject"], evidence=ev.get("evidence"),
                              note=ev.get("note"))
                count += 1
        if progress and count % 5000 < 2:
            rate = (count - start) / (time.perf_counter() - started)
            print(f"  grown to {count:,} entries ({rate:,.0f}/s)", file=sys.stderr)


def _tar(n: int) -> Path:
    where = hashlib.sha256(str(LOCATION).encode()).hexdigest()[:8]  # MLflow's absolute paths
    return CACHE / f"ledger-{n}-mix{MIX_VERSION}-{where}.tar"


def _extract(tar: Path, dest: Path) -> None:
    with tarfile.open(tar) as t:
        t.extractall(dest, filter="fully_trusted")


def _store(tar: Path) -> None:
    with tarfile.open(tar.with_suffix(".tmp"), "w") as t:
        t.add(LOCATION, ".")
    tar.with_suffix(".tmp").rename(tar)


def _truncate(repo: Path, n: int) -> None:
    """Cut the ledger of ``repo`` to its first ``n`` entries: what the library had
    written when it held ``n`` (the same checkpoint, head file and checkpoint note)."""
    import sqlite3

    from govctl.config import find_repo
    from govctl.ledger import checkpoint as note
    from govctl.ledger.log import Ledger
    from govctl.signing import dsse
    from govctl.signing.keys import KeyStore

    gov = find_repo(repo)
    db = sqlite3.connect(gov.state / "ledger.db")
    with db:
        db.execute("delete from govctl_entries where seq > ?", (n,))
        db.execute("delete from govctl_checkpoints where tree_size > ?", (n,))
        body, sig = db.execute("select body, sig from govctl_checkpoints where tree_size = ?",
                               (n,)).fetchone()
        lid = db.execute("select value from govctl_meta where key = 'ledger_id'").fetchone()[0]
    db.execute("vacuum")
    db.close()
    env = dsse.Envelope(dsse.LEDGER_CHECKPOINT, bytes(body),
                        [dsse.Signature("", dsse.b64d(sig, "checkpoint signature"))])
    (gov.state / "ledger.head.json").write_text(env.dumps())
    cp = note.Checkpoint(note.origin_for(lid), n, bytes.fromhex(json.loads(body)["root"]))
    (gov.root / note.FILE).write_bytes(note.sign(cp, KeyStore().load("alex")))
    Ledger.for_repo(gov).rebuild_state()


def cached(n: int, *, base: int | None = None) -> tuple[Path, Path]:
    """The demo repo with an ``n``-entry ledger (0: as the demo left it) unpacked at
    ``LOCATION``: (repo, keys home). From the cache; else cut from a cached base ledger of
    at least ``n`` entries (grown to ``base`` entries first if there is none)."""
    CACHE.mkdir(parents=True, exist_ok=True)
    tar = _tar(n)
    repo, home = LOCATION / "demo" / DEMO_SERVICE, LOCATION / "demo" / ".keys"
    os.environ["GOVCTL_HOME"] = str(home)
    os.environ["DVC_SITE_CACHE_DIR"] = str(LOCATION / "demo" / ".cache" / "dvc")
    if not tar.exists():
        bigger = sorted(m for m in _sizes() if m > n) if n else []  # 0: the demo itself
        if not bigger and (base or n) > n:
            cached(base or n)  # grows and caches the base
            bigger = [base or n]
        if bigger:
            cached(bigger[0])
            _truncate(repo, n)
        else:
            shutil.rmtree(LOCATION, ignore_errors=True)
            LOCATION.mkdir(parents=True)
            demo(LOCATION / "demo")
            if n:
                grow(repo, n)
        _store(tar)
    shutil.rmtree(LOCATION, ignore_errors=True)
    LOCATION.mkdir(parents=True)
    _extract(tar, LOCATION)
    return repo, home


def _sizes() -> list[int]:
    out = []
    for p in CACHE.glob(_tar(0).name.replace("-0-", "-*-")):
        try:
            out.append(int(p.name.split("-")[1]))
        except ValueError:
            continue
    return out


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    size = int(sys.argv[1]) if len(sys.argv) > 1 else 10_000
    t0 = time.perf_counter()
    where, _ = cached(size)
    print(f"{size:,}-entry ledger ready at {where} in {time.perf_counter() - t0:.1f}s "
          f"(cache: {CACHE})")
