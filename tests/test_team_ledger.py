"""Issue 18: the ledger head in git, authority replay, proofs, behind-not-tampered, leases
that survive crashes, recovery that stops, URL redaction, trust_root pinning."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
from pathlib import Path

from conftest import git, run_subprocess

from govctl.config import find_repo, redact_url
from govctl.ledger import checkpoint as cpm
from govctl.ledger import merkle
from govctl.ledger.log import Ledger
from govctl.signing import dsse
from govctl.signing.canonical import canonical_bytes
from govctl.signing.dsse import b64e
from govctl.signing.keys import KeyStore

BOT = {"kind": "service", "name": "bot"}


def _commit(path: Path, msg: str = "governance") -> None:
    git(path, "add", "-A")
    git(path, "-c", "user.name=t", "-c", "user.email=t@x", "commit", "-qm", msg)


def test_rewritten_and_resigned_old_entry_fails_naming_entry_and_rule(signers, repo, cli):
    ledger = Ledger.for_repo(find_repo())
    cora, mel = KeyStore().load("cora"), KeyStore().load("mel")
    target = ledger.append(cora, "waiver.grant", BOT, evidence={"item": "pii"}).seq
    for i in range(3):
        ledger.append(mel, "model.register", BOT, evidence={"i": i})
    assert cli("audit", "verify").code == 0
    # mel (a trusted key) rewrites cora's waiver as their own and re-signs every later
    # checkpoint, the head file and ledger.checkpoint: hashes and signatures all verify.
    db = sqlite3.connect(repo / ".govctl" / "ledger.db")
    rows = db.execute("select seq, body from govctl_entries order by seq").fetchall()
    frontier: list[bytes] = []
    actor = {"name": "mel", "key_id": mel.key_id, "public_key": b64e(mel.public_raw)}
    for seq, body in rows:
        if seq == target:
            data = json.loads(body)
            data["actor"], data["evidence"] = actor, {"item": "everything"}
            body = canonical_bytes(data)
            sig = b64e(mel.sign(dsse.pae(dsse.LEDGER_ENTRY, body)))
            db.execute("update govctl_entries set body=?, sig=?, key_id=? where seq=?",
                       (body, sig, mel.key_id, seq))
        frontier = merkle.append(frontier, seq - 1, merkle.leaf_hash(bytes(body)))
        if seq >= target:
            cp = json.loads(db.execute("select body from govctl_checkpoints where tree_size=?",
                                       (seq,)).fetchone()[0])
            cp.update(root=merkle.root(frontier).hex(), key_id=mel.key_id,
                      public_key=b64e(mel.public_raw))
            cpb = canonical_bytes(cp)
            db.execute("update govctl_checkpoints set body=?, sig=? where tree_size=?",
                       (cpb, b64e(mel.sign(dsse.pae(dsse.LEDGER_CHECKPOINT, cpb))), seq))
    db.commit()
    lid = json.loads(cpb)["ledger_id"]
    (repo / ".govctl" / "ledger.head.json").unlink()
    (repo / cpm.FILE).write_bytes(cpm.sign(cpm.Checkpoint(cpm.origin_for(lid), len(rows),
                                                          merkle.root(frontier)), mel))
    res = cli("audit", "verify", "--json")
    assert res.code == 4, res.out
    assert res.json["first_bad_entry"] == target
    assert any(f"entry {target} (waiver.grant)" in p and "rule waiver.grant" in p
               for p in res.json["problems"])


def test_actor_is_the_trust_policy_name_not_the_key_file(repo, cli):
    # generated under one local name, trusted under another from its exported public key
    assert cli("keys", "generate", "laptop-key").code == 0
    exported = cli("keys", "export", "laptop-key")
    assert exported.code == 0, exported.err
    pub_file = repo.parent / "laptop-key.pub.json"
    pub_file.write_text(exported.out)
    res = cli("trust", "add", "dana", "--role", "oncall", "--key", "alice",
              "--public-key", str(pub_file))
    assert res.code == 0, res.err + res.out
    _held_lease(4242, host="elsewhere")
    res = cli("lock", "break", "support-bot", "--reason", "drill", "--key", "laptop-key")
    assert res.code == 0, res.err
    entries = cli("audit", "log", "--json").json
    last = entries[-1]
    assert last["action"] == "lock.break" and last["actor"]["name"] == "dana"
    assert last["actor"]["key_id"] == KeyStore().load("laptop-key").key_id


def test_prove_and_consistency_from_an_old_checkpoint(repo, cli, tmp_path):
    ledger = Ledger.for_repo(find_repo())
    alice = KeyStore().load("alice")
    for i in range(5):
        ledger.append(alice, "test.event", BOT, evidence={"i": i})
    old = tmp_path / "old.checkpoint"
    old.write_bytes((repo / cpm.FILE).read_bytes())
    assert cpm.parse(old.read_bytes()).size == 7
    for i in range(6):
        ledger.append(alice, "test.event", BOT, evidence={"j": i})
    res = cli("audit", "verify", "--from", str(old), "--json")
    assert res.code == 0, res.out
    proof = cli("audit", "prove", "3", "--json").json
    assert proof["tree_size"] == 13
    assert merkle.verify_inclusion(2, 13, bytes.fromhex(proof["leaf_hash"]),
                                   [bytes.fromhex(p) for p in proof["proof"]],
                                   bytes.fromhex(proof["root"]))
    # a head of size 7 with another root (history rewritten since) is caught
    cp = cpm.parse(old.read_bytes())
    forged = cpm.Checkpoint(cp.origin, 7, merkle.leaf_hash(b"other"))
    old.write_bytes(cpm.sign(forged, alice))
    res = cli("audit", "verify", "--from", str(old), "--json")
    assert res.code == 4 and "not consistent" in " ".join(res.json["problems"])
    assert cli("audit", "prove", "99").code == 2


def test_fresh_clone_without_its_ledger_fails_and_says_where(repo, cli, tmp_path):
    assert (repo / cpm.FILE).is_file()
    assert "ledger.checkpoint merge=govctl-checkpoint" in (repo / ".gitattributes").read_text()
    assert "merge-checkpoint" in git(repo, "config", "merge.govctl-checkpoint.driver")
    _commit(repo)
    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", str(repo), str(clone))
    res = cli("audit", "verify", cwd=clone)
    assert res.code == 4, res.out + res.err
    assert "ledger_url" in res.err + res.out and "GOVCTL_LEDGER_URL" in res.err + res.out
    assert cli("init", str(clone), "--admin", "alice").code == 0
    assert "merge-checkpoint" in git(clone, "config", "merge.govctl-checkpoint.driver")
    res = cli("audit", "verify", cwd=clone)
    assert res.code == 4 and "intact" not in res.out


def test_stale_clone_is_behind_not_tampered_and_trust_root_is_pinned(cli, tmp_path):
    a = tmp_path / "a"
    a.mkdir()
    shared = tmp_path / "shared.db"
    (a / "govctl.toml").write_text(f'[govctl]\nledger_url = "sqlite:///{shared}"\n')
    assert cli("init", str(a), "--admin", "alice").code == 0
    assert "trust_root" in (a / "govctl.toml").read_text()  # pinned though the file existed
    _commit(a)
    b = tmp_path / "b"
    git(tmp_path, "clone", "-q", str(a), str(b))
    assert cli("init", str(b), "--admin", "alice").code == 0
    assert cli("audit", "verify", cwd=b).code == 0
    assert cli("keys", "generate", "bob").code == 0
    assert cli("trust", "add", "bob", "--role", "releaser", "--key", "alice", cwd=a).code == 0
    Ledger.for_repo(find_repo(a)).append(KeyStore().load("bob"), "test.event", BOT)
    res = cli("audit", "verify", "--json", cwd=b)
    assert res.code == 1, res.out
    assert "git pull" in res.json["hint"] and not res.json["problems"]
    assert cli("trust", "verify", cwd=b).code == 1
    _commit(a, "bob joins")
    git(b, "pull", "-q", "--no-rebase")
    assert cli("audit", "verify", cwd=b).code == 0


def _held_lease(pid: int, host: str | None = None) -> None:
    import socket

    ledger = Ledger.for_repo(find_repo())
    info = json.dumps({"name": "rita", "host": host or socket.gethostname(), "pid": pid})
    assert ledger.store.try_lock("service:support-bot", info, "t", "2000-01-01T00:00:00Z",
                                 "2999-01-01T00:00:00Z") is None


def test_crashed_advance_leaves_a_lease_that_breaks_and_recovery_stops(signers, repo, cli,
                                                                        tmp_path,
                                                                        clone_template):
    import telemetry_gen

    clone_template("first")  # v1 promoted: a first-release canary
    v1 = "1"
    good = telemetry_gen.write(tmp_path / "good.jsonl", {v1: {"n": 3000}}, seed=3)
    env = {"GOVCTL_CRASH_AT": "transition-applied", "GOVCTL_HOME": os.environ["GOVCTL_HOME"]}
    crashed = run_subprocess("canary", "advance", "support-bot", "--telemetry", str(good),
                             "--key", "rita", cwd=repo, env=env)
    assert crashed.code == 137, crashed.err
    leases = cli("lock", "status", "--json").json
    assert leases and leases[0]["subject"] == "service:support-bot" and leases[0]["pid"]
    assert cli("status", "support-bot", "--json").json["lease"]["holder"] == "rita"
    human = cli("status", "support-bot")
    assert human.code == 0, human.err
    line = next(ln for ln in human.out.splitlines() if "lease is held" in ln)
    assert line.startswith("support-bot: a lease is held by rita (pid ")
    assert str(leases[0]["pid"]) in line and "expires" in line
    res = cli("canary", "advance", "support-bot", "--telemetry", str(good), "--key", "rita",
              "--json")
    assert res.code == 0, res.out + res.err
    assert res.json["state"]["canary_weight_pct"] == 25  # finished 5→25, and stopped
    assert any("left half-done" in m for m in res.json["messages"])
    assert cli("lock", "status", "--json").json == []
    breaks = cli("audit", "log", "--action", "lock.break", "--json").json
    assert breaks and breaks[0]["evidence"]["automatic"] is True
    # a lease held on another host: refused, until an on-call breaks it (a releaser may not)
    _held_lease(4242, host="elsewhere")
    busy = cli("canary", "advance", "support-bot", "--telemetry", str(good), "--key", "rita")
    assert busy.code == 1 and "another operation is in progress" in busy.err
    assert "elsewhere" in busy.err
    assert cli("lock", "break", "support-bot", "--reason", "x", "--key", "rita").code == 1
    assert cli("lock", "break", "support-bot", "--reason", "crashed", "--key", "otto").code == 0
    assert cli("canary", "abort", "support-bot", "--reason", "r", "--key", "rita").code == 0
    # "no canary is running" is decided before the lease: a held lease does not mask it
    _held_lease(4242, host="elsewhere")
    res = cli("canary", "advance", "support-bot", "--telemetry", str(good), "--key", "rita")
    assert res.code == 2 and "no canary is running" in res.err
    assert cli("lock", "break", "support-bot", "--reason", "r", "--key", "otto").code == 0
    res = cli("audit", "verify", "--json")
    assert res.code == 0, res.out


def test_redact_url_hides_users_passwords_and_tokens():
    assert redact_url("postgresql+psycopg://bob:p@ss:w/rd@db:5432/gov") == \
        "postgresql+psycopg://***@db:5432/gov"
    assert "S3cret" not in redact_url("http://bob:S3cretPassw0rd@mlflow:5000/api")
    assert redact_url("https://h/x?token=abc&b=2") == "https://h/x?token=***&b=***"
    assert redact_url("sqlite:////tmp/l.db") == "sqlite:////tmp/l.db"


def test_merge_driver_keeps_the_larger_consistent_head(repo, cli, tmp_path):
    ledger = Ledger.for_repo(find_repo())
    alice = KeyStore().load("alice")
    small = tmp_path / "small"
    small.write_bytes((repo / cpm.FILE).read_bytes())
    ledger.append(alice, "test.event", BOT)
    large = tmp_path / "large"
    large.write_bytes((repo / cpm.FILE).read_bytes())
    res = cli("audit", "merge-checkpoint", str(small), str(small), str(large))
    assert res.code == 0, res.err
    assert small.read_bytes() == large.read_bytes()
    subprocess.run(["true"], check=True)
