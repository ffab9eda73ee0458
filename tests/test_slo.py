"""After launch: the signed agreement's objectives as error budgets and burn-rate alerts
over a generated month of traffic, and exported rules that promtool accepts."""

from __future__ import annotations

import shutil
import subprocess

import pytest
import telemetry_gen
import yaml
from conftest import need


@pytest.fixture
def signed(signers, repo, cli):
    assert cli("agreement", "new", "support-bot").code == 0
    for n in ("erin", "paul", "cora"):
        assert cli("agreement", "sign", "support-bot", "--key", n).code == 0
    return repo


@pytest.fixture
def month(tmp_path):
    # a bad afternoon in week 3: 20% errors from day 15, 10:00 to 14:00
    return telemetry_gen.write_month(tmp_path / "month.jsonl",
                                     burn=(14 + 10 / 24, 14 + 14 / 24, 0.2))


def _status(cli, month, at, *extra):
    return cli("slo", "status", "support-bot", "--telemetry", month, "--at", at, "--json",
               *extra)


def test_budget_burn_in_week_three_is_caught(signed, cli, month):
    quiet = _status(cli, month, "2026-11-14T00:00:00Z")
    assert quiet.code == 0, quiet.err
    assert quiet.json["ok"] and quiet.json["firing"] == []
    err = next(o for o in quiet.json["objectives"] if o["objective"] == "error_rate")
    assert err["target"] == "0.01" and 0.7 < err["budget_remaining"] < 0.9

    burning = _status(cli, month, "2026-11-15T11:00:00Z")
    assert burning.code == 1
    assert "error_rate: page-1h (page)" in burning.json["firing"]
    assert "availability: page-1h (page)" in burning.json["firing"]
    assert not any(f.startswith("latency") for f in burning.json["firing"])

    # fast alerts reset once it is over; the month's budget was dented, not spent
    after = _status(cli, month, "2026-11-30T23:00:00Z")
    assert after.code == 0, after.json["firing"]
    avail = next(o for o in after.json["objectives"] if o["objective"] == "availability")
    assert 0 < avail["budget_remaining"] < 0.6
    spend = after.json["spend"]
    assert 0 < spend["month_to_date_usd"] < spend["forecast_usd"] < 3000
    assert after.json["usage"]["cost_per_request_usd"] < 0.02
    assert after.json["agreement_digest"].startswith("sha256:") or len(
        after.json["agreement_digest"]) >= 64


def test_status_is_recorded_signed_and_limits_are_signed_only(signed, cli, month, repo):
    res = _status(cli, month, "2026-11-15T11:00:00Z", "--record", "--key", "rita")
    assert res.code == 1
    log = cli("audit", "log", "--action", "slo.status", "--json").json
    entry = log[-1] if isinstance(log, list) else log["entries"][-1]
    assert entry["evidence"]["ok"] is False
    assert entry["evidence"]["objectives"]["error_rate"]["target"] == "0.01"
    # an unsigned edit of the agreement counts for nothing: the status refuses
    path = repo / "agreements" / "support-bot.yaml"
    path.write_text(path.read_text().replace('error_rate: "0.01"', 'error_rate: "0.5"'))
    res = _status(cli, month, "2026-11-15T11:00:00Z")
    assert res.code != 0 and "not in force" in res.err


def test_export_rules_pass_promtool(signed, cli, tmp_path):
    need("prometheus", shutil.which("promtool"), "promtool is not installed (Debian package "
         "prometheus): cannot check the exported rules")
    out = tmp_path / "rules"
    assert cli("slo", "export", "support-bot", "--format", "prometheus", "--out", out).code == 0
    rules = out / "support-bot-slo-rules.yaml"
    check = subprocess.run(["promtool", "check", "rules", str(rules)], capture_output=True,
                           text=True)
    assert check.returncode == 0, check.stdout + check.stderr
    text = rules.read_text()
    doc = yaml.safe_load(text)
    digest = doc["groups"][1]["rules"][0]["labels"]["agreement_digest"]
    assert f"agreement digest: {digest}" in text
    alerts = [r["alert"] for r in doc["groups"][1]["rules"]]
    assert "GovctlSLOBurn_error_rate_page_1h" in alerts
    assert cli("slo", "export", "support-bot", "--format", "openslo", "--out", out).code == 0
    docs = list(yaml.safe_load_all((out / "support-bot-openslo.yaml").read_text()))
    assert {d["kind"] for d in docs} == {"SLO"} and len(docs) == 3
    assert all(d["metadata"]["annotations"]["govctl/agreement-digest"] == digest for d in docs)
    assert {d["spec"]["objectives"][0]["target"] for d in docs} == {0.995, 0.99, 0.95}


def test_a_bad_at_time_is_input_error_naming_it(repo, cli):
    res = cli("slo", "status", "support-bot", "--telemetry", "requests.jsonl", "--at",
              "yesterday")
    assert res.code == 2, res.err
    assert "'yesterday' is not an ISO 8601 time" in res.err
    assert "Traceback" not in res.err and "bug" not in res.err
