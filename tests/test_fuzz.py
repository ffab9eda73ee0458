"""Issue 19 item 5: hostile input never breaks govctl.

Every document kind govctl reads from a governed repo is fed structured mutations of a
valid document (types flipped, fields dropped and added, integers beyond 2^53, NaN and
infinities, duplicate keys, control and bidi characters, deep nesting) and raw byte noise.

Two tiers share one released governed repo (built once for the module):

* through the command line (about 85% of the inputs): the whole in-process ``govctl`` CLI,
  every document kind with the commands a user runs on it — ``agreement verify``/``status``
  (the agreement, its signature envelopes, the merged envelope), ``trust verify``/``show``
  (the trust policy and its newest signed version), ``canary analyze`` (the release policy,
  JSONL and CSV telemetry), ``checklist new`` (the template), ``checklist status`` (the
  release checklist, a sign-off, a waiver), ``data show``/``list``/``verify`` (the
  inventory), ``prompt lint`` (prompts), ``audit verify`` (``ledger.checkpoint`` and
  ``.govctl/ledger.head.json``) — and the ``govctl-hook validate`` command pre-commit runs on
  every YAML document kind: exit code in the documented set, never 70, no traceback, the
  input file left as given and every other file of the repo unchanged (by content, SQLite
  databases by their rows; see :class:`Snapshot`);
* the rest through the library entry points those commands call (checklist evidence
  collection, agreement signature collection, telemetry reading plus canary analysis,
  checkpoint verification), so a Python caller gets the same guarantee: only
  :class:`~govctl.errors.GovctlError` (mapped to a documented exit code) may come out, never
  another exception.

The mutated file is restored after every example. ``GOVCTL_FUZZ_SCALE`` scales the number
of examples (default 1: 12,818 inputs per run, 10,918 through the command line); the tally
is printed at the end of the run (summed over pytest-xdist's workers).
"""

from __future__ import annotations

import base64
import copy
import json
import os
import random
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import FUZZ, isolate, run_hook_in_process, run_in_process, tree_hash
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from lifecycle import ok, prepare, register, sign_all

from govctl import errors

SCALE = float(os.environ.get("GOVCTL_FUZZ_SCALE", "1"))
DOCUMENTED = {0, 1, 2, 3, 4, 5}

HOSTILE: list[Any] = [
    2**53 + 1, -(2**63) - 1, 10**40, 0, -1, 1e308, -0.0, float("nan"), float("inf"),
    float("-inf"), True, False, None, "", " ", "0", "1e999", "NaN", "2026-02-30",
    "\x00\x1b[31m[/bold]\u202e", "é" * 300, "a" * 5000, "../../etc/passwd", "[red]x[/red]",
    [], {}, [None], {"": None}, {"a": [1, {"b": None}]},
]


def _deep(depth: int, kind: str) -> Any:
    v: Any = 1
    for _ in range(depth):
        v = [v] if kind == "list" else {"k": v}
    return v


# --- mutation ------------------------------------------------------------------------


def _paths(node: Any, prefix: tuple = ()) -> Iterator[tuple]:
    yield prefix
    if len(prefix) > 40:  # deep nesting is a value here, not somewhere to walk
        return
    if isinstance(node, dict):
        for k, v in node.items():
            yield from _paths(v, (*prefix, k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from _paths(v, (*prefix, i))


def _hostile(rnd: random.Random, blob: bytes) -> Any:
    r = rnd.random()
    if r < 0.08:
        return _deep(rnd.choice([30, 200, 1200]), rnd.choice(["list", "dict"]))
    if r < 0.2:
        return blob.decode("utf-8", "replace")
    return copy.deepcopy(rnd.choice(HOSTILE))  # never shared: no cycles


def mutate_tree(data: Any, rnd: random.Random, blob: bytes) -> Any:
    """One to three structural mutations of a parsed document."""
    for _ in range(rnd.randint(1, 3)):
        paths = list(_paths(data))
        path = rnd.choice(paths)
        if not path:
            if rnd.random() < 0.3:
                data = _hostile(rnd, blob)
            elif isinstance(data, dict):
                data[rnd.choice(["extra", "schema", "\x1b", "1"])] = _hostile(rnd, blob)
            continue
        parent = data
        for p in path[:-1]:
            parent = parent[p]
        last = path[-1]
        op = rnd.random()
        if op < 0.5:
            parent[last] = _hostile(rnd, blob)
        elif op < 0.65 and isinstance(parent, dict):
            del parent[last]
        elif op < 0.75 and isinstance(parent, list):
            del parent[last]
        elif op < 0.85:
            parent[last] = [parent[last]] if rnd.random() < 0.5 else {"value": parent[last]}
        elif isinstance(parent, dict):
            parent[f"unknown_{rnd.randint(0, 9)}"] = _hostile(rnd, blob)
        else:
            parent.append(_hostile(rnd, blob))
    return data


def noise(text: bytes, rnd: random.Random, blob: bytes) -> bytes:
    """Raw byte noise on a document's text."""
    b = bytearray(text)
    op = rnd.random()
    if op < 0.15:
        return blob
    if op < 0.3 and b:
        cut = rnd.randrange(len(b))
        return bytes(b[:cut])
    if op < 0.45:
        nest = rnd.choice([b"[" * 5000, b"{a: " * 3000, b'{"a":' * 5000, b"- " * 3000])
        return nest if rnd.random() < 0.5 else bytes(b) + b"\nx: " + nest
    for _ in range(rnd.randint(1, 8)):
        if not b:
            break
        i = rnd.randrange(len(b))
        choice = rnd.random()
        if choice < 0.4:
            b[i] = rnd.randrange(256)
        elif choice < 0.7:
            b[i:i] = rnd.choice([b"\x00", b"\x1b[2J", b"\xff\xfe", "\u202e".encode(),
                                 b"\r", b"\t", b": ", b"\n- ", b'"', b"\\u0000", blob[:20]])
        else:
            del b[i:i + rnd.randint(1, 20)]
    return bytes(b)


def dup_key_yaml(text: bytes, rnd: random.Random) -> bytes:
    lines = [ln for ln in text.split(b"\n") if ln and not ln.startswith((b" ", b"#", b"-"))]
    return text + b"\n" + rnd.choice(lines) if lines else text


_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_Dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
_PARSED: dict[bytes, Any] = {}


def _parsed(text: bytes) -> Any:
    if text not in _PARSED:
        _PARSED[text] = yaml.load(text, Loader=_Loader)  # noqa: S506 (the safe C loader)
    return _PARSED[text]


def mutate_yaml(text: bytes, rnd: random.Random, blob: bytes) -> bytes:
    r = rnd.random()
    if r < 0.3:
        return noise(text, rnd, blob)
    if r < 0.4:
        return dup_key_yaml(text, rnd)
    data = mutate_tree(copy.deepcopy(_parsed(text)), rnd, blob)
    try:
        out = yaml.dump(data, Dumper=_Dumper, allow_unicode=rnd.random() < 0.5,
                        sort_keys=False)
    except (yaml.YAMLError, RecursionError):
        return noise(text, rnd, blob)
    return out.encode("utf-8", "surrogatepass")


def _json_dump(data: Any, rnd: random.Random, fallback: bytes) -> bytes:
    try:
        return json.dumps(data, ensure_ascii=rnd.random() < 0.5).encode("utf-8", "replace")
    except (ValueError, RecursionError):
        return fallback


def mutate_json(text: bytes, rnd: random.Random, blob: bytes) -> bytes:
    r = rnd.random()
    if r < 0.25:
        return noise(text, rnd, blob)
    if r < 0.32:  # duplicate keys: JSON parsers keep the last one
        return text.replace(b"{", b'{"payload": 1, "payloadType": [], ', 1)
    data = json.loads(text)
    if r < 0.65 and isinstance(data, dict) and isinstance(data.get("payload"), str):
        # a well-formed envelope around a mutated payload: reaches the payload's readers
        try:
            inner = json.loads(base64.b64decode(data["payload"]))
            raw = _json_dump(mutate_tree(inner, rnd, blob), rnd, blob)
        except ValueError:
            raw = blob
        data["payload"] = base64.b64encode(raw).decode()
        return _json_dump(data, rnd, text)
    return _json_dump(mutate_tree(data, rnd, blob), rnd, text)


def mutate_jsonl(text: bytes, rnd: random.Random, blob: bytes) -> bytes:
    lines = text.split(b"\n")
    for _ in range(rnd.randint(1, 6)):
        i = rnd.randrange(len(lines))
        try:
            rec = json.loads(lines[i])
        except (ValueError, RecursionError):
            rec = None
        if rnd.random() < 0.3 or not isinstance(rec, dict) or not rec:
            lines[i] = noise(lines[i], rnd, blob)
        else:
            rec = mutate_tree(rec, rnd, blob) if rnd.random() < 0.5 else {
                **rec, rnd.choice(list(rec)): _hostile(rnd, blob)}
            lines[i] = _json_dump(rec, rnd, lines[i])
    if rnd.random() < 0.1:  # every record of one arm an error, or one record only
        lines = lines[:1] if rnd.random() < 0.5 else [
            ln.replace(b'"error": false', b'"error": true') for ln in lines]
    return b"\n".join(lines)


def mutate_csv(text: bytes, rnd: random.Random, blob: bytes) -> bytes:
    lines = text.split(b"\n")
    for _ in range(rnd.randint(1, 6)):
        i = rnd.randrange(len(lines))
        cells = lines[i].split(b",")
        j = rnd.randrange(len(cells))
        h = _hostile(rnd, blob)
        cells[j] = (h if isinstance(h, str) else json.dumps(h) if not isinstance(h, float)
                    else repr(h)).encode("utf-8", "replace")[:200]
        lines[i] = b",".join(cells) if rnd.random() < 0.8 else noise(lines[i], rnd, blob)
    return b"\n".join(lines)


def mutate_note(text: bytes, rnd: random.Random, blob: bytes) -> bytes:
    lines = text.split(b"\n")
    r = rnd.random()
    if r < 0.35:
        return noise(text, rnd, blob)
    i = rnd.randrange(len(lines))
    lines[i] = rnd.choice([b"", b"9" * 40, b"-1", b"00", b"18446744073709551617", blob[:40],
                           b"\xe2\x80\x94 x " + base64.b64encode(blob[:70]), b"\x1b[31m",
                           lines[i] + b" " + lines[i], base64.b64encode(b"\0" * 31)])
    if rnd.random() < 0.2:
        lines.insert(i, lines[i])
    return b"\n".join(lines)


MUTATORS = {"yaml": mutate_yaml, "json": mutate_json, "jsonl": mutate_jsonl,
            "csv": mutate_csv, "note": mutate_note}


# --- the governed repo ----------------------------------------------------------------


class Governed:
    def __init__(self, root: Path) -> None:
        from govctl.config import find_repo

        self.root = root
        self.repo = find_repo(root)
        self.originals: dict[Path, bytes] = {}

    def original(self, rel: str) -> bytes:
        path = self.root / rel
        if path not in self.originals:
            self.originals[path] = path.read_bytes()
        return self.originals[path]

    def put(self, rel: str, data: bytes) -> None:
        self.original(rel)
        (self.root / rel).write_bytes(data)

    def restore(self) -> None:
        for path, data in self.originals.items():
            if not path.exists() or path.read_bytes() != data:
                path.write_bytes(data)


@pytest.fixture(scope="module")
def governed(tmp_path_factory) -> Iterator[Governed]:
    """One released repo: data, signed agreement, prompt, v1 promoted with a checklist,
    its sign-offs and a waiver, a ledger with a checkpoint, and telemetry files."""
    import telemetry_gen

    base = tmp_path_factory.mktemp("fuzz")
    cwd = os.getcwd()
    with pytest.MonkeyPatch.context() as mp:
        isolate(base / "home", mp)
        cli = run_in_process
        ok(cli("init", base / "svc", "--admin", "alice"))
        root = base / "svc"
        os.chdir(root)
        for name, role in [("erin", "eng-lead"), ("paul", "product-owner"),
                           ("cora", "compliance"), ("mel", "ml-engineer"),
                           ("rita", "releaser"), ("otto", "oncall")]:
            ok(cli("keys", "generate", name))
            ok(cli("trust", "add", name, "--role", role, "--key", "alice"))
        prepare(cli, root)
        v1 = register(cli)
        sign_all(cli, v1, first_release=True, skip=("cost-alerts",))
        ok(cli("checklist", "waive", "support-bot", "--version", v1, "--item", "cost-alerts",
               "--justification", "alerts land next sprint", "--expires", "2026-12-01",
               "--key", "cora"))
        ok(cli("promote", "support-bot", "--version", v1, "--key", "rita"))
        tele = telemetry_gen.write(root / "tele.jsonl", {"1": {"n": 30}, "2": {"n": 30}},
                                   seed=3)
        recs = [json.loads(line) for line in tele.read_text().splitlines()]
        cols = list(recs[0])
        (root / "tele.csv").write_text(
            ",".join(cols) + "\n"
            + "\n".join(",".join(str(r[c]) for c in cols) for r in recs) + "\n")
        g = Governed(root)
        try:
            yield g
        finally:
            os.chdir(cwd)


def _examples(n: int) -> int:
    return max(1, round(n * SCALE))


def _settings(n: int) -> settings:
    return settings(max_examples=_examples(n), deadline=None, database=None,
                    phases=(Phase.explicit, Phase.generate),
                    suppress_health_check=list(HealthCheck))


def fuzz_input(governed: Governed, rel: str, fmt: str, seed: int, blob: bytes) -> bytes:
    data = MUTATORS[fmt](governed.original(rel), random.Random(seed), blob)
    governed.put(rel, data)
    return data


def _tally(fn: Callable[[], Any], data: bytes) -> Any:
    """Run one input; only govctl's own errors (with a documented exit code) may escape."""
    FUZZ["inputs"] += 1
    start = time.perf_counter()
    try:
        return fn()
    except errors.GovctlError as exc:
        assert exc.exit_code in DOCUMENTED, exc
        return exc
    except BaseException as exc:
        FUZZ["tracebacks"] += 1
        raise AssertionError(f"{type(exc).__name__} on input {data[:300]!r}") from exc
    finally:
        FUZZ["seconds"] += time.perf_counter() - start


# --- tier 1: the entry points, many inputs --------------------------------------------

DOCUMENTS = {
    "agreement": "agreements/support-bot.yaml",
    "release-policy": "policies/release.yaml",
    "trust-policy": "policies/trust.yaml",
    "checklist-template": "checklists/prelaunch.yaml",
    "release-checklist": "checklists/releases/support-bot/1.yaml",
    "dataset": "registry/datasets/support-train.yaml",
    "prompt": "registry/prompts/support-answer.yaml",
}


def test_checklist_evidence_survives_hostile_envelopes(governed):
    """Sign-off and waiver envelopes: collect() verifies each and reports what it cannot
    read; the waiver rule judges what it finds."""
    from govctl import clock, trust
    from govctl.release import checklists, waivers

    r = governed.repo
    cl = checklists.load(r, "support-bot", "1")
    policy = trust.load_verified(r)
    d = "checklists/releases/support-bot/1.d/"
    files = [d + "waiver-cost-alerts-cora.json", d + "signoff-use-case-paul.json"]

    @_settings(100)  # the bulk goes through `checklist status` (CLI_TARGETS)
    @given(seed=st.integers(0, 2**32), blob=st.binary(max_size=300), which=st.sampled_from(files))
    def run(seed, blob, which):
        data = fuzz_input(governed, which, "json", seed, blob)

        def call():
            ev = checklists.collect(r, cl, policy, clock.now(), grant_roles={"compliance"})
            for e in ev.values():
                for payload, valid in e.waivers:
                    waivers.is_active(payload, clock.now(), max_days=30, signature_ok=valid)
            return ev
        try:
            _tally(call, data)
        finally:
            governed.restore()

    run()


def test_agreement_signatures_survive_hostile_envelopes(governed):
    from govctl import clock, trust
    from govctl.agreements import signatures
    from govctl.trust import changes

    r = governed.repo
    policy = trust.load_verified(r)
    former = changes.former_signers(r, policy)
    payload = json.loads(governed.original("agreements/support-bot.sigs/erin.json"))["payload"]
    body = base64.b64decode(payload)
    files = ["agreements/support-bot.sigs/erin.json", "agreements/support-bot.signed.json"]

    @_settings(100)  # the bulk goes through `agreement verify` (CLI_TARGETS)
    @given(seed=st.integers(0, 2**32), blob=st.binary(max_size=300), which=st.sampled_from(files))
    def run(seed, blob, which):
        data = fuzz_input(governed, which, "json", seed, blob)

        def call():
            from govctl.signing.dsse import Envelope

            got = signatures.collect(r, "support-bot", body, policy, former, clock.now())
            trust.evaluate(got.merged, policy, "agreement.sign",
                           payload_type=got.merged.payload_type)
            Envelope.loads(data, source=which).payload_json(source=which)
        try:
            _tally(call, data)
        finally:
            governed.restore()

    run()


@pytest.mark.parametrize("fmt", ["jsonl", "csv"])
def test_telemetry_and_canary_analysis_survive_hostile_records(governed, fmt, recwarn):
    from govctl.policy import Policies
    from govctl.release import analysis, canary, telemetry

    r = governed.repo
    rel = f"tele.{fmt}"
    limits = analysis._limits(r, "support-bot")
    cfg = canary.Config.from_policies(Policies.load(r), "production")

    @_settings(100)  # the bulk goes through `canary analyze` (CLI_TARGETS)
    @given(seed=st.integers(0, 2**32), blob=st.binary(max_size=200))
    def run(seed, blob):
        data = fuzz_input(governed, rel, fmt, seed, blob)

        def call():
            batch = telemetry.read(str(governed.root / rel), r)
            canary.analyze(batch, "1", "2", limits, cfg).to_json()
        try:
            _tally(call, data)
        finally:
            governed.restore()

    run()
    assert not [w for w in recwarn if issubclass(w.category, RuntimeWarning)]


def test_checkpoint_note_survives_hostile_bytes(governed):
    from govctl.ledger import checkpoint
    from govctl.trust.policy import load_verified

    keys = {s.name: s.public_raw for s in load_verified(governed.repo).signers}

    @_settings(1500)
    @given(seed=st.integers(0, 2**32), blob=st.binary(max_size=200))
    def run(seed, blob):
        data = MUTATORS["note"](governed.original("ledger.checkpoint"), random.Random(seed),
                                blob)
        _tally(lambda: checkpoint.verify(data, keys), data)

    run()


# --- tier 2: through the CLI, nothing changed -----------------------------------------


class Snapshot:
    """Every file under the repo (``.git`` aside) by content, as :func:`conftest.tree_hash`
    sees it (SQLite databases by their logical content, -wal and -shm aside), kept per
    file: a file whose size, inode and modification time (and its -wal file's) did not
    change is not read again, so checking "nothing changed" after each of thousands of
    commands costs a ``stat`` per file, not a hash of the whole repo."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._cache: dict[str, tuple[tuple, str]] = {}

    def _digest(self, path: Path) -> str:
        import hashlib

        with path.open("rb") as fh:
            head = fh.read(16)
        if head != b"SQLite format 3\0":
            return hashlib.sha256(path.read_bytes()).hexdigest()
        import sqlite3

        h = hashlib.sha256()
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            for line in conn.iterdump():
                h.update(line.encode())
        finally:
            conn.close()
        return h.hexdigest()

    def take(self) -> dict[str, str]:
        out = {}
        skip = len(str(self.root)) + 1
        for dirpath, dirnames, filenames in os.walk(self.root):
            if ".git" in dirnames:
                dirnames.remove(".git")
            names = set(filenames)
            for name in filenames:
                if name.endswith(("-shm", "-wal", "-journal")):
                    continue
                path = os.path.join(dirpath, name)
                st = os.stat(path)
                key: tuple = (st.st_size, st.st_ino, st.st_mtime_ns)
                if name + "-wal" in names:
                    ws = os.stat(path + "-wal")
                    key += (ws.st_size, ws.st_ino, ws.st_mtime_ns)
                rel = path[skip:]
                cached = self._cache.get(rel)
                if cached is None or cached[0] != key:
                    cached = (key, self._digest(Path(path)))
                    self._cache[rel] = cached
                out[rel] = cached[1]
        return out


@pytest.fixture(scope="module")
def pristine(governed) -> tuple[Snapshot, dict[str, str]]:
    snap = Snapshot(governed.root)
    state = snap.take()
    assert tree_hash(governed.root)  # the slow full hash agrees the repo is readable
    return snap, state


VERIFY_AGREEMENT = ("agreement", "verify", "support-bot")
ANALYZE = ("canary", "analyze", "support-bot", "--telemetry", "tele.jsonl", "--baseline", "1",
           "--canary", "2")
CHECKLIST_STATUS = ("checklist", "status", "support-bot", "--version", "1")
SIGNOFFS_DIR = "checklists/releases/support-bot/1.d/"

# (file, format, commands that read it, examples). Every document kind, each through the
# commands a user runs on it (``govctl-hook`` commands are the pre-commit hook's command
# line); the bulk through the fast readers, fewer through the commands that also call
# MLflow and DVC (canary analysis, data verify).
HOOK_VALIDATE = 800
CLI_TARGETS = [
    ("agreements/support-bot.yaml", "yaml", [VERIFY_AGREEMENT, ("agreement", "status")], 400),
    ("agreements/support-bot.sigs/paul.json", "json", [VERIFY_AGREEMENT], 250),
    ("agreements/support-bot.sigs/erin.json", "json", [VERIFY_AGREEMENT,
                                                       ("agreement", "status")], 150),
    ("agreements/support-bot.signed.json", "json", [VERIFY_AGREEMENT], 200),
    ("policies/trust.yaml", "yaml", [("trust", "verify"), ("trust", "show")], 330),
    ("policies/trust.history/LATEST", "json", [("trust", "verify")], 400),
    ("policies/release.yaml", "yaml", [ANALYZE], 40),
    ("tele.jsonl", "jsonl", [ANALYZE], 80),
    ("tele.csv", "csv", [(*ANALYZE[:4], "tele.csv", *ANALYZE[5:])], 80),
    ("checklists/prelaunch.yaml", "yaml", [("checklist", "new", "support-bot", "--version", "1")],
     600),
    ("checklists/releases/support-bot/1.yaml", "yaml", [CHECKLIST_STATUS], 20),
    (SIGNOFFS_DIR + "waiver-cost-alerts-cora.json", "json", [CHECKLIST_STATUS], 30),
    (SIGNOFFS_DIR + "signoff-use-case-paul.json", "json", [CHECKLIST_STATUS], 30),
    ("registry/datasets/support-train.yaml", "yaml",
     [("data", "show", "support-train"), ("data", "list")], 1000),
    ("registry/datasets/support-train.yaml", "yaml", [("data", "verify", "support-train")], 8),
    ("registry/prompts/support-answer.yaml", "yaml",
     [("prompt", "lint", "registry/prompts/support-answer.yaml")], 1400),
    ("ledger.checkpoint", "note", [("audit", "verify")], 150),
    (".govctl/ledger.head.json", "json", [("audit", "verify")], 150),
    *[(rel, "yaml", [("govctl-hook", "validate", "--json", rel)], HOOK_VALIDATE)
      for rel in DOCUMENTS.values()],
]


def _run_command(command: tuple[str, ...]):
    if command[0] == "govctl-hook":
        return run_hook_in_process(*command[1:])
    return run_in_process(*command)


def _target_id(t: tuple) -> str:
    return f"{t[0]}->{'+'.join(c[0] + '-' + c[1] for c in t[2])}"


@pytest.mark.parametrize("target", CLI_TARGETS, ids=_target_id)
def test_cli_survives_hostile_files_and_changes_nothing(governed, pristine, target):
    """Each input through the in-process CLI: a documented exit code (never 70), no
    traceback, the input file as it was given, and every other file as before."""
    rel, fmt, commands, n = target
    if rel.endswith("/LATEST"):  # the newest trust policy version's signed envelope
        folder = governed.root / rel.rsplit("/", 1)[0]
        rel = str(max(folder.glob("*.json")).relative_to(governed.root))
    snap, state = pristine

    @_settings(n)
    @given(seed=st.integers(0, 2**32), blob=st.binary(max_size=200),
           which=st.sampled_from(range(len(commands))))
    def run(seed, blob, which):
        command = commands[which]
        data = fuzz_input(governed, rel, fmt, seed, blob)
        try:
            FUZZ["cli"] += 1
            res = _tally(lambda: _run_command(command), data)
            where = f"{command} on {data[:200]!r}: {res.err[-600:]}"
            assert res.code in DOCUMENTED, where
            assert "Traceback" not in res.err + res.out, where
            assert "a bug in govctl" not in res.err, where
            if command[0] == "govctl-hook":  # 0 clean, 1 findings: each an invalid-* rule
                # (the hook reports any exception as "unreadable" instead of crashing, so a
                # bug shows only as a finding of another rule), readably worded
                assert res.code in (0, 1) and not res.err, where
                for f in json.loads(res.out):
                    assert f["rule"].startswith("invalid-"), (f, where)
                    assert "Traceback" not in f["message"] and "pydantic" not in f["message"], f
            assert (governed.root / rel).read_bytes() == data, f"{command} rewrote {rel}"
        finally:
            governed.restore()
        now = snap.take()
        changed = sorted(k for k in state.keys() | now.keys() if state.get(k) != now.get(k))
        assert not changed, f"{command} on {data[:200]!r} changed {changed}"

    run()
