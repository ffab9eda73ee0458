"""Issue 18, done: three git clones of one governed repo on a shared PostgreSQL ledger and a
shared MLflow store; the checkpoint through git's merge driver; DVC in fresh clones; the
checkout's ledger.checkpoint older (fine) or newer (not) than the ledger; secrets in URLs."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
import telemetry_gen
from conftest import ROOT, git, need, run_subprocess
from lifecycle import ok, prepare, register, sign_all

from govctl.config import find_repo
from govctl.ledger import checkpoint as cpm
from govctl.ledger.log import Ledger
from govctl.signing.keys import KeyStore

BASE_URL = os.environ.get("GOVCTL_TEST_POSTGRES_URL")
BOT = {"kind": "service", "name": "bot"}


def dvc(repo: Path, *args: str) -> str:
    proc = subprocess.run([sys.executable, "-m", "dvc", *args], cwd=repo, capture_output=True,
                          text=True)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def _commit(path: Path, msg: str = "governance") -> None:
    git(path, "add", "-A")
    git(path, "commit", "-qm", msg)


@pytest.fixture
def driver_path(monkeypatch):
    """git runs the merge driver ``govctl audit merge-checkpoint``: this worktree's code."""
    monkeypatch.setenv("PATH", f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("PYTHONPATH", str(ROOT))


@pytest.fixture
def shared_sqlite(govctl_home, monkeypatch, tmp_path):
    """One ledger every clone on this machine reaches (a team's shared database)."""
    url = f"sqlite:///{tmp_path / 'shared-ledger.db'}"
    monkeypatch.setenv("GOVCTL_LEDGER_URL", url)
    return url


@pytest.fixture
def pg_ledger(govctl_home, monkeypatch, tmp_path):
    need("postgres", BASE_URL, "GOVCTL_TEST_POSTGRES_URL is not set: no PostgreSQL to test against")
    import sqlalchemy as sa

    name = f"govctl_test_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(BASE_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    url = BASE_URL.rsplit("/", 1)[0] + "/" + name
    monkeypatch.setenv("GOVCTL_LEDGER_URL", url)
    # the shared MLflow store: one SQLite file outside every clone
    shared = f"sqlite:///{tmp_path / 'mlflow-shared.db'}"
    from mlflow import MlflowClient

    MlflowClient(shared).search_experiments()  # the team's store exists before anyone uses it
    monkeypatch.setenv("MLFLOW_TRACKING_URI", shared)
    from govctl.adapters import mlflowstore

    mlflowstore._clients.clear()
    yield url
    sa.create_engine(url).dispose()
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def _publish(repo: Path, tmp_path: Path) -> Path:
    """Push the governed repo to a bare origin."""
    origin = tmp_path / "origin.git"
    git(tmp_path, "init", "-q", "--bare", str(origin))
    git(repo, "remote", "add", "origin", str(origin))
    git(repo, "push", "-q", "origin", "HEAD:main")
    git(repo, "branch", "-q", "--set-upstream-to=origin/main")
    return origin


def _clone(cli, origin: Path, path: Path) -> Path:
    git(path.parent, "clone", "-q", "-b", "main", str(origin), str(path))
    ok(cli("init", str(path), "--admin", "alice"))  # merge driver, local state; keeps the rest
    assert git(path, "status", "--porcelain") == ""  # init in a clone changes no tracked file
    return path


def _sync(path: Path) -> None:
    """Commit what this clone changed (ledger.checkpoint with it), pull, push."""
    if git(path, "status", "--porcelain"):
        _commit(path, f"work in {path.name}")
    git(path, "pull", "-q", "--no-rebase", "--no-edit")
    git(path, "push", "-q", "origin", "HEAD:main")


def test_three_clones_one_ledger_crash_break_finish_verify(pg_ledger, driver_path, signers, repo,
                                                           cli, tmp_path, govctl_home):
    a = repo
    prepare(cli, a)  # data, a signed agreement, a prompt: committed
    store = tmp_path / "dvc-store"
    dvc(a, "remote", "add", "-d", "storage", str(store))
    ok(cli("data", "push"))
    _commit(a, "DVC remote")
    origin = _publish(a, tmp_path)
    b = _clone(cli, origin, tmp_path / "b")
    c = _clone(cli, origin, tmp_path / "c")
    # b, before dvc pull: the bytes are in the remote, so they count as pushed
    assert "already in DVC remote" in ok(cli("data", "push", cwd=b)).out
    dvc(b, "pull", "-q")
    v1 = register(cli)
    sign_all(cli, v1, first_release=True)
    _sync(b)
    # b's promote crashes between MLflow's change and the ledger's completion
    env = {"GOVCTL_CRASH_AT": "transition-applied", "GOVCTL_HOME": str(govctl_home)}
    crashed = run_subprocess("promote", "support-bot", "--version", v1, "--key", "rita",
                             cwd=b, env=env)
    assert crashed.code == 137, crashed.err
    # c sees the lease in the shared ledger; a releaser may not break it, on-call does
    lease = ok(cli("lock", "status", "--json", cwd=c)).json
    assert [x["subject"] for x in lease] == ["service:support-bot"]
    assert cli("lock", "break", "support-bot", "--reason", "x", "--key", "rita").code == 1
    ok(cli("lock", "break", "support-bot", "--reason", "b crashed mid-promote", "--key", "otto"))
    assert cli("lock", "status", "--json").json == []
    _sync(c)  # b's checklist; c's ledger.checkpoint merged by the driver
    res = ok(cli("promote", "support-bot", "--version", v1, "--key", "rita", "--json"))
    assert any("left half-done" in m for m in res.json["messages"])  # finished, then stopped
    assert res.json["state"]["canary"] == v1 and res.json["state"]["canary_weight_pct"] == 5
    good = telemetry_gen.write(tmp_path / "good.jsonl", {v1: {"n": 3000}}, seed=3)
    for _ in range(4):
        ok(cli("canary", "advance", "support-bot", "--telemetry", good, "--key", "rita"))
    assert cli("status", "support-bot", "--json").json["stable"] == v1
    # every clone: commit what it has, pull (ledger.checkpoint through the merge driver)
    for clone in (c, b, a, c):
        _sync(clone)
    size = Ledger.for_repo(find_repo(c)).size()
    for clone in (a, b, c):
        res = cli("audit", "verify", "--json", cwd=clone)
        assert res.code == 0, (clone.name, res.out)
        assert res.json["checkout_checkpoint"] == size and res.json["notes"] == []
    # a fresh clone without ledger access: exit 4, saying where the ledger should be
    os.environ.pop("GOVCTL_LEDGER_URL")
    d = tmp_path / "d"
    git(tmp_path, "clone", "-q", "-b", "main", str(origin), str(d))
    res = cli("audit", "verify", cwd=d)
    assert res.code == 4, res.out + res.err
    assert "ledger_url" in res.err + res.out and "GOVCTL_LEDGER_URL" in res.err + res.out
    assert "intact" not in res.out


def test_diverged_checkpoints_merge_through_the_installed_driver(shared_sqlite, driver_path,
                                                                 repo, cli, tmp_path):
    _commit(repo)
    origin = _publish(repo, tmp_path)
    b = _clone(cli, origin, tmp_path / "b")
    c = _clone(cli, origin, tmp_path / "c")
    alice = KeyStore().load("alice")
    Ledger.for_repo(find_repo(b)).append(alice, "test.event", BOT)
    Ledger.for_repo(find_repo(c)).append(alice, "test.event", BOT)
    sizes = {p.name: cpm.parse((p / cpm.FILE).read_bytes()).size for p in (b, c)}
    assert sizes["c"] == sizes["b"] + 1  # both files changed since their common base
    _sync(b)
    _commit(c, "c's event")
    git(c, "pull", "-q", "--no-rebase", "--no-edit")  # a real three-way merge of the file
    assert cpm.parse((c / cpm.FILE).read_bytes()).size == sizes["c"]
    assert "<<<<<<<" not in (c / cpm.FILE).read_text()
    assert len(git(c, "log", "-1", "--format=%P").split()) == 2  # a merge commit
    assert cli("audit", "verify", cwd=c).code == 0
    # a head the ledger cannot back (another ledger's, or forged) makes the merge fail
    _sync(c)
    git(b, "pull", "-q", "--no-rebase")
    forged = cpm.Checkpoint(cpm.parse((b / cpm.FILE).read_bytes()).origin, sizes["c"],
                            b"\x01" * 32)
    (b / cpm.FILE).write_bytes(cpm.sign(forged, alice))
    _commit(b, "forged head")
    Ledger.for_repo(find_repo(c)).append(alice, "test.event", BOT)
    _commit(c, "another event")
    proc = subprocess.run(["git", "pull", "--no-rebase", "--no-edit", str(b), "HEAD"], cwd=c,
                          capture_output=True, text=True)
    assert proc.returncode != 0 and "CONFLICT" in proc.stdout + proc.stderr


def test_checkout_checkpoint_older_is_a_note_newer_is_tampering(shared_sqlite, repo, cli,
                                                               tmp_path):
    _commit(repo)
    origin = _publish(repo, tmp_path)
    b = _clone(cli, origin, tmp_path / "b")
    alice = KeyStore().load("alice")
    for _ in range(2):
        Ledger.for_repo(find_repo(repo)).append(alice, "test.event", BOT)
    n_old = cpm.parse((b / cpm.FILE).read_bytes()).size
    res = cli("audit", "verify", "--json", cwd=b)  # the ledger only grew: consistency proven
    assert res.code == 0, res.out
    assert res.json["notes"] == [f"the ledger has grown since this checkout's checkpoint "
                                 f"({n_old} \u2192 {n_old + 2}); commit {cpm.FILE} to record it"]
    human = cli("audit", "verify", cwd=b)
    assert human.code == 0 and "commit ledger.checkpoint" in human.out
    # the checkout records more than the ledger holds (lost entries, another ledger): 4
    Ledger.for_repo(find_repo(repo)).append(alice, "test.event", BOT)
    _sync(repo)
    git(b, "pull", "-q", "--no-rebase")
    keep = n_old + 2  # "restored from last night's backup": the newest entry is gone
    db = sqlite3.connect(shared_sqlite[len("sqlite:///"):])
    db.execute("delete from govctl_entries where seq > ?", (keep,))
    db.execute("delete from govctl_checkpoints where tree_size > ?", (keep,))
    db.commit()
    db.close()
    (b / ".govctl" / "ledger.head.json").unlink(missing_ok=True)  # b never saw it itself
    res = cli("audit", "verify", "--json", cwd=b)
    assert res.code == 4, res.out
    assert any("truncated or replaced" in p for p in res.json["problems"])


def test_fresh_clone_counts_remote_bytes_as_pushed(shared_sqlite, signers, repo, cli, tmp_path):
    from govctl.data import datasets

    (repo / "data").mkdir()
    for name, kind in (("train", "train"), ("eval", "eval")):
        (repo / "data" / f"{name}.csv").write_text(f"q,a\n{name},x\n")
        ok(cli("data", "add", f"data/{name}.csv", "--name", f"support-{name}", "--kind", kind,
               "--sensitivity", "internal", "--pii", "none", "--owner", "ml", "--key", "mel"))
    dvc(repo, "remote", "add", "-d", "storage", str(tmp_path / "dvc-store"))
    names = ["support-train", "support-eval"]
    assert len(datasets.check_pushed(find_repo(repo), names)[1]) == 2
    assert "pushed 2 file(s); all 2" in ok(cli("data", "push")).out
    _commit(repo)
    origin = _publish(repo, tmp_path)
    b = _clone(cli, origin, tmp_path / "b")
    assert not (b / "data" / "train.csv").exists()  # no dvc pull yet
    assert datasets.check_pushed(find_repo(b), names) == ("storage", [])  # the gate's item
    res = ok(cli("data", "push", "--json", cwd=b))
    assert res.json["pushed_files"] == 0 and res.json["in_remote"] == 2
    res = ok(cli("data", "push", cwd=b))
    assert "all 2 dataset(s) already in DVC remote 'storage'" in res.out
    # bytes that are nowhere (not in this clone's cache, not in the remote) fail, exit 1
    shutil.rmtree(tmp_path / "dvc-store")
    res = cli("data", "push", cwd=b)
    assert res.code == 1 and "0 of 2 dataset(s)" in res.err and "not in DVC remote" in res.err


def test_unreachable_ledger_url_never_leaks_its_password(repo, cli, monkeypatch):
    monkeypatch.setenv("GOVCTL_LEDGER_URL",
                       "postgresql+psycopg://bob:S3cret@Pass:w0rd@127.0.0.1:9/gov")
    for args in (("audit", "verify"), ("audit", "log"), ("status", "support-bot"),
                 ("lock", "status")):
        res = cli(*args)
        assert res.code in (2, 3, 4), (args, res.out, res.err)
        for secret in ("S3cret", "Pass", "w0rd", "bob"):
            assert secret not in res.out + res.err, (args, res.err)



def test_concurrent_agreement_signing_merges(shared_sqlite, driver_path, signers, repo, cli,
                                             tmp_path, govctl_home):
    """Two operators sign one agreement at once in their own clones; git merges both."""
    ok(cli("agreement", "new", "support-bot"))
    _commit(repo, "agreement")
    origin = _publish(repo, tmp_path)
    b = _clone(cli, origin, tmp_path / "b")
    c = _clone(cli, origin, tmp_path / "c")
    env = {**os.environ, "PYTHONPATH": str(ROOT), "GOVCTL_HOME": str(govctl_home)}
    procs = [subprocess.Popen([sys.executable, "-m", "govctl", "agreement", "sign", "support-bot",
                               "--key", who], cwd=where, env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True)
             for where, who in ((b, "erin"), (c, "paul"))]
    assert [p.wait(timeout=300) for p in procs] == [0, 0], [p.stderr.read() for p in procs]
    _sync(b)
    _commit(c, "paul signs")
    proc = subprocess.run(["git", "pull", "--no-rebase", "--no-edit"], cwd=c,
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr  # no conflict to resolve by hand
    ok(cli("agreement", "sign", "support-bot", "--key", "cora", cwd=c))
    res = cli("agreement", "verify", "support-bot", "--json", cwd=c)
    assert res.code == 0, res.out + res.err
    signed = json.dumps(res.json["signers"])
    assert all(f'"{who}"' in signed for who in ("erin", "paul", "cora")), signed
    assert not res.json["missing_roles"]
    _sync(c)
    _sync(b)
    for clone in (b, c):
        assert cli("audit", "verify", cwd=clone).code == 0
