"""The ledger on PostgreSQL: same code, linearised appends under concurrent processes.

Needs a PostgreSQL server: set GOVCTL_TEST_POSTGRES_URL (``.ci/run`` does), e.g.
``postgresql+psycopg://postgres@127.0.0.1:5432/postgres``. Each test gets its own database.
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid

import pytest
from conftest import ROOT, need

BASE_URL = os.environ.get("GOVCTL_TEST_POSTGRES_URL")


@pytest.fixture(autouse=True)
def _postgres():
    need("postgres", BASE_URL, "GOVCTL_TEST_POSTGRES_URL is not set: no PostgreSQL to test against")


@pytest.fixture
def pg_url():
    import sqlalchemy as sa

    name = f"govctl_test_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(BASE_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    url = BASE_URL.rsplit("/", 1)[0] + "/" + name
    yield url
    sa.create_engine(url).dispose()
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture
def pg_repo(tmp_path, cli, pg_url, monkeypatch):
    monkeypatch.setenv("GOVCTL_LEDGER_URL", pg_url)
    path = tmp_path / "svc"
    res = cli("init", path, "--admin", "alice")
    assert res.code == 0, res.err
    monkeypatch.chdir(path)
    return path


def test_init_and_verify_on_postgres(pg_repo, cli):
    assert not (pg_repo / ".govctl" / "ledger.db").exists()
    log = cli("audit", "log", "--json").json
    assert [e["action"] for e in log] == ["repo.init", "trust.update"]
    assert cli("audit", "verify").code == 0


def test_eight_concurrent_writers_never_fork(pg_repo, pg_url, govctl_home):
    script = (
        "from govctl.config import find_repo\n"
        "from govctl.signing.keys import KeyStore\n"
        "from govctl.ledger.log import Ledger\n"
        "l = Ledger.for_repo(find_repo()); k = KeyStore().load('alice')\n"
        "for i in range(10):\n"
        "    l.append(k, 'test.concurrent', {'kind': 'service', 'name': 'bot', 'i': i})\n"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT), "GOVCTL_LEDGER_URL": pg_url,
           "GOVCTL_HOME": str(govctl_home)}
    procs = [subprocess.Popen([sys.executable, "-c", script], cwd=pg_repo, env=env)
             for _ in range(8)]
    assert [p.wait(timeout=300) for p in procs] == [0] * 8
    import sqlalchemy as sa

    with sa.create_engine(pg_url).connect() as conn:
        seqs = [r[0] for r in conn.execute(sa.text("select seq from govctl_entries order by seq"))]
        sizes = [r[0] for r in conn.execute(
            sa.text("select tree_size from govctl_checkpoints order by tree_size"))]
    assert seqs == list(range(1, 83))
    assert sizes == list(range(1, 83))  # one checkpoint per append, no fork, no gap


def test_tampering_on_postgres_is_found(pg_repo, pg_url, cli):
    import sqlalchemy as sa

    with sa.create_engine(pg_url).begin() as conn:
        conn.execute(sa.text(
            "update govctl_entries set body = convert_to(replace(convert_from(body, 'UTF8'), "
            "'repo.init', 'repo.xxxx'), 'UTF8') where seq = 1"))
    res = cli("audit", "verify", "--json")
    assert res.code == 4 and res.json["first_bad_entry"] == 1


def test_unreachable_database_is_exit_3(repo, cli, monkeypatch):
    monkeypatch.setenv("GOVCTL_LEDGER_URL", "postgresql+psycopg://postgres@127.0.0.1:1/none")
    res = cli("audit", "log")
    assert res.code == 3 and "ledger database" in res.err
    assert "Traceback" not in res.err
