"""The trust policy: signed versions, thresholds, tampering, expiry."""

from __future__ import annotations

import json

import yaml


def _policy(repo):
    return yaml.safe_load((repo / "policies" / "trust.yaml").read_text())


def test_add_remove_and_verify(repo, cli):
    assert cli("keys", "generate", "bob").code == 0
    res = cli("trust", "add", "bob", "--role", "eng-lead", "--role", "oncall", "--key", "alice")
    assert res.code == 0, res.err
    doc = _policy(repo)
    assert doc["version"] == 2
    assert {"name": "bob"}.items() <= doc["signers"][1].items()
    assert doc["signers"][1]["roles"] == ["eng-lead", "oncall"]
    assert cli("trust", "verify").code == 0
    # --role replaces an existing signer's roles, and says what was dropped
    res = cli("trust", "add", "bob", "--role", "oncall", "--key", "alice")
    assert res.code == 0 and "bob no longer holds eng-lead" in res.err
    assert _policy(repo)["signers"][1]["roles"] == ["oncall"]
    # a validity that has already ended is refused, nothing written
    res = cli("trust", "add", "bob", "--role", "oncall", "--valid-until", "2020-01-01",
              "--key", "alice")
    assert res.code == 2 and "is not in the future" in res.err
    assert _policy(repo)["version"] == 3
    res = cli("trust", "remove", "bob", "--key", "alice")
    assert res.code == 0 and _policy(repo)["version"] == 4
    report = cli("trust", "verify", "--json").json
    assert report["ok"] and report["versions_checked"] == 4
    actions = [e["action"] for e in cli("audit", "log", "--json").json]
    assert actions.count("trust.update") == 4


def test_rolled_back_policy_is_caught_by_the_ledger(repo, cli):
    """git checkout of an older trust.yaml plus deleting the newest history file would
    bring a removed signer back; the ledger remembers the newest version."""
    import shutil

    assert cli("keys", "generate", "bob").code == 0
    assert cli("trust", "add", "bob", "--role", "eng-lead", "--key", "alice").code == 0
    saved = (repo / "policies" / "trust.yaml").read_bytes()
    assert cli("trust", "remove", "bob", "--key", "alice").code == 0
    (repo / "policies" / "trust.yaml").write_bytes(saved)
    (repo / "policies" / "trust.history" / "0003.json").unlink()
    res = cli("trust", "verify")
    # indistinguishable from a clone that has not pulled version 3 yet: behind (exit 1,
    # 'git pull'), never accepted (issue 18: exit 4 only for what being behind can't explain)
    assert res.code == 1 and "records trust policy version 3" in res.err
    assert "git pull" in res.err
    # and whatever relies on the policy fails closed with it
    assert cli("trust", "add", "bob", "--role", "oncall", "--key", "alice").code in (1, 4)
    # a rewritten version (same number, other content) is caught too
    shutil.copy(repo / "policies" / "trust.history" / "0001.json",
                repo / "policies" / "trust.history" / "0003.json")
    assert cli("trust", "verify").code == 4


def test_trust_change_without_a_ledger_changes_nothing(repo, cli):
    assert cli("keys", "generate", "bob").code == 0
    (repo / ".govctl" / "ledger.db").rename(repo / "ledger.db.away")
    before = (repo / "policies" / "trust.yaml").read_bytes()
    res = cli("trust", "add", "bob", "--role", "eng-lead", "--key", "alice")
    assert res.code == 2 and "no ledger" in res.err
    assert (repo / "policies" / "trust.yaml").read_bytes() == before
    assert sorted(p.name for p in (repo / "policies" / "trust.history").iterdir()) == [
        "0001.json"]


def test_add_with_public_key_file(repo, cli, tmp_path):
    assert cli("keys", "generate", "carol").code == 0
    exported = tmp_path / "carol.pub"
    exported.write_text(cli("keys", "export", "carol", "--format", "pem").out)
    res = cli("trust", "add", "carol2", "--role", "compliance", "--public-key", exported,
              "--key", "alice")
    assert res.code == 0, res.err
    assert cli("trust", "show", "--json").json["signers"][1]["name"] == "carol2"


def test_hand_edit_is_tampering(repo, cli):
    path = repo / "policies" / "trust.yaml"
    text = path.read_text()
    path.write_text(text.replace("- admin", "- admin\n  - releaser", 1))
    res = cli("trust", "verify")
    assert res.code == 4
    assert "signers[0].roles" in res.err and "edited by hand" in res.err


def test_forged_history_is_tampering(repo, cli):
    hist = repo / "policies" / "trust.history" / "0001.json"
    env = json.loads(hist.read_text())
    import base64
    sig = bytearray(base64.b64decode(env["signatures"][0]["sig"]))
    sig[0] ^= 1
    env["signatures"][0]["sig"] = base64.b64encode(bytes(sig)).decode()
    hist.write_text(json.dumps(env))
    res = cli("trust", "verify")
    assert res.code == 4 and "does not verify" in res.err


def test_non_admin_cannot_change_trust(repo, cli):
    assert cli("keys", "generate", "bob").code == 0
    assert cli("trust", "add", "bob", "--role", "eng-lead", "--key", "alice").code == 0
    before = (repo / "policies" / "trust.yaml").read_bytes()
    res = cli("trust", "add", "bob", "--role", "admin", "--key", "bob")
    assert res.code == 1 and "may not trust.update" in res.err
    assert (repo / "policies" / "trust.yaml").read_bytes() == before
    assert len(list((repo / "policies" / "trust.history").iterdir())) == 2


def test_threshold_of_two_admins(repo, cli):
    assert cli("keys", "generate", "bob").code == 0
    assert cli("trust", "add", "bob", "--role", "admin", "--key", "alice").code == 0
    # raise the threshold: a new version whose trust.update needs 2 admins
    from govctl import trust
    from govctl.config import find_repo
    from govctl.signing.keys import KeyStore

    r = find_repo()
    reqs = {k: v.model_dump(exclude_defaults=True) for k, v in trust.read_current(r).requirements.items()}
    reqs["trust.update"] = {"roles": {"admin": 2}}
    trust.amend(r, {"requirements": reqs}, [KeyStore().load("alice")])
    assert cli("keys", "generate", "carl").code == 0
    before = (repo / "policies" / "trust.yaml").read_bytes()
    res = cli("trust", "add", "carl", "--role", "oncall", "--key", "alice")
    assert res.code == 1 and "1 more admin" in res.err
    assert (repo / "policies" / "trust.yaml").read_bytes() == before
    # the same admin twice still counts once
    res = cli("trust", "add", "carl", "--role", "oncall", "--key", "alice", "--key", "alice")
    assert res.code == 1 and "1 more admin" in res.err
    res = cli("trust", "add", "carl", "--role", "oncall", "--key", "alice", "--key", "bob")
    assert res.code == 0, res.err
    assert cli("trust", "verify").code == 0


def test_cannot_remove_last_admin(repo, cli):
    res = cli("trust", "remove", "alice", "--key", "alice")
    assert res.code == 2 and "no admin left" in res.err


def test_malformed_trust_yaml(repo, cli):
    path = repo / "policies" / "trust.yaml"
    path.write_text("version: [1\n")
    res = cli("trust", "show")
    assert res.code == 2 and "policies/trust.yaml:" in res.err and "invalid YAML" in res.err
    assert "Traceback" not in res.err
    res = cli("trust", "verify")
    assert res.code in (2, 4) and "Traceback" not in res.err


def test_unknown_key_and_unknown_role(repo, cli):
    res = cli("trust", "add", "ghost", "--role", "eng-lead", "--key", "alice")
    assert res.code == 2 and "no key named 'ghost'" in res.err
    assert cli("keys", "generate", "bob").code == 0
    res = cli("trust", "add", "bob", "--role", "Bad Role", "--key", "alice")
    assert res.code == 2 and "unknown role 'Bad Role'" in res.err
    # a typo would grant a role no requirement uses: refused, with the roles that exist
    res = cli("trust", "add", "bob", "--role", "eng-leads", "--key", "alice")
    assert res.code == 2 and "unknown role 'eng-leads'" in res.err and "eng-lead," in res.err
    assert _policy(repo)["version"] == 1


def test_expired_policy_fails_closed(repo, cli, monkeypatch):
    monkeypatch.setenv("GOVCTL_NOW", "2099-01-01T00:00:00Z")
    res = cli("trust", "verify")
    assert res.code == 1 and "expired" in res.out
    res = cli("trust", "renew", "--expires", "2100-01-01", "--key", "alice")
    assert res.code == 0, res.err
    assert cli("trust", "verify").code == 0


def test_pinned_root_detects_replaced_history(repo, cli, tmp_path):
    # Replace the whole chain with one made by another admin: the pinned root catches it.
    other = tmp_path / "other"
    assert cli("keys", "generate", "mallory").code == 0
    assert cli("init", other, "--admin", "mallory").code == 0
    import shutil

    shutil.rmtree(repo / "policies" / "trust.history")
    shutil.copytree(other / "policies" / "trust.history", repo / "policies" / "trust.history")
    shutil.copy(other / "policies" / "trust.yaml", repo / "policies" / "trust.yaml")
    res = cli("trust", "verify", cwd=repo)
    assert res.code == 4 and "pinned" in res.err


def test_a_re_signed_rewrite_of_an_old_version_is_caught_by_the_ledger(repo, cli):
    """An admin re-signs version 2 with other content (bob given compliance) and puts it
    in the history: every signature in the chain verifies and trust.yaml still matches the
    newest version, so only the digest the ledger recorded for version 2 tells."""
    from govctl.signing import dsse
    from govctl.signing.canonical import canonical_bytes
    from govctl.signing.dsse import Envelope, Signature
    from govctl.signing.keys import KeyStore

    assert cli("keys", "generate", "bob").code == 0
    assert cli("trust", "add", "bob", "--role", "eng-lead", "--key", "alice").code == 0
    assert cli("trust", "remove", "bob", "--key", "alice").code == 0
    v2 = repo / "policies" / "trust.history" / "0002.json"
    env = Envelope.loads(v2.read_bytes())
    doc = env.payload_json()
    bob = next(s for s in doc["signers"] if s["name"] == "bob")
    bob["roles"] = ["compliance", "eng-lead"]
    payload = canonical_bytes(doc)
    alice = KeyStore().load("alice")
    forged = Envelope(dsse.TRUST_POLICY, payload,
                      [Signature(alice.key_id, alice.sign(dsse.pae(dsse.TRUST_POLICY, payload)))])
    v2.write_text(forged.dumps())
    res = cli("trust", "verify")
    assert res.code == 4, res.err
    assert "trust policy version 2" in res.err and "the history was rewritten" in res.err
