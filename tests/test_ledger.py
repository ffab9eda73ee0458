"""The ledger: RFC 6962 hashing, signed entries and checkpoints, tamper detection."""

from __future__ import annotations

import base64
import json
import os
import sqlite3

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from govctl.config import find_repo
from govctl.ledger import merkle
from govctl.ledger.log import Ledger
from govctl.signing.keys import KeyStore


@given(st.lists(st.binary(max_size=16), max_size=70))
@settings(max_examples=60)
def test_frontier_root_equals_rfc6962_mth(entries):
    leaves = [merkle.leaf_hash(e) for e in entries]
    frontier: list[bytes] = []
    for i, leaf in enumerate(leaves):
        frontier = merkle.append(frontier, i, leaf)
        assert merkle.root(frontier) == merkle.mth(leaves[: i + 1])
    assert merkle.root(frontier) == merkle.mth(leaves)


def test_rfc6962_empty_and_single():
    assert merkle.mth([]).hex() == (
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    )
    leaf = merkle.leaf_hash(b"")
    assert leaf.hex() == "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"


def _fill(repo, n=6):
    key = KeyStore().load("alice")
    ledger = Ledger.for_repo(find_repo())
    for i in range(n):
        ledger.append(key, "test.event", {"kind": "service", "name": "bot", "i": i})
    return ledger


def _db(repo):
    return sqlite3.connect(repo / ".govctl" / "ledger.db")


def test_the_stdlib_tail_reads_what_sqlalchemy_reads(repo):
    """``audit log``'s SQLite read (no SQLAlchemy) and the store's query agree on every
    filter, LIKE's wildcards and the escape character taken literally."""
    from govctl.adapters import sqlite_ledger

    key = KeyStore().load("alice")
    ledger = Ledger.for_repo(find_repo())
    for name in ("bot", "bot_2", "bo%t", "bo/t", "Bot", "botany"):
        for action in ("test.a", "test.b"):
            ledger.append(key, action, {"kind": "service", "name": name})
    cases = [(None, None), ("test.a", None), (None, "service:bot"), ("test.b", "service:bo%"),
             (None, "service:bo_"), (None, "service:bo/"), (None, "service:Bot"),
             ("nothing", None), (None, "dataset:")]
    for action, prefix in cases:
        for limit in (1, 3, 100):
            fast = sqlite_ledger.tail(ledger.url, limit, action=action, subject_prefix=prefix)
            with ledger.store.reading() as conn:
                slow = ledger.store.tail(conn, limit, action=action, subject_prefix=prefix)
            assert fast is not None
            assert [(r.seq, r.body) for r in fast] == [(r.seq, bytes(r.body)) for r in slow], \
                (action, prefix, limit)
    assert [r.seq for r in sqlite_ledger.tail(ledger.url, 9, subject_prefix="service:bo%")] \
        == [r.seq for r in sqlite_ledger.tail(ledger.url, 9, subject_prefix="service:bo%t")]
    assert len(sqlite_ledger.tail(ledger.url, 99, subject_prefix="service:bo%")) == 2
    # what it cannot read, it leaves to SQLAlchemy (which reports it)
    assert sqlite_ledger.tail("postgresql+psycopg://h/db", 5) is None
    assert sqlite_ledger.tail(f"sqlite:///{repo}/missing.db", 5) is None
    (repo / "junk.db").write_bytes(b"not a database at all" * 100)
    assert sqlite_ledger.tail(f"sqlite:///{repo}/junk.db", 5) is None
    # a body edited to TEXT behind govctl's back is read as its bytes, not a crash
    with _db(repo) as db:
        db.execute("update govctl_entries set body = cast(body as text) where seq = 3")
    assert [r.seq for r in sqlite_ledger.tail(ledger.url, 99)][-3:] == [3, 2, 1]
    assert sqlite_ledger.tail(ledger.url + "?timeout=5", 5) is None  # SQLAlchemy's options


def test_verify_clean_ledger(repo, cli):
    _fill(repo)
    res = cli("audit", "verify", "--json")
    assert res.code == 0, res.out
    assert res.json["ok"] and res.json["entries"] == 8 and res.json["signatures_checked"] == 8
    assert cli("audit", "verify", "--fast", "--json").json["signatures_checked"] == 0
    log = cli("audit", "log", "--action", "test.event", "--json").json
    assert [e["subject"]["i"] for e in log] == list(range(6))
    assert len(cli("audit", "log", "--subject", "service:bot", "-n", "2", "--json").json) == 2
    assert cli("audit", "log", "-n", "-1").code == 2  # a usage error, not a crash


def test_edited_entry_is_found(repo, cli):
    _fill(repo)
    with _db(repo) as db:
        body = db.execute("select body from govctl_entries where seq=5").fetchone()[0]
        db.execute("update govctl_entries set body=? where seq=5",
                   (body.replace(b'"i":2', b'"i":9'),))
    for args in (["audit", "verify"], ["audit", "verify", "--fast"]):
        res = cli(*args)
        assert res.code == 4
        assert "broken at entry 5" in res.out


def test_deleted_middle_entry_is_found(repo, cli):
    _fill(repo)
    with _db(repo) as db:
        db.execute("delete from govctl_entries where seq=4")
    res = cli("audit", "verify", "--json")
    assert res.code == 4 and res.json["first_bad_entry"] == 4
    assert "entry 4 is missing" in res.json["problems"][0]


def test_reordered_entries_are_found(repo, cli):
    _fill(repo)
    with _db(repo) as db:
        a = db.execute("select body, sig from govctl_entries where seq=3").fetchone()
        b = db.execute("select body, sig from govctl_entries where seq=4").fetchone()
        db.execute("update govctl_entries set body=?, sig=? where seq=3", b)
        db.execute("update govctl_entries set body=?, sig=? where seq=4", a)
    res = cli("audit", "verify", "--json")
    assert res.code == 4 and res.json["first_bad_entry"] == 3
    assert any("reordered" in p for p in res.json["problems"])


def test_truncated_tail_is_found_even_with_its_checkpoints(repo, cli):
    _fill(repo)
    with _db(repo) as db:
        db.execute("delete from govctl_entries where seq>6")
        db.execute("delete from govctl_checkpoints where tree_size>6")
    res = cli("audit", "verify", "--json")
    assert res.code == 4
    assert any("truncated" in p and "ledger.head.json" in p for p in res.json["problems"])


def test_truncated_tail_without_checkpoint_removal(repo, cli):
    _fill(repo)
    with _db(repo) as db:
        db.execute("delete from govctl_entries where seq=8")
    res = cli("audit", "verify", "--json")
    assert res.code == 4 and res.json["first_bad_entry"] == 8


def test_forged_signature_is_found(repo, cli):
    _fill(repo)
    with _db(repo) as db:
        sig = db.execute("select sig from govctl_entries where seq=2").fetchone()[0]
        other = db.execute("select sig from govctl_entries where seq=3").fetchone()[0]
        assert sig != other
        db.execute("update govctl_entries set sig=? where seq=2", (other,))
    res = cli("audit", "verify", "--json")
    assert res.code == 4 and res.json["first_bad_entry"] == 2
    assert "signature does not verify" in res.json["problems"][0]
    # hash-only mode cannot see a swapped signature: it checks content, not authorship
    assert cli("audit", "verify", "--fast").code == 0


def test_entry_by_untrusted_key_is_found(repo, cli):
    assert cli("keys", "generate", "eve").code == 0

    Ledger.for_repo(find_repo()).append(
        KeyStore().load("eve"), "test.event", {"kind": "service", "name": "bot"}
    )
    res = cli("audit", "verify", "--json")
    assert res.code == 4 and "no trust policy version knows" in res.json["problems"][0]


def test_history_rewritten_under_a_trusted_key_id_is_found(repo, cli):
    """Someone with write access to the database rebuilds the ledger with their own key,
    claiming alice's key id: the ids are the keys' hashes, so the claim fails."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from govctl.signing.keys import SigningKey

    _fill(repo, 3)
    r = find_repo()
    old = list(Ledger.for_repo(r).entries())
    os.remove(r.state / "ledger.db")
    os.remove(r.state / "ledger.head.json")
    forged = Ledger.for_repo(r)
    forged.init()
    for e in old:
        k = SigningKey(e.actor["name"], Ed25519PrivateKey.generate())
        k.key_id = e.actor["key_id"]
        forged.append(k, e.action, e.subject, evidence=e.evidence,
                      note="REWRITTEN" if e.seq == 3 else e.note)
    res = cli("audit", "verify", "--json")
    assert res.code == 4, res.out
    assert "carries a different public key" in res.json["problems"][0]
    assert any("checkpoint" in p and "no trust policy version knows" in p
               for p in res.json["problems"])
    # the binding is checked in hash-only mode too: it costs one hash per distinct key
    assert cli("audit", "verify", "--fast").code == 4


def test_intent_and_completion(repo):

    key = KeyStore().load("alice")
    ledger = Ledger.for_repo(find_repo())
    subject = {"kind": "service", "name": "bot"}
    intent = ledger.intent(key, "promote", subject, evidence={"to": "3"})
    assert [e.seq for e in ledger.open_intents(subject)] == [intent.seq]
    done = ledger.complete(key, intent)
    assert done.intent == intent.seq and done.phase == "complete"
    assert ledger.open_intents(subject) == []
    assert ledger.open_intents({"kind": "service", "name": "other"}) == []


def test_subject_needs_kind_and_name(repo):

    with pytest.raises(ValueError):
        Ledger.for_repo(find_repo()).append(KeyStore().load("alice"), "x", {"name": "bot"})


def test_concurrent_appends_never_fork(repo, tmp_path):
    """Several processes appending at once: contiguous sequence, one valid tree."""
    import subprocess
    import sys

    from conftest import ROOT

    script = (
        "import sys; from govctl.config import find_repo; from govctl.signing.keys import KeyStore;"
        "from govctl.ledger.log import Ledger\n"
        "l = Ledger.for_repo(find_repo()); k = KeyStore().load('alice')\n"
        "for i in range(15): l.append(k, 'test.concurrent', {'kind': 'service', 'name': 'bot'})\n"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    procs = [subprocess.Popen([sys.executable, "-c", script], cwd=repo, env=env) for _ in range(4)]
    assert [p.wait(timeout=120) for p in procs] == [0, 0, 0, 0]
    from govctl.trust.policy import trusted_keys

    report = Ledger.for_repo(find_repo()).verify(trusted=trusted_keys(find_repo()))
    assert report.ok, report.problems
    assert report.entries == 2 + 60
    envelope = json.loads((repo / ".govctl" / "ledger.head.json").read_text())
    head = json.loads(base64.b64decode(envelope["payload"]))
    assert head["tree_size"] == 62


def test_lock_is_exclusive_and_expires(repo, monkeypatch):
    from govctl.errors import Busy

    ledger = Ledger.for_repo(find_repo())
    subject = {"kind": "service", "name": "bot"}
    monkeypatch.setenv("GOVCTL_NOW", "2026-11-22T10:00:00Z")
    with ledger.lock(subject, "alice", ttl_seconds=60):
        with pytest.raises(Busy, match="another operation is in progress on service:bot"):
            with ledger.lock(subject, "bob"):
                pass
        with ledger.lock({"kind": "service", "name": "other"}, "bob"):
            pass  # other subjects are independent
    with ledger.lock(subject, "bob"):
        pass  # released on exit
    # a crashed holder's lease runs out
    ledger.store.try_lock("service:bot", "crashed", "t0", "2026-11-22T10:00:00Z",
                          "2026-11-22T10:01:00Z")
    with pytest.raises(Busy):
        with ledger.lock(subject, "bob"):
            pass
    monkeypatch.setenv("GOVCTL_NOW", "2026-11-22T10:02:00Z")
    with ledger.lock(subject, "bob"):
        pass


def test_ledger_file_that_is_not_a_database_fails_closed(repo, cli):
    from conftest import run_subprocess

    _fill(repo)
    for f in (repo / ".govctl").glob("ledger.db*"):
        f.unlink()
    (repo / ".govctl" / "ledger.db").write_bytes(b"not a database at all\n" * 100)
    for args in (("audit", "verify"), ("audit", "log")):
        res = run_subprocess(*args, cwd=repo)  # a fresh process: no pooled connection
        assert res.code == 4, res.err
        assert "ledger.db is unreadable" in res.err and "bug" not in res.err


def test_invalid_ledger_url_is_a_usage_error(repo, cli, monkeypatch):
    monkeypatch.setenv("GOVCTL_LEDGER_URL", "not-a-url")
    res = cli("audit", "verify")
    assert res.code == 2 and "the ledger URL not-a-url is not valid" in res.err


# --- audit verify --fast carries this clone's last verification forward -------------------


def _marked(repo, cli, monkeypatch, n=14):
    """A ledger of ranges of 4 entries, verified once (the mark covers whole ranges)."""
    from govctl.ledger import scan

    monkeypatch.setattr(scan, "RANGE", 4)
    _fill(repo, n)
    first = cli("audit", "verify", "--json")
    assert first.code == 0 and first.json["carried_forward"] == 0, first.out
    mark = json.loads((repo / ".govctl" / "ledger.verified.json").read_text())
    assert mark["size"] == (first.json["entries"] // 4) * 4 and len(mark["ranges"]) == \
        mark["size"] // 4
    return first.json["entries"], mark["size"]


def test_fast_verify_hashes_what_this_clone_verified_and_checks_the_rest(repo, cli,
                                                                        monkeypatch):
    total, size = _marked(repo, cli, monkeypatch)
    res = cli("audit", "verify", "--fast", "--json")
    assert res.code == 0, res.out
    assert res.json["carried_forward"] == size and res.json["entries"] == total
    assert any(f"entries 1-{size}" in n and "hashed only" in n for n in res.json["notes"])
    # an entry appended since by a key no trust version knows is still judged in full
    assert cli("keys", "generate", "eve").code == 0
    Ledger.for_repo(find_repo()).append(KeyStore().load("eve"), "test.event",
                                        {"kind": "service", "name": "bot"})
    res = cli("audit", "verify", "--fast", "--json")
    assert res.code == 4 and "no trust policy version knows" in res.json["problems"][0]
    assert res.json["carried_forward"] == size


@pytest.mark.parametrize("edit", [
    "update govctl_entries set body = replace(body, '\"i\":2', '\"i\":9') where seq = 5",
    "update govctl_entries set subject_key = 'service:elsewhere' where seq = 3",
    "update govctl_checkpoints set frontier = '[]' where tree_size = 8",
    "update govctl_state set value = '9' where kind = 'last'",
    "delete from govctl_entries where seq = 2",
])
def test_fast_verify_still_sees_an_edit_behind_the_mark(repo, cli, monkeypatch, edit):
    """Whatever changed in the entries, rows or state this clone verified before is found
    and named, as it is without a mark."""
    _marked(repo, cli, monkeypatch)
    with _db(repo) as db:
        assert db.execute(edit).rowcount >= 1
    res = cli("audit", "verify", "--fast", "--json")
    assert res.code == 4, res.out
    assert res.json["problems"]
    (repo / ".govctl" / "ledger.verified.json").unlink()
    unmarked = cli("audit", "verify", "--fast", "--json")
    assert unmarked.code == 4 and unmarked.json["problems"] == res.json["problems"]


def test_a_mark_for_other_rules_or_edited_is_not_used(repo, cli, monkeypatch):
    from govctl.ledger import scan

    _, size = _marked(repo, cli, monkeypatch)
    path = repo / ".govctl" / "ledger.verified.json"
    good = path.read_text()
    monkeypatch.setattr(scan, "RANGE", 8)  # the ranges it recorded are not these
    res = cli("audit", "verify", "--fast", "--json")
    assert res.code == 0 and res.json["carried_forward"] == 0
    monkeypatch.setattr(scan, "RANGE", 4)
    for bad in ("{", "[]", good.replace('"version":', '"versio":'),
                good.replace('"size":' + str(size), '"size":"x"')):
        path.write_text(bad)
        res = cli("audit", "verify", "--fast", "--json")
        assert res.code == 0 and res.json["carried_forward"] == 0, (bad[:40], res.out)
    mark = json.loads(good)
    path.write_text(json.dumps({**mark, "extra": None}))  # not what govctl writes
    res = cli("audit", "verify", "--fast", "--json")
    assert res.code == 0 and res.json["carried_forward"] == 0, res.out
    # a forged mark (another frontier) is not believed: every entry is checked again
    path.write_text(good)
    mark = json.loads(good)
    mark["frontier"] = ["00" * 32] * len(mark["frontier"])
    path.write_text(json.dumps(mark))
    res = cli("audit", "verify", "--fast", "--json")
    assert res.code == 0 and res.json["carried_forward"] == 0
    assert any("changed since" in n for n in res.json["notes"])


def test_fast_verify_over_an_unchanged_trust_history_reads_no_trust_document(repo, cli,
                                                                            monkeypatch):
    """What the replay read of the trust history is kept in the mark with the digest of
    the history files; a --fast run over byte-identical files uses it (no document model
    built), and reads the files again when that part of the mark is unusable."""
    import govctl.trust.policy as policy

    total, size = _marked(repo, cli, monkeypatch)
    path = repo / ".govctl" / "ledger.verified.json"
    good = json.loads(path.read_text())
    assert good["extra"]["trust"][0]["version"] == 1
    real = policy.history

    def unread(*a, **k):
        raise AssertionError("the trust history was read")

    monkeypatch.setattr(policy, "history", unread)
    res = cli("audit", "verify", "--fast", "--json")
    assert res.code == 0 and res.json["carried_forward"] == size, res.out
    forged = json.loads(json.dumps(good["extra"]["trust"]))
    forged[0]["signers"][0][2] = forged[0]["signers"][0][2][::-1]  # another key, same id
    for bad in ("not a chain", [], [{"version": 2, "signers": [], "requirements": {}}],
                forged):
        path.write_text(json.dumps({**good, "extra": {"trust": bad}}))
        res = cli("audit", "verify", "--fast", "--json")
        assert res.code == 70 and "the trust history was read" in res.err, (bad, res.out)
    monkeypatch.setattr(policy, "history", real)
    res = cli("audit", "verify", "--fast", "--json")
    assert res.code == 0 and res.json["carried_forward"] == size, res.out
    assert res.json["entries"] == total


def test_a_mark_is_held_to_every_byte_of_the_rows_it_covers(repo, cli, monkeypatch):
    """A range's digest covers its bodies, index columns, signatures and checkpoint rows:
    a byte changed in any of them (here a body, edited behind govctl's back to the same
    length) makes --fast check everything again and name the entry."""
    import sqlite3

    _marked(repo, cli, monkeypatch)
    db = sqlite3.connect(repo / ".govctl" / "ledger.db")
    body = db.execute("SELECT body FROM govctl_entries WHERE seq = 2").fetchone()[0]
    edited = body.replace(b'"note":null', b'"note":nul ') if b'"note":null' in body else \
        body[:-2] + b" }"
    assert len(edited) == len(body) and edited != body
    with db:
        db.execute("UPDATE govctl_entries SET body = ? WHERE seq = 2", (edited,))
    db.close()
    res = cli("audit", "verify", "--fast", "--json")
    assert res.code == 4 and res.json["carried_forward"] == 0, res.out
    assert res.json["first_bad_entry"] == 2
    assert any("changed since" in n for n in res.json["notes"])


def test_a_new_trust_version_retires_the_mark(repo, cli, monkeypatch):
    _marked(repo, cli, monkeypatch)
    assert cli("keys", "generate", "bob").code == 0
    assert cli("trust", "add", "bob", "--role", "ml-engineer", "--key", "alice").code == 0
    res = cli("audit", "verify", "--fast", "--json")
    assert res.code == 0, res.out
    assert res.json["carried_forward"] == 0  # judged under another trust history
    assert cli("audit", "verify", "--fast", "--json").json["carried_forward"] > 0


def test_a_ledger_damaged_inside_fails_closed_in_every_verification(repo, cli):
    """Pages damaged behind a valid header: the stdlib reader of the verifier (in the
    workers too) reports the ledger unreadable (exit 4), never a crash."""
    from conftest import run_subprocess

    _fill(repo, 40)
    db = sqlite3.connect(repo / ".govctl" / "ledger.db")
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db.close()
    path = repo / ".govctl" / "ledger.db"
    data = bytearray(path.read_bytes())
    page = 4096
    assert len(data) > 8 * page
    for at in range(2 * page, len(data) - page, page):  # every b-tree page but the schema's
        data[at:at + 64] = b"\xff" * 64
    path.write_bytes(bytes(data))
    for args in (("audit", "verify"), ("audit", "verify", "--fast")):
        res = run_subprocess(*args, cwd=repo)
        assert res.code == 4, (args, res.code, res.err)
        assert "unreadable" in res.err and "bug" not in res.err, res.err


def test_a_trust_history_changed_while_read_leaves_no_usable_mark(repo, cli, monkeypatch):
    """The replay's fingerprint is the digest of the files its chain was read from: a
    history that changes while it is read (a git pull meanwhile) matches no later run, so
    the next --fast reads it again instead of judging by a chain of other files."""
    import govctl.trust.facts as facts
    import govctl.trust.policy as policy
    from govctl.ledger import scan

    monkeypatch.setattr(scan, "RANGE", 4)
    _fill(repo, 14)
    real, read = facts.history_digest, policy.history
    pulled: list[int] = []

    def history(r):  # the files change right after they were read (a git pull)
        out = read(r)
        pulled.append(1)
        return out

    monkeypatch.setattr(policy, "history", history)
    monkeypatch.setattr(facts, "history_digest", lambda r: real(r) + ("B" if pulled else "A"))
    assert cli("audit", "verify", "--json").code == 0
    res = cli("audit", "verify", "--fast", "--json")  # the files are B now: no mark of B
    assert res.code == 0 and res.json["carried_forward"] == 0, res.out
    assert cli("audit", "verify", "--fast", "--json").json["carried_forward"] > 0


def test_a_verification_while_others_append_is_not_tampering(repo, cli, monkeypatch):
    """Entries appended by someone else while a verification runs (after it fixed the
    entries it checks) update the derived state, the head file and the checkout's
    checkpoint; that is growth, not tampering: it passes, and says how many it left."""
    from govctl.ledger import ranges

    _fill(repo, 10)
    real = ranges.check_all

    def meanwhile(*args, **kwargs):
        out = real(*args, **kwargs)
        _fill(repo, 3)  # another process appends while this one verifies
        return out

    monkeypatch.setattr(ranges, "check_all", meanwhile)
    checked = []
    for args in (("audit", "verify", "--json"), ("audit", "verify", "--fast", "--json")):
        res = cli(*args)
        assert res.code == 0 and res.json["problems"] == [], (args, res.out)
        assert any("3 entries appended while this ran" in n for n in res.json["notes"]), res.out
        checked.append(res.json["entries"])
    assert checked[1] == checked[0] + 3
    monkeypatch.setattr(ranges, "check_all", real)
    res = cli("audit", "verify", "--json")
    assert res.code == 0 and res.json["entries"] == checked[1] + 3 and not any(
        "appended while" in n for n in res.json["notes"])
