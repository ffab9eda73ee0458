"""``govctl audit verify`` on a 100,000-entry ledger against cryptographic floors.

Floors measured in the same run on the same entries:
- bare Ed25519 verification of every entry signature in one process (target: full audit
  >= 0.8x that rate; govctl spreads the work over all cores);
- hash-and-checkpoint mode (``--fast``): target >= 50,000 entries/s absolute, with the
  ratio to bare SHA-256 of the same entries printed for context.

Run: python bench/bench_audit.py [--entries N]
"""

from __future__ import annotations

import argparse
import hashlib
import os
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

from _common import ROOT, env, report, time_command

sys.path.insert(0, str(ROOT))


def build(repo: Path, n: int, home: Path) -> None:
    os.environ["GOVCTL_HOME"] = str(home)
    from govctl.bootstrap import init
    from govctl.config import find_repo
    from govctl.ledger.log import Ledger
    from govctl.signing.keys import KeyStore

    init(repo, "alice")
    ledger = Ledger.for_repo(find_repo(repo))
    key = KeyStore().load("alice")
    batch = 5000
    for start in range(0, n - 2, batch):
        events = [
            {"action": "bench.event", "subject": {"kind": "service", "name": "bot", "i": i},
             "evidence": {"digest": "sha256:" + hashlib.sha256(str(i).encode()).hexdigest()}}
            for i in range(start, min(start + batch, n - 2))
        ]
        ledger.append_many(key, events)


def floors(db: Path) -> tuple[float, float, int]:
    import json

    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    from govctl.signing import dsse
    from govctl.signing.dsse import b64d

    rows = sqlite3.connect(db).execute("select body, sig from govctl_entries").fetchall()
    items = []
    for body, sig in rows:
        pub = b64d(json.loads(body)["actor"]["public_key"], "k")
        items.append((Ed25519PublicKey.from_public_bytes(pub), b64d(sig, "s"),
                      dsse.pae(dsse.LEDGER_ENTRY, body)))
    start = time.perf_counter()
    for key, sig, msg in items:
        key.verify(sig, msg)
    verify_rate = len(items) / (time.perf_counter() - start)
    start = time.perf_counter()
    for body, _ in rows:
        hashlib.sha256(b"\x00" + body).digest()
    hash_rate = len(rows) / (time.perf_counter() - start)
    return verify_rate, hash_rate, len(rows)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--entries", type=int, default=100_000)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        repo, home = Path(tmp) / "svc", Path(tmp) / "home"
        t0 = time.perf_counter()
        build(repo, args.entries, home)
        print(f"built a {args.entries}-entry ledger in {time.perf_counter() - t0:.1f}s")
        verify_rate, hash_rate, n = floors(repo / ".govctl" / "ledger.db")
        e = env(GOVCTL_HOME=str(home))
        py = [sys.executable, "-m", "govctl", "audit", "verify"]
        full = time_command(py, runs=2, cwd=repo, environ=e)
        fast = time_command([*py, "--fast"], runs=3, cwd=repo, environ=e)
    print(f"floor: bare Ed25519 verify {verify_rate:,.0f}/s (one core); bare SHA-256 "
          f"{hash_rate:,.0f} entries/s")
    ok = report("audit verify (full) rate", n / full, verify_rate, 0.8, unit="/s",
                higher_is_better=True)
    fast_rate = n / fast
    ok_fast = fast_rate >= 50_000
    print(f"{'PASS' if ok_fast else 'MISS'}  audit verify --fast: {fast_rate:,.0f} entries/s "
          f"(target >= 50,000/s; {fast_rate / hash_rate:.3f}x bare SHA-256)")
    return 0 if ok and ok_fast else 1


if __name__ == "__main__":
    sys.exit(main())
