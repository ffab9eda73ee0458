"""Team mode: an MLflow tracking server on PostgreSQL, the ledger on PostgreSQL, and
several operators acting on the same service at once.

Needs GOVCTL_TEST_POSTGRES_URL (``.ci/run`` sets it) and the full ``mlflow`` package (the
``test`` extra installs it); skipped with that reason otherwise.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
import uuid

import pytest
import telemetry_gen
from conftest import ROOT, need
from lifecycle import ok, prepare, register, sign_all

BASE_URL = os.environ.get("GOVCTL_TEST_POSTGRES_URL")


def _need_postgres() -> None:
    need("postgres", BASE_URL, "GOVCTL_TEST_POSTGRES_URL is not set: no PostgreSQL to test against")


@pytest.fixture(scope="module", autouse=True)
def _postgres():
    """Module-scoped so it runs before the module-scoped server fixture: without a server
    every test skips with the reason instead of erroring in the fixture."""
    _need_postgres()


def _database(name: str) -> str:
    import sqlalchemy as sa

    admin = sa.create_engine(BASE_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return BASE_URL.rsplit("/", 1)[0] + "/" + name


def _drop(name: str) -> None:
    import sqlalchemy as sa

    admin = sa.create_engine(BASE_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(scope="module")
def mlflow_server(tmp_path_factory):
    _need_postgres()  # whatever order fixtures are set up in
    pytest.importorskip("flask", reason="the mlflow extra (full MLflow server) is not installed")
    name = f"govctl_mlflow_{uuid.uuid4().hex[:10]}"
    url = _database(name)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    artifacts = tmp_path_factory.mktemp("artifacts")
    log = open(tmp_path_factory.mktemp("log") / "mlflow.log", "w")  # noqa: SIM115
    proc = subprocess.Popen(
        [sys.executable, "-m", "mlflow", "server", "--host", "127.0.0.1", "--port", str(port),
         "--backend-store-uri", url, "--artifacts-destination", str(artifacts),
         "--workers", "1"],
        stdout=log, stderr=subprocess.STDOUT,
        env={**os.environ, "MLFLOW_DISABLE_TELEMETRY": "true", "DO_NOT_TRACK": "true"})
    uri = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"{uri}/health", timeout=2) as r:
                if r.status == 200:
                    break
        except OSError:
            time.sleep(0.5)
    else:
        proc.terminate()
        pytest.fail(f"mlflow server did not start: {open(log.name).read()[-2000:]}")
    yield uri
    proc.terminate()
    proc.wait(timeout=30)
    log.close()
    _drop(name)


@pytest.fixture
def team(mlflow_server, govctl_home, monkeypatch, tmp_path):
    name = f"govctl_ledger_{uuid.uuid4().hex[:10]}"
    url = _database(name)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", mlflow_server)
    monkeypatch.setenv("GOVCTL_LEDGER_URL", url)
    # each test has a ledger of its own, so prompt versions an earlier test registered on
    # the shared server would rightly be "registered outside govctl": start without them
    from mlflow import MlflowClient

    server = MlflowClient(mlflow_server)
    for prompt in server.search_prompts():
        for v in server.search_prompt_versions(prompt.name):
            server.delete_prompt_version(prompt.name, str(v.version))
        server.delete_prompt(prompt.name)
    from govctl.adapters import mlflowstore

    mlflowstore._clients.clear()
    mlflowstore._registry_clients.clear()
    yield url
    import sqlalchemy as sa

    sa.create_engine(url).dispose()
    _drop(name)


def _env(home, ledger_url, server):
    return {**os.environ, "PYTHONPATH": str(ROOT), "GOVCTL_HOME": str(home),
            "GOVCTL_LEDGER_URL": ledger_url, "MLFLOW_TRACKING_URI": server, "NO_COLOR": "1"}


def test_readme_lifecycle_against_server_and_postgres(team, mlflow_server, signers, repo, cli,
                                                      tmp_path):
    """The README's lifecycle, unchanged but for MLFLOW_TRACKING_URI and the ledger URL."""
    assert not (repo / ".govctl" / "mlflow.db").exists()
    prepare(cli, repo)
    v1 = register(cli)
    sign_all(cli, v1, first_release=True)
    ok(cli("gate", "support-bot", "--version", v1, "--key", "rita"))
    ok(cli("promote", "support-bot", "--version", v1, "--key", "rita"))
    # the MLflow server is shared with the test before: its stable version (if any) serves
    # the rest of the traffic, and the analysis compares against it
    stable = json.loads(cli("status", "support-bot", "--json").out)["stable"]
    good = telemetry_gen.write(tmp_path / "t.jsonl", {v1: {"n": 3000, "error_rate": 0.001}, **(
        {stable: {"n": 6000}} if stable and stable != v1 else {})})
    for _ in range(4):
        ok(cli("canary", "advance", "support-bot", "--telemetry", good, "--key", "rita"))
    v2 = register(cli)
    sign_all(cli, v2)
    ok(cli("promote", "support-bot", "--version", v2, "--key", "rita"))
    ok(cli("rollback", "support-bot", "--reason", "drill", "--key", "otto"))
    assert cli("status", "support-bot", "--json").json["stable"] == v1
    assert cli("audit", "verify").code == 0
    assert cli("model", "verify").code == 0 and cli("prompt", "verify").code == 0
    assert not (repo / ".govctl" / "mlflow.db").exists()
    assert not (repo / ".govctl" / "ledger.db").exists()


def test_rest_reads_agree_with_the_client_on_the_postgres_server(team, mlflow_server, signers,
                                                                 repo, cli, monkeypatch):
    """Every read function, MLflow's REST API spoken directly vs the MLflow client, on the
    PostgreSQL-backed server after a release."""
    from test_mlflow_reads import both_paths, differences

    prepare(cli, repo)
    v1 = register(cli)
    sign_all(cli, v1, first_release=True)
    ok(cli("promote", "support-bot", "--version", v1, "--key", "rita"))
    direct, client, kind = both_paths(repo, None, monkeypatch)
    assert kind == "rest"
    assert differences(direct, client) == []
    assert direct["aliases support-bot"][1]["production-canary"] == v1
    assert direct[f"version_source support-bot {v1}"][0] == "ok"
    # the server is shared with the next tests: leave no canary running on it
    ok(cli("canary", "abort", "support-bot", "--reason", "reads compared", "--key", "rita"))


def test_eight_concurrent_operators(team, mlflow_server, signers, repo, cli, govctl_home,
                                    tmp_path):
    prepare(cli, repo)
    v1 = register(cli)
    sign_all(cli, v1, first_release=True)
    ok(cli("promote", "support-bot", "--version", v1, "--key", "rita"))
    # the MLflow server is shared with the test before: its stable version (if any) serves
    # the rest of the traffic, and the analysis compares against it
    stable = json.loads(cli("status", "support-bot", "--json").out)["stable"]
    good = telemetry_gen.write(tmp_path / "t.jsonl", {v1: {"n": 3000, "error_rate": 0.001}, **(
        {stable: {"n": 6000}} if stable and stable != v1 else {})})
    for _ in range(4):
        ok(cli("canary", "advance", "support-bot", "--telemetry", good, "--key", "rita"))
    v2 = register(cli)
    sign_all(cli, v2, skip=("cost-alerts",))
    both = telemetry_gen.write(tmp_path / "b.jsonl", {v1: {"n": 6000}, v2: {"n": 3000}})
    env = _env(govctl_home, team, mlflow_server)
    commands = [
        ["promote", "support-bot", "--version", v2, "--key", "rita"],
        ["promote", "support-bot", "--version", v2, "--key", "rita"],
        ["canary", "advance", "support-bot", "--telemetry", str(both), "--key", "rita"],
        ["canary", "advance", "support-bot", "--telemetry", str(both), "--key", "rita"],
        ["rollback", "support-bot", "--to-version", v1, "--reason", "drill", "--key", "otto"],
        ["rollback", "support-bot", "--to-version", v1, "--reason", "drill", "--key", "otto"],
        ["checklist", "sign-off", "support-bot", "--version", v2, "--item", "cost-alerts",
         "--key", "otto"],
        ["status", "support-bot", "--json"],
    ]
    for round_ in range(3):  # "passes repeatedly": three rounds from different states
        procs = [subprocess.Popen([sys.executable, "-m", "govctl", *c], cwd=repo, env=env,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                 for c in commands]
        results = [(c, p.wait(timeout=300), p.stdout.read(), p.stderr.read())
                   for c, p in zip(commands, procs, strict=True)]
        for cmd, code, _out, err in results:
            assert "Traceback" not in err, (round_, cmd, err)
            assert code in (0, 1, 2, 5), (round_, cmd, code, err)  # done, refused, nothing to do
            if code == 1 and "gate blocks" not in err and "analysis" not in err:
                assert ("another operation is in progress" in err or "no canary" in err
                        or "already" in err or "no earlier stable version" in err
                        or err == ""), (round_, cmd, err)
        if round_ == 0:
            assert any(code == 0 for c, code, _o, _e in results if c[0] == "checklist")
        assert cli("audit", "verify").code == 0, round_
        status = cli("status", "support-bot", "--json")
        assert status.code == 0, (round_, status.out)  # MLflow aliases match the ledger
        assert json.loads(status.out)["drift"] == [], round_
