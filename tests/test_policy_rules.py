"""What a policy rule's ``environments`` and ``severity`` do: a rule is in force only in the
environments it lists, and a gate item enforcing a rule takes the rule's severity when it
is the higher one."""

from __future__ import annotations

import pytest
from lifecycle import ok, sign_all

from govctl.policy import Policies

PACK = """\
schema: govctl.policy/v1
rules:
  - id: GOV-DATA-REMOTE
    severity: high
    description: d
    environments: [production]
    params:
      required: {production: true, staging: true}
"""


def test_a_rule_is_in_force_only_in_its_environments():
    p = Policies.from_texts({"policies/p.yaml": PACK})
    assert p.applies("GOV-DATA-REMOTE", "production")
    assert not p.applies("GOV-DATA-REMOTE", "staging")
    assert p.param("GOV-DATA-REMOTE", "required", "production") is True
    assert p.param("GOV-DATA-REMOTE", "required", "staging", default="absent") == "absent"
    assert p.param("GOV-DATA-REMOTE", "required") == {"production": True, "staging": True}


def test_severity_is_the_higher_of_item_and_rule():
    p = Policies.from_texts({"policies/p.yaml": PACK})
    assert p.severity("GOV-DATA-REMOTE", "low") == "high"
    assert p.severity("GOV-DATA-REMOTE", "critical") == "critical"
    assert p.severity(None, "medium") == "medium"
    assert p.severity("GOV-NO-SUCH", "low") == "low"


@pytest.fixture
def release(signers, repo, clone_template):
    clone_template("registered")
    return "1"


def _set_rule(repo, rule_id, old, new):
    path = repo / "policies" / "release.yaml"
    text = path.read_text()
    block = text.index(f"- id: {rule_id}")
    end = text.find("- id:", block + 1)
    end = len(text) if end < 0 else end
    assert old in text[block:end]
    path.write_text(text[:block] + text[block:end].replace(old, new, 1) + text[end:])


def test_gate_reads_a_rule_only_where_it_is_in_force(release, cli, repo):
    sign_all(cli, release, first_release=True)
    _set_rule(repo, "GOV-DATA-REMOTE", "production: false", "production: true")
    _set_rule(repo, "GOV-DATA-REMOTE", "staging: false", "staging: true")
    _set_rule(repo, "GOV-DATA-REMOTE", "environments: [staging, production]",
              "environments: [production]")

    def pushed(env):
        res = cli("checklist", "status", "support-bot", "--version", release, "--env", env,
                  "--json")
        return {i["id"]: i for i in res.json["items"]}["data-pushed"]

    assert pushed("production")["status"] == "fail"
    assert "requires a DVC remote for production" in pushed("production")["reason"]
    assert pushed("staging")["status"] == "n/a"  # not in force in staging: not required


def test_gate_item_takes_the_rule_severity(release, cli, repo):
    tpl = repo / "checklists" / "custom.yaml"
    tpl.write_text("schema: govctl.checklist-template/v1\nname: custom\nitems:\n"
                   "  - {id: data-allowed, description: d, kind: automatic, "
                   "check: data.allowed, severity: low}\n"
                   "  - {id: use-case, description: d, kind: signoff, role: product-owner, "
                   "severity: low}\n")
    ok(cli("checklist", "new", "support-bot", "--version", release, "--template", "custom"))

    def severities():
        res = cli("checklist", "status", "support-bot", "--version", release, "--json")
        return {i["id"]: i["severity"] for i in res.json["items"]}

    # GOV-DATA-ALLOWED is critical in the default pack; the sign-off enforces no rule
    assert severities() == {"data-allowed": "critical", "use-case": "low"}
    _set_rule(repo, "GOV-DATA-ALLOWED", "severity: critical", "severity: medium")
    assert severities() == {"data-allowed": "medium", "use-case": "low"}
    sarif = cli("gate", "support-bot", "--version", release, "--format", "sarif",
                "--key", "rita").json
    levels = {r["id"]: r["defaultConfiguration"]["level"]
              for r in sarif["runs"][0]["tool"]["driver"]["rules"]}
    assert levels == {"data-allowed": "warning", "use-case": "note"}
