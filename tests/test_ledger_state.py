"""The ledger's derived state: kept in each append, read by index, checked by audit verify."""

from __future__ import annotations

import sqlite3

import ledger_replay

from govctl.config import find_repo
from govctl.ledger.log import Ledger
from govctl.signing.keys import KeyStore


def _ledger(repo):
    key = KeyStore().load("alice")
    ledger_replay.every_role(repo, key)
    ledger = Ledger.for_repo(find_repo(repo))
    ledger_replay.exercise(ledger, key)
    return ledger


def _db(repo):
    return sqlite3.connect(repo / ".govctl" / "ledger.db")


def test_queries_answer_from_the_derived_state(repo, cli):
    ledger = _ledger(repo)
    bot = {"kind": "service", "name": "bot"}
    assert ledger.aliases(bot) == {"production": "1", "staging": "2"}
    assert ledger.prompt_aliases() == {"p": {"production": "1"}}
    assert ledger.last(bot, ["release.promote", "canary.promote"], "production").action == \
        "canary.promote"
    assert ledger.last(bot, ["release.promote"], "staging").evidence["aliases"] == {"staging": "2"}
    assert ledger.last(bot, ["release.promote"], "nowhere") is None
    assert [e.action for e in ledger.open_intents()] == ["canary.step"]
    assert [e.evidence["version"] for e in ledger.versions("model.register", bot)] == ["1", "2"]
    assert [e.subject["name"] for e in ledger.versions("model.register")] == ["bot", "bot",
                                                                             "other"]
    assert [e.action for e in ledger.moves(bot)] == ["release.promote", "canary.promote",
                                                     "release.promote"]
    assert [e.seq for e in ledger.tail(3)] == [ledger.size() - 2, ledger.size() - 1,
                                               ledger.size()]
    assert [e.action for e in ledger.tail(1, subject_prefix="service:other")] == ["model.alias"]
    ledger_replay.check(repo)
    log = cli("audit", "log", "-n", "2", "--json").json
    assert [e["action"] for e in log] == ["canary.step", "canary.analyze"]
    assert cli("audit", "verify").code == 0


def test_an_edited_derived_state_is_tampering(repo, cli):
    _ledger(repo)
    with _db(repo) as db:
        n = db.execute("update govctl_state set value='9' where kind='alias' "
                       "and item='production'").rowcount
    assert n == 1
    for args in (("audit", "verify", "--json"), ("audit", "verify", "--fast", "--json")):
        res = cli(*args)
        assert res.code == 4, res.out
        assert any("derived state" in p and "service:bot/production" in p and "'9'" in p
                   for p in res.json["problems"]), res.json["problems"]


def test_a_deleted_or_added_state_row_is_tampering(repo, cli):
    _ledger(repo)
    with _db(repo) as db:
        db.execute("delete from govctl_state where kind='intent'")  # hide the open intent
        db.execute("insert into govctl_state values ('alias', 'service:bot', '', 'shadow', 3, "
                   "'7')")
    res = cli("audit", "verify", "--json")
    assert res.code == 4
    problem = next(p for p in res.json["problems"] if "derived state" in p)
    assert "lacks intent" in problem and "shadow" in problem


def test_an_edited_index_column_is_tampering(repo, cli):
    _ledger(repo)
    with _db(repo) as db:  # hide an entry from --subject queries without touching its body
        db.execute("update govctl_entries set subject_key='service:elsewhere' where seq=5")
    res = cli("audit", "verify", "--fast", "--json")
    assert res.code == 4 and res.json["first_bad_entry"] == 5
    assert "index columns (subject)" in res.json["problems"][0]


def test_a_ledger_older_than_the_table_is_upgraded(repo, cli):
    _ledger(repo)
    want = ledger_replay_rows(repo)
    with _db(repo) as db:  # what a ledger written before the derived state looks like
        db.execute("drop table govctl_state")
    log = cli("audit", "log", "-n", "1", "--json")  # needs no state: works as it did
    assert log.code == 0 and log.json[0]["action"] == "canary.analyze"
    assert Ledger.for_repo(find_repo(repo)).aliases({"kind": "service", "name": "bot"}) == {
        "production": "1", "staging": "2"}
    assert ledger_replay_rows(repo) == want
    res = cli("audit", "verify", "--json")
    assert res.code == 0, res.out
    ledger_replay.check(repo)


def test_entries_appended_by_an_older_govctl_are_caught_up(repo, cli):
    key = KeyStore().load("alice")
    ledger_replay.every_role(repo, key)
    ledger = Ledger.for_repo(find_repo(repo))
    with _db(repo) as db:
        before = db.execute("select * from govctl_state").fetchall()  # its marks included
    ledger_replay.exercise(ledger, key)
    with _db(repo) as db:  # as if an older govctl had written them: the table lags behind
        db.execute("delete from govctl_state")
        db.executemany("insert into govctl_state values (?, ?, ?, ?, ?, ?)", before)
    res = cli("audit", "verify", "--json")
    assert res.code == 0, res.out
    assert any("brought up to date" in n for n in res.json["notes"])
    ledger_replay.check(repo)
    res = cli("audit", "verify", "--json")
    assert res.code == 0 and not any("brought up to date" in n for n in res.json["notes"])


def test_a_write_rebuilds_state_under_other_rules(repo):
    ledger = _ledger(repo)
    with _db(repo) as db:
        db.execute("update govctl_state set value='9'")  # rows and marks of other rules
    ledger.append(KeyStore().load("alice"), "test.event", {"kind": "service", "name": "bot"})
    ledger_replay.check(repo)


def ledger_replay_rows(repo):
    with _db(repo) as db:
        return db.execute("select * from govctl_state order by 1, 2, 3, 4").fetchall()


def test_the_stdlib_reads_answer_what_sqlalchemy_answers(repo):
    """Read commands read a SQLite ledger without SQLAlchemy: every derived-state query,
    the entries by seq, action and subject, and the leases agree with the store's own."""
    from govctl.adapters import sqlite_ledger
    from govctl.adapters.sql_schema import STATE_MARK
    from govctl.ledger import state

    ledger = _ledger(repo)
    store, url = ledger.store, ledger.url
    rules = (state.META_VERSION, state.STATE_VERSION, state.META_SEQ)
    with store.reading() as conn:
        every = store.state_rows(conn)
    assert len({r.kind for r in every}) >= 5
    cases = [(k, None, None, None) for k in ("intent", "alias", "prompt", "last", "version",
                                             "move", "nothing")]
    cases += [(r.kind, r.subject, [r.action], r.item) for r in every]
    cases += [("last", "service:bot", ["release.promote", "canary.promote"], "production"),
              ("last", "service:bot", [], None), ("alias", "service:nobody", None, None)]
    for kind, subject, actions, item in cases:
        fast = sqlite_ledger.state_rows(url, kind, mark=STATE_MARK, rules=rules,
                                        subject=subject, actions=actions, item=item)
        with store.reading() as conn:
            slow = store.state_rows(conn, kind, subject=subject, actions=actions, item=item)
        assert fast is not None and [tuple(r) for r in fast] == [tuple(r) for r in slow], \
            (kind, subject, actions, item)
    n = ledger.size()
    assert [r.seq for r in sqlite_ledger.entries_at(url, [3, 1, 2, n, n + 5])] == [1, 2, 3, n]
    for action, prefix, since in (("model.register", None, None), (None, "service:b", 4),
                                  ("canary.step", "service:bot", None), ("nothing", None, None)):
        fast = sqlite_ledger.entries(url, action=action, subject_prefix=prefix, since=since)
        with store.reading() as conn:
            slow = list(store.iter_entries(conn, action=action, subject_prefix=prefix,
                                           since=since, columns=("seq", "body")))
        assert [(r.seq, r.body) for r in fast] == [(r.seq, bytes(r.body)) for r in slow]
    assert sqlite_ledger.locks(url) == [tuple(r) for r in store.list_locks()]
    # a table that lags the entries is not read here: the store catches it up first
    with _db(repo) as db:
        db.execute("update govctl_state set value = '1' where kind = ? and item = ?",
                   (STATE_MARK, state.META_SEQ))
    assert sqlite_ledger.state_rows(url, "alias", mark=STATE_MARK, rules=rules) is None
    bot = {"kind": "service", "name": "bot"}
    assert ledger.aliases(bot) == {"production": "1", "staging": "2"}  # caught up
    assert sqlite_ledger.state_rows(url, "alias", mark=STATE_MARK, rules=rules) is not None
