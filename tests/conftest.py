"""Shared fixtures: an isolated key store, the CLI run in-process, a governed repo.

Tests use real git and DVC repos made by the real tools; MLflow tests use a real SQLite
store in a temp dir. Nothing here mocks them.

Building a governed repo with signers (and, for release tests, data, agreement, prompt and
a promoted model version) through the CLI takes seconds; tests get a copy of one built
once per session instead (:func:`templates`, :func:`clone_template`): the repo, its keys
and its MLflow store, whose absolute artifact locations are rewritten for the copy.
"""

from __future__ import annotations

import contextlib
import io
import os
import shutil
import sqlite3
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

# Property tests judge the properties, never the machine's speed: no deadline, and no
# "input generation is slow" failure when another process keeps a core busy.
settings.register_profile("govctl", deadline=None,
                          suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("govctl")

ROOT = Path(__file__).resolve().parent.parent

# Offline machines: no telemetry from MLflow or DVC, ever.
os.environ["MLFLOW_DISABLE_TELEMETRY"] = "true"
os.environ["DO_NOT_TRACK"] = "true"
os.environ["DVC_NO_ANALYTICS"] = "1"
for var, value in {
    "GIT_AUTHOR_NAME": "govctl tests",
    "GIT_AUTHOR_EMAIL": "tests@example.invalid",
    "GIT_COMMITTER_NAME": "govctl tests",
    "GIT_COMMITTER_EMAIL": "tests@example.invalid",
}.items():
    os.environ.setdefault(var, value)


@dataclass
class Result:
    code: int
    out: str
    err: str

    @property
    def json(self):
        import json

        return json.loads(self.out)


def _isolate(monkeypatch, home: Path) -> None:
    monkeypatch.setenv("GOVCTL_HOME", str(home))
    for var in ("GOVCTL_KEY", "GOVCTL_KEY_PASSPHRASE", "GOVCTL_REPO", "GOVCTL_LEDGER_URL",
                "GOVCTL_NOW", "GOVCTL_DEBUG", "MLFLOW_TRACKING_URI"):
        monkeypatch.delenv(var, raising=False)
    # A fixed clock: tests never depend on the day they run.
    monkeypatch.setenv("GOVCTL_NOW", "2026-11-22T12:00:00Z")
    monkeypatch.setenv("NO_COLOR", "1")
    monkeypatch.setenv("COLUMNS", "200")


def isolate(home: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The environment every CLI test runs in: its own key store, a fixed clock."""
    _isolate(monkeypatch, home)
    return home


# mlflow.set_experiment() exports these (for subprocesses); a test that calls it must not
# hand its experiment to the next test's store, nor to a demo run in a fresh interpreter
MLFLOW_EXPORTS = ("MLFLOW_EXPERIMENT_ID", "MLFLOW_EXPERIMENT_NAME")


@pytest.fixture(autouse=True)
def _mlflow_exports():
    for var in MLFLOW_EXPORTS:
        os.environ.pop(var, None)
    yield
    for var in MLFLOW_EXPORTS:
        os.environ.pop(var, None)


@pytest.fixture
def govctl_home(tmp_path, monkeypatch) -> Path:
    home = tmp_path / "home"
    _isolate(monkeypatch, home)
    return home


def _capture(main: Callable[[list[str]], object], args: tuple) -> Result:
    """A command-line ``main(ARGS)`` in this interpreter, its output and exit code captured
    (no pytest fixture needed)."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            main([str(a) for a in args])
            code = 0
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    return Result(code, out.getvalue(), err.getvalue())


def run_in_process(*args: str) -> Result:
    """``govctl ARGS`` in this interpreter, output captured without capsys (usable from
    module-scoped fixtures, e.g. the fuzz suite's one governed repo per module)."""
    from govctl.cli import main

    return _capture(main, args)


def run_hook_in_process(*args: str) -> Result:
    """``govctl-hook ARGS`` (the pre-commit hooks' command line) in this interpreter."""
    from govctl.hooks import main

    return _capture(main, args)


def tree_hash(root: Path) -> str:
    """Every file under ``root`` (``.git`` aside) by path and content. SQLite databases
    count by their logical content (a dump): a checkpoint folding the -wal file into the
    main file rewrites its bytes without changing a row, and the -shm/-wal scratch files
    are not content at all."""
    import hashlib
    import sqlite3

    h = hashlib.sha256()
    for p in sorted(root.rglob("*")):
        rel = p.relative_to(root)
        if not p.is_file() or ".git" in rel.parts or p.name.endswith(("-shm", "-wal",
                                                                       "-journal")):
            continue
        h.update(str(rel).encode() + b"\0")
        with p.open("rb") as fh:
            head = fh.read(16)
        if head == b"SQLite format 3\0":
            conn = sqlite3.connect(f"file:{p}?mode=ro", uri=True)
            try:
                for line in conn.iterdump():
                    h.update(line.encode())
            finally:
                conn.close()
        else:
            h.update(p.read_bytes())
    return h.hexdigest()


#: The fuzz suite's tally (tests/test_fuzz.py), printed at the end of every run.
FUZZ = {"inputs": 0, "cli": 0, "tracebacks": 0, "seconds": 0.0}


#: The modules that take longest (a minute or more of one worker, measured with
#: ``--durations``), started first: pytest-xdist's ``--dist loadfile`` hands modules out in
#: collection order, and a long module handed out last leaves the other workers idle
#: while it finishes (longest-first keeps the run's tail short).
LONGEST_FIRST = ("test_fuzz.py", "test_team.py", "test_demo.py", "test_demo_no_regression.py",
                 "test_mlflow_reads.py", "test_team_clones.py", "test_adoption.py",
                 "test_dvc_pipelines.py", "test_dossier.py", "test_architecture.py")


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_auto_num_workers(config) -> int:
    """``-n auto``: one worker more than the cores this process may use. Many tests spend
    part of their time waiting (on an MLflow server or PostgreSQL, on their subprocesses,
    on the next whole second of a canary window); the extra worker keeps the cores busy
    meanwhile, as ``make -j`` one over the core count does."""
    return len(os.sched_getaffinity(0)) + 1 if hasattr(os, "sched_getaffinity") else (
        (os.cpu_count() or 1) + 1)


def pytest_collection_modifyitems(session, config, items) -> None:
    rank = {name: i for i, name in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))  # stable: rest as found


def pytest_sessionfinish(session) -> None:
    workeroutput = getattr(session.config, "workeroutput", None)
    if workeroutput is not None:  # a pytest-xdist worker: hand the tally to the controller
        workeroutput["fuzz"] = dict(FUZZ)


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node, error) -> None:
    """pytest-xdist's controller: add up the workers' fuzz tallies."""
    for key, value in getattr(node, "workeroutput", {}).get("fuzz", {}).items():
        FUZZ[key] += value


def pytest_terminal_summary(terminalreporter, exitstatus, config) -> None:
    if FUZZ["inputs"]:
        terminalreporter.write_line(
            f"fuzz: {FUZZ['inputs']} inputs tried ({FUZZ['cli']} through the CLI), "
            f"{FUZZ['tracebacks']} tracebacks ({FUZZ['seconds']:.0f} s)")


@pytest.fixture
def cli(govctl_home, capsys, monkeypatch):
    """Run ``govctl ARGS`` in-process; returns Result(code, out, err)."""
    from govctl.cli import main

    def run(*args: str, cwd: Path | None = None) -> Result:
        if cwd is not None:
            monkeypatch.chdir(cwd)
        capsys.readouterr()
        try:
            main([str(a) for a in args])
            code = 0
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        out, err = capsys.readouterr()
        return Result(code, out, err)

    return run


def run_subprocess(*args: str, cwd: Path, env: dict[str, str] | None = None,
                   hang: float = 300) -> Result:
    """Run ``python -m govctl ARGS`` in a fresh interpreter (for import and exit tests).
    ``hang``: seconds after which the command is taken to hang (a guard against a stuck
    test, set far beyond what a loaded machine needs, never a performance check)."""
    full_env = {k: v for k, v in os.environ.items() if k not in MLFLOW_EXPORTS}
    full_env = {**full_env, "PYTHONPATH": str(ROOT), **(env or {})}
    proc = subprocess.run(
        [sys.executable, "-m", "govctl", *args], cwd=cwd, env=full_env,
        capture_output=True, text=True, timeout=hang,
    )
    return Result(proc.returncode, proc.stdout, proc.stderr)


SIGNERS = (("erin", "eng-lead"), ("paul", "product-owner"), ("cora", "compliance"),
           ("mel", "ml-engineer"), ("rita", "releaser"), ("otto", "oncall"))


def _adder(cli) -> Callable[..., None]:
    def add(name: str, *roles: str) -> None:
        assert cli("keys", "generate", name).code == 0
        role_args = [a for r in roles for a in ("--role", r)]
        res = cli("trust", "add", name, *role_args, "--key", "alice")
        assert res.code == 0, res.err

    return add


def _add_signers(cli, repo: Path) -> None:
    add = _adder(cli)
    for name, role in SIGNERS:
        add(name, role)


def relocate_mlflow(db: Path, old: Path, new: Path) -> int:
    """Rewrite the absolute paths MLflow stored for ``old`` (artifact locations and URIs of
    experiments, runs, model versions, traces) to ``new``, in every text column of the
    SQLite store. Returns the number of values changed."""
    if not db.exists():
        return 0
    changed = 0
    con = sqlite3.connect(db)
    try:
        tables = [r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        for table in tables:
            for col in con.execute(f'PRAGMA table_info("{table}")').fetchall():
                if "CHAR" in col[2].upper() or "TEXT" in col[2].upper():
                    cur = con.execute(
                        f'UPDATE "{table}" SET "{col[1]}" = replace("{col[1]}", ?, ?) '
                        f'WHERE instr("{col[1]}", ?) > 0', (str(old), str(new), str(old)))
                    changed += cur.rowcount
        con.commit()
    finally:
        con.close()
    return changed


def copy_governed(src: Path, dst: Path) -> None:
    """A working copy of a template's repo (``src/svc``) and keys (``src/home``) at ``dst``."""
    for part in ("svc", "home"):
        if (dst / part).exists():
            shutil.rmtree(dst / part)
        shutil.copytree(src / part, dst / part, symlinks=True)
    relocate_mlflow(dst / "svc" / ".govctl" / "mlflow.db", src / "svc", dst / "svc")


# name -> (parent template, build step run in-process inside the repo)
TEMPLATES: dict[str, tuple[str | None, Callable[[Callable, Path], None]]] = {
    "signed": (None, _add_signers),
}


@pytest.fixture(scope="session")
def templates(tmp_path_factory) -> Callable[[str], Path]:
    """A directory holding ``svc`` (a governed repo) and ``home`` (its keys) built once per
    session for a name in :data:`TEMPLATES` (lifecycle.py adds the release stages)."""
    built: dict[str, Path] = {}

    def get(name: str) -> Path:
        if name in built:
            return built[name]
        import lifecycle  # noqa: F401 - registers the release stages

        parent, step = TEMPLATES[name]
        base = tmp_path_factory.mktemp(f"template-{name}")
        old_cwd = os.getcwd()
        with pytest.MonkeyPatch.context() as mp:
            _isolate(mp, base / "home")
            try:
                if parent is None:
                    res = run_in_process("init", base / "svc", "--admin", "alice")
                    assert res.code == 0, res.err
                else:
                    copy_governed(get(parent), base)
                os.chdir(base / "svc")

                def run(*args: str, cwd: Path | None = None) -> Result:
                    if cwd is not None:
                        os.chdir(cwd)
                    return run_in_process(*args)

                step(run, base / "svc")
            finally:
                os.chdir(old_cwd)
        built[name] = base
        return base

    return get


@pytest.fixture
def clone_template(templates, govctl_home, tmp_path) -> Callable[[str], Path]:
    """``clone_template(name)``: this test's ``svc`` repo and keys become a copy of the
    session's template ``name``; the current directory is the repo."""

    def clone(name: str) -> Path:
        copy_governed(templates(name), tmp_path)
        assert govctl_home == tmp_path / "home"
        os.chdir(tmp_path / "svc")
        return tmp_path / "svc"

    return clone


@pytest.fixture
def repo(tmp_path, cli, request) -> Path:
    """A fresh governed repo (git + DVC + packs + trust policy) with admin ``alice``;
    the current directory is the repo. With ``signers`` (and the embedded SQLite stores)
    it is a copy of the session's ``signed`` template."""
    embedded = not (os.environ.get("GOVCTL_LEDGER_URL") or os.environ.get("MLFLOW_TRACKING_URI"))
    if "signers" in request.fixturenames and embedded:  # templates use the embedded stores
        return request.getfixturevalue("clone_template")("signed")
    path = tmp_path / "svc"
    res = cli("init", path, "--admin", "alice")
    assert res.code == 0, res.err
    os.chdir(path)
    return path


@pytest.fixture
def signers(repo, cli):
    """Keys for every default role (erin eng-lead, paul product-owner, cora compliance,
    mel ml-engineer, rita releaser, otto oncall), in the trust policy by alice; returns
    ``add(name, *roles)`` for more. A copy of the ``signed`` template has them already;
    a repo on a shared store (not a template copy) gets them here."""
    if not (Path(os.environ["GOVCTL_HOME"]) / "keys" / "erin.key").exists():
        _add_signers(cli, repo)
    return _adder(cli)


def git(repo: Path, *args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=repo, check=True, capture_output=True, text=True
    ).stdout


def need(what: str, available: object, reason: str) -> None:
    """Skip a test whose outside dependency is missing, unless GOVCTL_TEST_REQUIRE (a comma
    list, set by .ci/run) names it: then its absence fails the run instead of hiding it."""
    if available:
        return
    required = {x.strip() for x in os.environ.get("GOVCTL_TEST_REQUIRE", "").split(",")}
    if what in required:
        pytest.fail(f"{reason} (GOVCTL_TEST_REQUIRE={what}: required here)", pytrace=False)
    pytest.skip(reason)
