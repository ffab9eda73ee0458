"""Shared fixtures: an isolated key store, the CLI run in-process, a governed repo.

Tests use real git and DVC repos made by the real tools; MLflow tests use a real SQLite
store in a temp dir. Nothing here mocks them.
"""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

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


def isolate(home: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The environment every CLI test runs in: its own key store, a fixed clock."""
    monkeypatch.setenv("GOVCTL_HOME", str(home))
    for var in ("GOVCTL_KEY", "GOVCTL_KEY_PASSPHRASE", "GOVCTL_REPO", "GOVCTL_LEDGER_URL",
                "GOVCTL_NOW", "GOVCTL_DEBUG", "MLFLOW_TRACKING_URI"):
        monkeypatch.delenv(var, raising=False)
    # A fixed clock: tests never depend on the day they run.
    monkeypatch.setenv("GOVCTL_NOW", "2026-11-22T12:00:00Z")
    monkeypatch.setenv("NO_COLOR", "1")
    monkeypatch.setenv("COLUMNS", "200")
    return home


@pytest.fixture
def govctl_home(tmp_path, monkeypatch) -> Path:
    return isolate(tmp_path / "home", monkeypatch)


def run_in_process(*args: str) -> Result:
    """``govctl ARGS`` in this interpreter, output captured without capsys (usable from
    module-scoped fixtures, e.g. the fuzz suite's one governed repo per module)."""
    import contextlib
    import io

    from govctl.cli import main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            main([str(a) for a in args])
            code = 0
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    return Result(code, out.getvalue(), err.getvalue())


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
FUZZ = {"inputs": 0, "tracebacks": 0, "seconds": 0.0}


def pytest_terminal_summary(terminalreporter, exitstatus, config) -> None:
    if FUZZ["inputs"]:
        terminalreporter.write_line(
            f"fuzz: {FUZZ['inputs']} inputs tried, {FUZZ['tracebacks']} tracebacks "
            f"({FUZZ['seconds']:.0f} s)")


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


def run_subprocess(*args: str, cwd: Path, env: dict[str, str] | None = None) -> Result:
    """Run ``python -m govctl ARGS`` in a fresh interpreter (for import and exit tests)."""
    full_env = {**os.environ, "PYTHONPATH": str(ROOT), **(env or {})}
    proc = subprocess.run(
        [sys.executable, "-m", "govctl", *args], cwd=cwd, env=full_env,
        capture_output=True, text=True, timeout=300,
    )
    return Result(proc.returncode, proc.stdout, proc.stderr)


@pytest.fixture
def repo(tmp_path, cli) -> Path:
    """A fresh governed repo (git + DVC + packs + trust policy) with admin ``alice``;
    the current directory is the repo."""
    path = tmp_path / "svc"
    res = cli("init", path, "--admin", "alice")
    assert res.code == 0, res.err
    os.chdir(path)
    return path


@pytest.fixture
def signers(repo, cli):
    """Keys for every default role, added to the trust policy by alice."""

    def add(name: str, *roles: str) -> None:
        assert cli("keys", "generate", name).code == 0
        role_args = [a for r in roles for a in ("--role", r)]
        res = cli("trust", "add", name, *role_args, "--key", "alice")
        assert res.code == 0, res.err

    add("erin", "eng-lead")
    add("paul", "product-owner")
    add("cora", "compliance")
    add("mel", "ml-engineer")
    add("rita", "releaser")
    add("otto", "oncall")
    return add


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
