"""One context per command: a promote verifies the trust policy, loads the policies,
reads the inventory and builds the lineage at most once each (counted by the library
where each happens, ``govctl.probe``). The gate reads only the inventory entries of the
model's datasets, so a promote reads the whole inventory not at all; and it reads the
ledger by action and subject (indexed queries), so it never scans the whole log."""

from __future__ import annotations

from lifecycle import ok, sign_all

from govctl import probe

ONE_EACH = {probe.TRUST: 1, probe.POLICIES: 1, probe.INVENTORY: 1, probe.LINEAGE: 1,
            probe.LEDGER_SCAN: 1}  # at most: the inventory and the ledger scan are 0 below


def test_one_promote_loads_each_thing_once(signers, repo, clone_template, cli):
    clone_template("registered")
    sign_all(cli, "1", first_release=True)
    probe.reset()
    res = ok(cli("promote", "support-bot", "--version", "1", "--key", "rita", "--json"))
    assert res.json["state"]["canary"] == "1"  # it did the whole promotion
    counts = {k: probe.counts().get(k, 0) for k in ONE_EACH}
    assert counts == {**ONE_EACH, probe.INVENTORY: 0, probe.LEDGER_SCAN: 0}, probe.counts()


def test_gate_and_data_verify_read_the_inventory_and_lineage_once(signers, repo,
                                                                   clone_template, cli):
    clone_template("registered")
    sign_all(cli, "1", first_release=True)
    probe.reset()
    ok(cli("checklist", "status", "support-bot", "--version", "1", "--json"))
    counts = probe.counts()
    assert counts.get(probe.INVENTORY, 0) == 0 and counts.get(probe.LINEAGE) == 1, counts
    assert counts.get(probe.TRUST) == 1 and counts.get(probe.LEDGER_SCAN, 0) == 0, counts
    probe.reset()
    ok(cli("data", "verify"))
    counts = probe.counts()
    assert counts.get(probe.INVENTORY) == 1 and counts.get(probe.LINEAGE) == 1, counts


def test_shared_ledger_reads_see_what_is_appended_meanwhile(signers, repo):
    from govctl import ledger
    from govctl.config import find_repo
    from govctl.context import Context
    from govctl.ledger.log import Ledger
    from govctl.signing.keys import KeyStore

    r = find_repo()
    key = KeyStore().load("mel")
    with Context(r):
        probe.reset()
        before = [e.seq for e in Ledger.for_repo(r).entries()]
        entry = ledger.record(r, key, "note.test", {"kind": "service", "name": "x"})
        after = list(Ledger.for_repo(r).entries(subject_prefix="service:x"))
        assert [e.seq for e in after] == [entry.seq]  # the append is seen ...
        assert [e.seq for e in Ledger.for_repo(r).entries()] == [*before, entry.seq]
        assert probe.counts()[probe.LEDGER_SCAN] == 1  # ... from one read of the log
    probe.reset()
    assert [e.seq for e in Ledger.for_repo(r).entries()] == [*before, entry.seq]
    assert probe.counts()[probe.LEDGER_SCAN] == 1  # outside a context each read scans
