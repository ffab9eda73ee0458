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


def _state(ledger):
    with ledger.store.reading() as conn:
        return [tuple(r) for r in ledger.store.state_rows(conn)]


def test_derived_state_on_postgres_matches_sqlite(pg_repo, cli, tmp_path, monkeypatch):
    import ledger_replay

    from govctl.config import find_repo
    from govctl.ledger.log import Ledger
    from govctl.signing.keys import KeyStore

    key = KeyStore().load("alice")
    ledger_replay.every_role(pg_repo, key)
    pg = Ledger.for_repo(find_repo(pg_repo))
    ledger_replay.exercise(pg, key)
    ledger_replay.check(pg_repo)
    assert cli("audit", "verify").code == 0
    monkeypatch.delenv("GOVCTL_LEDGER_URL")
    lite = tmp_path / "sqlite" / "svc"  # the same repo name: the same entries
    assert cli("init", lite, "--admin", "alice").code == 0
    ledger_replay.every_role(lite, key)
    ledger_replay.exercise(Ledger.for_repo(find_repo(lite)), key)
    assert pg.url.startswith("postgresql")
    assert _state(pg) == _state(Ledger.for_repo(find_repo(lite)))
    assert len(_state(pg)) > 10


def test_tampered_and_missing_derived_state_on_postgres(pg_repo, pg_url, cli):
    import ledger_replay
    import sqlalchemy as sa

    from govctl.config import find_repo
    from govctl.ledger.log import Ledger
    from govctl.signing.keys import KeyStore

    key = KeyStore().load("alice")
    ledger_replay.every_role(pg_repo, key)
    ledger_replay.exercise(Ledger.for_repo(find_repo(pg_repo)), key)
    engine = sa.create_engine(pg_url)
    with engine.begin() as conn:
        conn.execute(sa.text("update govctl_state set value = '9' where kind = 'alias'"))
    res = cli("audit", "verify", "--json")
    assert res.code == 4 and any("derived state" in p for p in res.json["problems"])
    with engine.begin() as conn:  # a team ledger written before the derived state existed
        conn.execute(sa.text("drop table govctl_state"))
    engine.dispose()
    assert Ledger.for_repo(find_repo(pg_repo)).aliases({"kind": "service", "name": "bot"}) == {
        "production": "1", "staging": "2"}
    assert cli("audit", "verify").code == 0
    ledger_replay.check(pg_repo)


def test_a_read_only_auditor_replays_a_lagging_state(pg_repo, pg_url, cli, monkeypatch):
    """Someone with SELECT only on the team ledger, which an older govctl appended to:
    the queries replay the entries in memory instead of updating the table."""
    import ledger_replay
    import sqlalchemy as sa

    from govctl.config import find_repo
    from govctl.ledger.log import Ledger
    from govctl.signing.keys import KeyStore

    key = KeyStore().load("alice")
    ledger_replay.every_role(pg_repo, key)
    ledger_replay.exercise(Ledger.for_repo(find_repo(pg_repo)), key)
    role = f"govctl_ro_{uuid.uuid4().hex[:8]}"
    engine = sa.create_engine(pg_url)
    with engine.begin() as conn:
        conn.execute(sa.text("update govctl_state set value = '3' where kind = '~' "
                             "and item = 'seq'"))
        conn.execute(sa.text(f"create role {role} login"))
        conn.execute(sa.text(f"grant select on all tables in schema public to {role}"))
    monkeypatch.setenv("GOVCTL_LEDGER_URL", pg_url.replace("postgres@", f"{role}@"))
    try:
        ledger = Ledger.for_repo(find_repo(pg_repo))
        assert ledger.aliases({"kind": "service", "name": "bot"}) == {"production": "1",
                                                                       "staging": "2"}
        assert [e.action for e in ledger.open_intents()] == ["canary.step"]
        ledger.store.engine.dispose()
        res = cli("audit", "verify", "--json")
        assert res.code == 0, res.out
        assert any("was not compared" in n for n in res.json["notes"])
    finally:
        with engine.begin() as conn:
            conn.execute(sa.text("select pg_terminate_backend(pid) from pg_stat_activity "
                                 f"where usename = '{role}'"))
            conn.execute(sa.text(f"drop owned by {role}"))
            conn.execute(sa.text(f"drop role {role}"))
        engine.dispose()


def test_fast_verify_carries_forward_on_postgres(pg_repo, pg_url, cli, monkeypatch):
    """The hash pass reads PostgreSQL through the store: the same mark, the same catches."""
    import sqlalchemy as sa

    from govctl.config import find_repo
    from govctl.ledger import scan
    from govctl.ledger.log import Ledger
    from govctl.signing.keys import KeyStore

    monkeypatch.setattr(scan, "RANGE", 4)
    ledger, key = Ledger.for_repo(find_repo()), KeyStore().load("alice")
    for i in range(12):
        ledger.append(key, "test.event", {"kind": "service", "name": "bot", "i": i})
    assert cli("audit", "verify").code == 0
    res = cli("audit", "verify", "--fast", "--json")
    assert res.code == 0 and res.json["carried_forward"] == 12, res.out
    engine = sa.create_engine(pg_url)
    with engine.begin() as conn:
        conn.execute(sa.text("update govctl_entries set action = 'test.hidden' where seq = 5"))
    engine.dispose()
    res = cli("audit", "verify", "--fast", "--json")
    assert res.code == 4 and res.json["carried_forward"] == 0
    assert "index columns (action)" in res.json["problems"][0]


def test_a_verification_while_others_append_on_postgres(pg_repo, cli, monkeypatch):
    """A team's ledger grows while CI verifies it: entries appended after the verification
    fixed what it checks are growth (a note), not tampering (exit 4)."""
    from govctl.config import find_repo
    from govctl.ledger import ranges
    from govctl.ledger.log import Ledger
    from govctl.signing.keys import KeyStore

    def append(n):
        ledger, key = Ledger.for_repo(find_repo()), KeyStore().load("alice")
        for i in range(n):
            ledger.append(key, "test.event", {"kind": "service", "name": "bot", "i": i})

    real = ranges.check_all

    def meanwhile(*args, **kwargs):
        out = real(*args, **kwargs)
        append(2)  # a teammate's command, between the scan and the checks
        return out

    monkeypatch.setattr(ranges, "check_all", meanwhile)
    res = cli("audit", "verify", "--json")
    assert res.code == 0 and res.json["problems"] == [], res.out
    assert any("2 entries appended while this ran" in n for n in res.json["notes"]), res.out
