"""Commands at a year's scale: the same service with a ledger of ~100, 1k, 10k and 100k
entries, and a full audit at 200k.

The ledgers come from ``bench/ledgers.py`` (documented there): ``govctl demo``'s support-bot
service with its real MLflow store, grown through the library with a realistic mix — 55 %
canary analyses, 30 % gate evaluations (~7 KB each), 8 % sign-offs, 4 % transitions (intent
+ completion), 2 % dataset additions, 1 % registrations — one signed checkpoint per append;
each smaller size is an exact prefix of the largest. At each size the commands are timed in
rounds, one of each per round with the floors, so load changes hit all alike; the size
targets compare the largest size with the smallest unpacked beside it, in the same rounds.

Targets (issue 22 / 25):

- ``status``, ``audit log -n 10``, ``canary status``, ``checklist status`` at 100k entries
  <= 1.1x their time at ~100 entries;
- ``audit log -n 10`` <= 1.5x ``keys list`` (a command that reads no ledger);
- ``audit verify --fast`` >= 100,000 entries/s after a full verification of the clone (it
  hashes what that one covered and checks the rest: ``govctl.ledger.verified``); the cold
  rate — no mark: every entry checked, every checkpoint signature verified, one per entry
  here — is printed beside it with its floor, every core verifying one signature per entry;
- full ``audit verify`` at 200k: peak RSS <= 150 MiB (the largest process; the sampled sum
  over the verifier's process tree is printed too) and a signature rate >= 0.8 x cores x
  the one-core bare Ed25519 rate, measured round by round on the same ledger's signatures.

Run: python bench/bench_ledger_scale.py [--quick] [--base N]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import ledgers
from _common import ROOT, env, report, time_interleaved

sys.path.insert(0, str(ROOT))

FLOOR = """
import sqlite3, sys, time, json, base64
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
db = sqlite3.connect(f"file:{sys.argv[1]}?mode=ro", uri=True)
n = int(sys.argv[2])
def pae(t, b):
    return b"DSSEv1 %d %b %d %b" % (len(t), t, len(b), b)
work, keys = [], {}
for table, kind, t in (("govctl_entries", "seq", b"application/vnd.govctl.ledger-entry+json"),
                       ("govctl_checkpoints", "tree_size",
                        b"application/vnd.govctl.ledger-checkpoint+json")):
    for body, sig in db.execute(f"select body, sig from {table} order by {kind} desc limit ?",
                                (n // 2,)):
        d = json.loads(body)
        pub = (d.get("actor") or d)["public_key"]
        key = keys.get(pub) or keys.setdefault(pub, Ed25519PublicKey.from_public_bytes(
            base64.b64decode(pub)))
        work.append((key, base64.b64decode(sig), pae(t, bytes(body))))
start = time.perf_counter()
for key, sig, msg in work:
    key.verify(sig, msg)
print(len(work) / (time.perf_counter() - start))
"""


HASH_FLOOR = """
import hashlib, os, sqlite3, sys, time
from multiprocessing import Pool
db, n = sys.argv[1], int(sys.argv[2])
def part(lo):
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    for (body,) in con.execute("select body from govctl_entries where seq > ? and seq <= ?",
                               (lo, lo + 2000)):
        hashlib.sha256(b"\\x00" + body).digest()
    return lo
start = time.perf_counter()
with Pool(len(os.sched_getaffinity(0))) as pool:
    list(pool.imap_unordered(part, range(0, n, 2000)))
print(time.perf_counter() - start)
"""


def _hash_floor(repo: Path, n: int) -> float:
    """Seconds to read and SHA-256 every entry body on every core (bare sqlite3 + hashlib
    in a fresh process, start-up included): what ``--fast`` cannot go below."""
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", HASH_FLOOR, str(repo / ".govctl" / "ledger.db"),
                    str(n)], capture_output=True, text=True, check=True)
    return time.perf_counter() - start


def _cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


def _check_payload_types() -> None:
    from govctl.signing import dsse

    assert dsse.LEDGER_ENTRY == "application/vnd.govctl.ledger-entry+json", dsse.LEDGER_ENTRY
    assert dsse.LEDGER_CHECKPOINT == "application/vnd.govctl.ledger-checkpoint+json"


def _commands(version: str) -> dict[str, list[str]]:
    py = [sys.executable, "-m", "govctl"]
    return {
        "keys list": [*py, "keys", "list"],
        "status": [*py, "status"],
        "audit log -n 10": [*py, "audit", "log", "-n", "10"],
        "canary status": [*py, "canary", "status", ledgers.DEMO_SERVICE],
        "checklist status": [*py, "checklist", "status", ledgers.DEMO_SERVICE, "--version",
                             version],
    }


def _environ(home: Path) -> dict[str, str]:
    return env(GOVCTL_HOME=str(home), GOVCTL_NOW="",
               DVC_SITE_CACHE_DIR=os.environ.get("DVC_SITE_CACHE_DIR", ""))


def _sizes(quick: bool, base: int | None = None) -> tuple[list[int], int]:
    if quick:
        return [100, 1000, 2000], 2000
    top = base or 200_000
    return [n for n in (100, 1000, 10_000, 100_000) if n <= top], top


def _against_smallest(small: int, repo: Path, e: dict[str, str], version: str,
                     runs: int) -> dict[str, float]:
    """The commands at this size and at ``small`` entries in the same rounds: the smaller
    ledger unpacked beside this one (its own keys home), so a load change between sizes
    hits both alike. Keys ``"<command> @big"`` and ``"<command> @small"``."""
    import shutil

    where = ledgers.LOCATION.parent / f"{ledgers.LOCATION.name}-small"
    shutil.rmtree(where, ignore_errors=True)
    where.mkdir(parents=True)
    ledgers._extract(ledgers._tar(small), where)
    small_repo, small_home = where / "demo" / ledgers.DEMO_SERVICE, where / "demo" / ".keys"
    se = _environ(small_home)
    both: dict[str, Any] = {}
    for name, argv in _commands(version).items():
        both[f"{name} @small"] = (argv, small_repo, se)
        both[f"{name} @big"] = (argv, repo, e)
    try:
        return time_interleaved(both, runs=runs, alternate=True)
    finally:
        shutil.rmtree(where, ignore_errors=True)


def _verify(repo: Path, e: dict[str, str], fast: bool) -> tuple[float, dict, float, float]:
    """One ``audit verify [--fast] --json`` run: wall seconds, its report, the peak RSS of
    its largest process and the peak of its process tree's summed RSS (MiB)."""
    argv = [sys.executable, "-m", "govctl", "audit", "verify", "--json"] + (
        ["--fast"] if fast else [])
    wrapper = ("import resource, subprocess, sys; p = subprocess.run(sys.argv[1:], "
               "capture_output=True); sys.stdout.buffer.write(p.stdout); "
               "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, file=sys.stderr)"
               "; sys.exit(p.returncode)")
    start = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-c", wrapper, *argv], cwd=repo, env=e,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    tree_peak = [0.0]
    stop = threading.Event()

    def sample() -> None:
        while not stop.wait(0.1):
            tree_peak[0] = max(tree_peak[0], _tree_rss(proc.pid))

    t = threading.Thread(target=sample, daemon=True)
    t.start()
    out, err = proc.communicate()
    elapsed = time.perf_counter() - start
    stop.set()
    t.join()
    if proc.returncode != 0:
        sys.exit(f"audit verify failed ({proc.returncode}):\n{out.decode()[-2000:]}"
                 f"{err.decode()[-2000:]}")
    maxrss_mib = int(err.decode().strip().splitlines()[-1]) / 1024
    return elapsed, json.loads(out), maxrss_mib, tree_peak[0]


def _tree_rss(pid: int) -> float:
    """Summed RSS (MiB) of ``pid`` and its descendants, from /proc (0 where there is none)."""
    try:
        children: dict[int, list[int]] = {}
        rss: dict[int, int] = {}
        for d in Path("/proc").iterdir():
            if not d.name.isdigit():
                continue
            try:
                fields = (d / "stat").read_text().rsplit(")", 1)[1].split()
                children.setdefault(int(fields[1]), []).append(int(d.name))
                rss[int(d.name)] = int(fields[21]) * os.sysconf("SC_PAGE_SIZE")
            except (OSError, ValueError, IndexError):
                continue
        total, todo = 0, [pid]
        while todo:
            p = todo.pop()
            total += rss.get(p, 0)
            todo += children.get(p, [])
        return total / 2**20
    except OSError:
        return 0.0


def _floor_rate(repo: Path, sample: int) -> float:
    out = subprocess.run([sys.executable, "-c", FLOOR, str(repo / ".govctl" / "ledger.db"),
                          str(sample)], capture_output=True, text=True, check=True)
    return float(out.stdout.strip())


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="small sizes (a smoke run)")
    ap.add_argument("--base", type=int, metavar="N",
                    help="the largest ledger, where the full audit is timed (default 200,000; "
                    "100,000 reuses that cached ledger instead of growing one twice its size)")
    args = ap.parse_args()
    _check_payload_types()
    sizes, top = _sizes(args.quick, args.base)
    runs = 3 if args.quick else 7
    ok = True
    times: dict[int, dict[str, float]] = {}
    fast_rate = cold_rate = 0.0
    for n in sizes:
        t0 = time.perf_counter()
        repo, home = ledgers.cached(n, base=top)
        e = _environ(home)
        version = ledgers.demo_versions()["v3"]
        print(f"{n:,} entries ready in {time.perf_counter() - t0:.0f}s", flush=True)
        times[n] = time_interleaved(_commands(version), runs=runs, cwd=repo, environ=e)
        if n == sizes[-1] and n != sizes[0]:
            scale = _against_smallest(sizes[0], repo, e, version, runs)
        mark = repo / ".govctl" / "ledger.verified.json"
        mark.unlink(missing_ok=True)
        times[n]["audit verify --fast (cold)"] = _verify(repo, e, True)[0]
        full = _verify(repo, e, False)  # as a nightly run leaves it: a mark for --fast
        times[n]["audit verify"] = full[0]
        fast, hashed = [], []
        for _ in range(1 if n < 10_000 else 3):  # interleaved with its floor
            fast.append(_verify(repo, e, True))
            hashed.append(_hash_floor(repo, n))
        assert all(f[1]["carried_forward"] > 0 for f in fast) or n < 2000, fast[0][1]
        times[n]["audit verify --fast"] = statistics.median(f[0] for f in fast)
        times[n]["read+hash floor"] = statistics.median(hashed)
        cold_rate = n / times[n]["audit verify --fast (cold)"]
        print(f"  at {n:,}: " + ", ".join(f"{k} {v:.2f}s" for k, v in times[n].items()),
              flush=True)
        fast_rate = n / times[n]["audit verify --fast"]
    base, big = sizes[0], sizes[-1]
    for name in ("status", "audit log -n 10", "canary status", "checklist status"):
        ok &= report(f"{name} at {big:,} entries vs ~{base} (interleaved)", scale[f"{name} @big"],
                     scale[f"{name} @small"], 1.1)
    print(f"      control: keys list (reads no ledger) at {big:,} vs ~{base}: "
          f"{scale['keys list @big'] / scale['keys list @small']:.2f}x")
    ok &= report(f"audit log -n 10 vs keys list at {big:,} entries", times[big]["audit log -n 10"],
                 times[big]["keys list"], 1.5)
    repo, home = ledgers.cached(top, base=top)
    e = _environ(home)
    rounds = 1 if args.quick else 3
    floors, rates, rss, tree = [], [], [], []
    _verify(repo, e, True)  # warm the page cache
    for _ in range(rounds):
        floors.append(_floor_rate(repo, 4000 if args.quick else 20_000))
        elapsed, rep, maxrss, tree_peak = _verify(repo, e, False)
        rates.append((rep["signatures_checked"] + rep["checkpoints_checked"]) / elapsed)
        rss.append(maxrss)
        tree.append(tree_peak)
    floor = statistics.median(floors)
    cores = _cores()
    ok_fast = fast_rate >= 100_000
    print(f"{'PASS' if ok_fast else 'MISS'}  audit verify --fast at {big:,} entries, after a "
          f"verification of this clone: {fast_rate:,.0f} entries/s (target >= 100,000/s); "
          f"cold (no mark: every entry parsed and checked, every checkpoint signature "
          f"verified): {cold_rate:,.0f}/s, against one checkpoint signature per entry on "
          f"{cores} cores: {cores * floor:,.0f}/s")
    ok &= ok_fast
    print(f"      --fast at {big:,}: {times[big]['audit verify --fast']:.2f}s against "
          f"{times[big]['read+hash floor']:.2f}s to read and hash every entry on {cores} cores "
          f"({times[big]['audit verify --fast'] / times[big]['read+hash floor']:.2f}x)")
    print(f"  full verify at {top:,}: peak RSS {max(rss):.0f} MiB (largest process), "
          f"{max(tree):.0f} MiB summed over its process tree (workers share the parent's "
          f"pages); bare Ed25519 {floor:,.0f}/s on one core")
    ok &= report(f"audit verify peak RSS at {top:,} entries", max(rss), 150.0, 1.0, unit=" MiB")
    ok &= report(f"audit verify signature rate at {top:,} vs {cores} cores x one-core Ed25519",
                 statistics.median(rates), cores * floor, 0.8, unit="/s", higher_is_better=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
