"""Promotion, canary analysis and rollback through the CLI on a real MLflow store."""

from __future__ import annotations

import ledger_replay
import pytest
import telemetry_gen
from lifecycle import ok, register, sign_all

from govctl.config import find_repo


@pytest.fixture(autouse=True)
def _derived_state_matches_a_replay(tmp_path):
    """After every lifecycle test: the ledger's derived state is a replay of its entries."""
    yield
    if (tmp_path / "svc" / "govctl.toml").is_file():
        ledger_replay.check(tmp_path / "svc")


@pytest.fixture
def first(signers, repo, clone_template):
    """v1 promoted (first release: its canary at the plan's first step); a copy of the
    session's ``first`` template."""
    clone_template("first")
    return "1"


def _tele(tmp_path, name, **variants):
    return telemetry_gen.write(tmp_path / f"{name}.jsonl", variants, seed=len(name))


def _advance(cli, path):
    return cli("canary", "advance", "support-bot", "--telemetry", path, "--key", "rita",
               "--json")


def _status(cli):
    return cli("status", "support-bot", "--json").json


def test_first_release_goes_through_every_step(first, cli, tmp_path):
    st = _status(cli)
    assert st["canary"] == first and st["canary_weight_pct"] == 5 and st["stable"] is None
    good = _tele(tmp_path, "good", **{first: {"n": 3000}})
    for weight in (25, 50, 100):
        res = _advance(cli, good)
        assert res.code == 0, res.out + res.err
        assert res.json["state"]["canary_weight_pct"] == weight
    res = _advance(cli, good)
    assert res.code == 0
    st = _status(cli)
    assert st["stable"] == first and st["canary"] is None
    assert cli("model", "verify").code == 0


def test_good_candidate_becomes_stable_and_rollback_restores(first, cli, tmp_path):
    good = _tele(tmp_path, "good", **{first: {"n": 3000}})
    for _ in range(4):
        ok(_advance(cli, good))
    v2 = register(cli)
    sign_all(cli, v2)
    ok(cli("promote", "support-bot", "--version", v2, "--key", "rita"))
    both = _tele(tmp_path, "both", **{first: {"n": 6000}, v2: {"n": 3000}})
    for _ in range(4):
        ok(_advance(cli, both))
    st = _status(cli)
    assert st["stable"] == v2 and st["canary"] is None
    res = cli("rollback", "support-bot", "--reason", "support tickets spiking", "--key", "otto",
              "--json")
    assert res.code == 0, res.err
    assert res.json["state"]["stable"] == first
    assert cli("status", "support-bot").code == 0
    log = cli("audit", "log", "--action", "release.rollback", "--json").json
    assert log[-1]["note"] == "support tickets spiking" and log[-1]["actor"]["name"] == "otto"
    # a second rollback must not bring back the version just rolled back from
    res = cli("rollback", "support-bot", "--reason", "again", "--key", "otto")
    assert res.code == 1 and "no earlier stable version" in res.err
    assert _status(cli)["stable"] == first
    # nor may --to-version release a version that was never stable (that is a promote)
    v3 = register(cli)
    res = cli("rollback", "support-bot", "--reason", "x", "--to-version", v3, "--key", "otto")
    assert res.code == 1 and f"v{v3} was never stable" in res.err
    assert _status(cli)["stable"] == first
    # nor may --to-version reinstate the version just rolled back from (issue 19)
    res = cli("rollback", "support-bot", "--reason", "fixed upstream", "--to-version", v2,
              "--key", "otto")
    assert res.code == 1 and "rolled back from" in res.err
    assert _status(cli)["stable"] == first


@pytest.mark.parametrize("regression,metric", [
    ({"latency_factor": 1.4}, "latency_p95_ms"),
    ({"error_rate": 0.01}, "error_rate"),
])
def test_regressed_candidate_is_rolled_back_automatically(first, cli, tmp_path, regression,
                                                         metric):
    good = _tele(tmp_path, "good", **{first: {"n": 3000}})
    for _ in range(4):
        ok(_advance(cli, good))
    v2 = register(cli)
    sign_all(cli, v2)
    ok(cli("promote", "support-bot", "--version", v2, "--key", "rita"))
    # rare errors need traffic: 0.2% -> 1% shows after ~10k canary requests
    bad = _tele(tmp_path, "bad", **{first: {"n": 40000, "error_rate": 0.002},
                                    v2: {"n": 10000, **regression}})
    human = cli("canary", "analyze", "support-bot", "--telemetry", bad)
    assert human.code == 1
    assert f"✗ {metric} vs stable version: fail" in human.out, human.out
    assert "…" not in human.out  # nothing cut off, whatever the terminal width
    res = _advance(cli, bad)
    assert res.code == 1, res.out
    assert metric in res.json["analysis"]["reason"]
    st = _status(cli)
    assert st["canary"] is None and st["stable"] == first
    log = cli("audit", "log", "--action", "canary.rollback", "--json").json
    assert "automatic rollback" in log[-1]["note"] and metric in log[-1]["note"]


def test_twenty_requests_is_inconclusive_and_moves_nothing(first, cli, tmp_path):
    few = _tele(tmp_path, "few", **{first: {"n": 20}})
    before = _status(cli)
    res = cli("canary", "analyze", "support-bot", "--telemetry", few)
    assert res.code == 5 and "inconclusive" in res.out
    res = _advance(cli, few)
    assert res.code == 5
    typo = cli("canary", "analyze", "support-bot", "--telemetry", few, "--canary", "99")
    assert typo.code == 5
    assert "no telemetry records for the canary version v99" in typo.err
    assert f"versions present: {first}" in typo.err
    assert _status(cli) == before


def test_canary_reads_only_signed_numbers(first, cli, tmp_path, repo):
    """Raising a limit in the YAML without the signatures must not loosen the analysis."""
    slow = _tele(tmp_path, "slow", **{first: {"n": 400}, "2": {"n": 400, "latency_factor": 3}})
    res = cli("canary", "analyze", "support-bot", "--telemetry", slow, "--baseline", first,
              "--canary", "2", "--json")
    assert res.code == 1 and res.json["verdict"] == "fail"  # p95 2500 ms > signed 1500
    path = repo / "agreements" / "support-bot.yaml"
    path.write_text(path.read_text().replace("p95: 1500", "p95: 5000"))
    res = cli("canary", "analyze", "support-bot", "--telemetry", slow, "--baseline", first,
              "--canary", "2")
    assert res.code == 1 and "not in force" in res.err and "latency_ms.p95" in res.err


def test_not_proven_bad_is_not_a_pass(first, cli, tmp_path):
    """Enough samples but the estimate beyond its tolerance: inconclusive, never pass."""
    worse = _tele(tmp_path, "worse", **{first: {"n": 3000, "error_rate": 0.002},
                                         "2": {"n": 800, "error_rate": 0.01}})
    res = cli("canary", "analyze", "support-bot", "--telemetry", worse, "--baseline", first,
              "--canary", "2", "--json")
    check = next(c for c in res.json["checks"]
                 if c["metric"] == "error_rate" and c["kind"] == "baseline")
    assert check["canary"] > 2 * check["baseline"]  # the estimate is beyond the 2x tolerance
    # 8 canary vs 9 stable errors: not significant yet, so neither fail nor pass
    assert check["verdict"] == "inconclusive" and res.code == 5
    # a window without the stable version is not compared against nothing
    alone = _tele(tmp_path, "alone", **{"2": {"n": 500}})
    res = cli("canary", "analyze", "support-bot", "--telemetry", alone, "--baseline", first,
              "--canary", "2", "--json")
    assert res.code == 5 and res.json["verdict"] == "inconclusive"
    assert any(c["metric"] == "baseline" and "no telemetry records for the stable" in
               c["detail"] for c in res.json["checks"])


@pytest.mark.parametrize("old,new,command,fragment", [
    ("min_samples: 200", "min_samples: lots", "analyze",
     "policy GOV-CANARY-ANALYSIS: min_samples (production) is 'lots', not a number"),
    ('max_latency_increase: "0.20"', 'max_latency_increase: "-0.5"', "analyze",
     "max_latency_increase (production) is '-0.5'; it must be between 0 and 10"),
    ("alpha: \"0.05\"", "alpha: \"5\"", "analyze", "alpha (production) is '5'"),
    ("max_days: 30", "max_days: thirty", "waive",
     "policy GOV-WAIVERS: max_days is 'thirty', not a number"),
])
def test_bad_policy_values_are_named_not_crashes(first, cli, tmp_path, repo, old, new,
                                                 command, fragment):
    path = repo / "policies" / "release.yaml"
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new))
    tele = _tele(tmp_path, "t", **{first: {"n": 300}})
    if command == "analyze":
        res = cli("canary", "analyze", "support-bot", "--telemetry", tele)
    elif command == "waive":
        res = cli("checklist", "waive", "support-bot", "--version", first, "--item",
                  "red-team", "--justification", "x", "--expires", "2099-01-01", "--key", "cora")
    else:
        raise AssertionError(command)
    assert res.code == 2, res.err + res.out
    assert fragment in res.err and "Traceback" not in res.err


def test_bad_canary_plan_is_named_and_nothing_moves(signers, repo, cli, clone_template):
    clone_template("registered")
    v1 = "1"
    sign_all(cli, v1, first_release=True)
    path = repo / "policies" / "release.yaml"
    path.write_text(path.read_text().replace("production: [5, 25, 50, 100]",
                                             "production: [20, fifty, 100]"))
    res = cli("promote", "support-bot", "--version", v1, "--key", "rita")
    assert res.code == 2 and "plan must be rising whole percentages ending at 100" in res.err
    assert _status(cli)["canary"] is None


def test_cost_over_the_limit_fails(first, cli, tmp_path):
    """Dollar amounts are tiny: the confidence sequence must scale with them (a fixed
    mixture parameter left a canary 1.5x over its cost limit inconclusive forever)."""
    import json

    import numpy as np

    rng = np.random.default_rng(7)
    path = tmp_path / "cost.jsonl"
    lines = []
    for version, cost in ((first, 0.010), ("2", 0.030)):  # the signed limit is 0.02
        for i, c in enumerate(rng.normal(cost, cost / 5, 2000)):
            lines.append(json.dumps({"request_id": f"{version}-{i}", "version": version,
                                     "latency_ms": 300, "error": False,
                                     "cost_usd": round(max(float(c), 0.0), 6)}))
    path.write_text("\n".join(lines) + "\n")
    res = cli("canary", "analyze", "support-bot", "--telemetry", path, "--baseline", first,
              "--canary", "2", "--json")
    check = next(c for c in res.json["checks"] if c["metric"] == "cost_per_request_usd")
    assert check["verdict"] == "fail" and res.code == 1


def test_bad_records_are_counted(first, cli, tmp_path):
    path = telemetry_gen.write(tmp_path / "t.jsonl", {first: {"n": 500}}, bad_lines=3)
    with path.open("a") as fh:
        fh.write('{"version": "1", "latency_ms": -4, "error": false}\n')
    res = cli("canary", "analyze", "support-bot", "--telemetry", path, "--json")
    bad = res.json["telemetry"]["bad_records"]
    assert bad == {"invalid JSON": 3, "missing or invalid latency_ms": 1}
    csv = tmp_path / "t.csv"
    t = "2026-11-22T12:00:00Z"  # the step's window: a record without a time is bad too

    def rows(*lines: str) -> str:
        return "".join(line.replace("@", t) + "\n" for line in lines)

    csv.write_text(rows("request_id,version,latency_ms,error,timestamp", "1,1,100,false,@",
                        "2,1,abc,false,@"))
    res = cli("canary", "analyze", "support-bot", "--telemetry", csv, "--json")
    assert res.json["telemetry"]["bad_records"] == {"missing or invalid latency_ms": 1}
    # a record sent twice counts once; a cost that is not a number is bad, not a null
    csv.write_text(rows("request_id,version,latency_ms,error,timestamp,cost_usd",
                        "1,1,100,false,@,0.001", "1,1,100,false,@,0.001",
                        "2,1,120,false,@,lots", "3,1,90,false,@,"))
    res = cli("canary", "analyze", "support-bot", "--telemetry", csv, "--json")
    assert res.json["telemetry"]["bad_records"] == {
        "duplicate request_id": 1, "cost, tokens or quality not a number": 1}, res.json
    assert res.json["telemetry"]["per_version"] == {"1": 2}
    # one ragged line is one bad record, not a rejected file
    csv.write_text(rows("request_id,version,latency_ms,error,timestamp", "1,1,100,false,@",
                        "2,1,90,false,@,extra,cols", "3,1,80,true,@"))
    res = cli("canary", "analyze", "support-bot", "--telemetry", csv, "--json")
    assert res.json["telemetry"]["bad_records"] == {"malformed CSV line": 1}
    assert res.json["telemetry"]["records"] == 3 and res.json["telemetry"]["per_version"] == {
        "1": 2}


def test_crash_between_intent_and_mlflow_change_is_recovered(first, cli, tmp_path):
    from govctl import release
    from govctl.ledger.log import Ledger
    from govctl.signing.keys import KeyStore

    repo = find_repo()
    # what a crashed 'canary advance' leaves: the intent is written, MLflow never changed
    Ledger.for_repo(repo).intent(
        KeyStore().load("rita"), "canary.step", {"kind": "service", "name": "support-bot"},
        evidence={"env": "production", "aliases": {"production-canary": first},
                  "weight_bps": 2500, "version": first, "step": 1, "plan": [5, 25, 50, 100]})
    assert _status(cli)["canary_weight_pct"] == 5
    few = _tele(tmp_path, "few", **{first: {"n": 20}})
    res = _advance(cli, few)
    assert res.code == 0  # recovery finishes the step and stops: no analysis of old telemetry
    assert cli("canary", "advance", "support-bot", "--telemetry", few, "--key", "rita").code == 5
    typo = cli("canary", "analyze", "support-bot", "--telemetry", few, "--canary", "99")
    assert typo.code == 5
    assert "no telemetry records for the canary version v99" in typo.err
    assert f"versions present: {first}" in typo.err
    assert any("left half-done" in m for m in res.json["messages"])
    assert _status(cli)["canary_weight_pct"] == 25
    assert Ledger.for_repo(repo).open_intents({"kind": "service", "name": "support-bot"}) == []
    assert release.state(repo, "support-bot").step == 1


def test_an_intent_mlflow_refuses_never_blocks_rollback(signers, repo, clone_template, cli):
    """A half-done change that can never finish (its version does not exist) is abandoned
    by the next command, not replayed forever in front of the emergency path."""
    from govctl.ledger.log import Ledger
    from govctl.signing.keys import KeyStore

    clone_template("second")  # v1 stable, v2 a canary: the rollback has somewhere to go

    res = cli("model", "alias", "support-bot", "canaryx", "99", "--key", "mel")
    assert res.code == 2 and "has no version 99" in res.err  # refused before any intent
    subject = {"kind": "service", "name": "support-bot"}
    repo = find_repo()
    assert Ledger.for_repo(repo).open_intents(subject) == []
    # an older govctl, or a version deleted since: an open intent MLflow will refuse
    Ledger.for_repo(repo).intent(KeyStore().load("mel"), "model.alias", subject,
                                 evidence={"aliases": {"canaryx": "99"}})
    res = cli("rollback", "support-bot", "--reason", "drill", "--key", "otto", "--json")
    assert res.code == 0, res.err
    assert any("abandoned model.alias" in m for m in res.json["messages"])
    assert Ledger.for_repo(repo).open_intents(subject) == []


def test_crash_after_the_mlflow_change_is_not_called_tampering(first, cli, tmp_path):
    from govctl.adapters import mlflowstore
    from govctl.ledger.log import Ledger
    from govctl.signing.keys import KeyStore

    good = _tele(tmp_path, "good", **{first: {"n": 3000}})
    for _ in range(4):
        ok(_advance(cli, good))
    v2 = register(cli)
    repo = find_repo()
    # a rollback-like change crashed after MLflow moved the alias, before completion
    Ledger.for_repo(repo).intent(
        KeyStore().load("mel"), "model.alias", {"kind": "service", "name": "support-bot"},
        evidence={"aliases": {"staging": v2}})
    mlflowstore.client(repo).set_registered_model_alias("support-bot", "staging", v2)
    res = cli("status", "support-bot", "--json")
    assert res.code == 0, res.out  # not exit 4: govctl's own unfinished change
    (d,) = res.json["drift"]
    assert d["kind"] == "interrupted" and "next promote" in d["message"]
    # the same alias moved by someone else is still tampering
    mlflowstore.client(repo).set_registered_model_alias("support-bot", "staging", first)
    assert cli("status", "support-bot").code == 4


def test_promote_refused_by_gate_and_roles(signers, repo, cli, clone_template):
    clone_template("registered")
    v1 = "1"
    res = cli("promote", "support-bot", "--version", v1, "--key", "mel")
    assert res.code == 1 and "may not promote.production" in res.err
    sign_all(cli, v1, skip=("use-case",))
    res = cli("promote", "support-bot", "--version", v1, "--key", "rita")
    assert res.code == 1 and "gate blocks" in res.err and "use-case" in res.err
    res = cli("promote", "support-bot", "--version", v1, "--key", "rita", "--no-canary")
    assert res.code == 1
    assert cli("status", "support-bot", "--json").json["canary"] is None


def test_drift_in_status(first, cli):
    from govctl.adapters import mlflowstore

    mlflowstore.client(find_repo()).set_registered_model_alias("support-bot", "production", first)
    res = cli("status", "support-bot", "--json")
    assert res.code == 4 and res.json["drift"][0]["kind"] == "alias"


def test_lock_refuses_concurrent_transition(first, cli, tmp_path):
    from govctl.ledger.log import Ledger

    good = _tele(tmp_path, "good", **{first: {"n": 3000}})
    with Ledger.for_repo(find_repo()).lock({"kind": "service", "name": "support-bot"}, "otto"):
        res = _advance(cli, good)
    assert res.code == 1 and "another operation is in progress" in res.err


def test_a_copied_template_is_a_working_repo(first, cli, repo, templates):
    """The session template this test got a copy of verifies like the original, and its
    MLflow store names the copy's paths only."""
    import sqlite3

    for args in (("audit", "verify"), ("trust", "verify"), ("model", "verify"),
                 ("data", "verify"), ("prompt", "verify"), ("status", "support-bot")):
        ok(cli(*args))
    con = sqlite3.connect(repo / ".govctl" / "mlflow.db")
    locations = [r[0] for r in con.execute("SELECT artifact_location FROM experiments")]
    locations += [r[0] for r in con.execute("SELECT artifact_uri FROM runs")]
    con.close()
    assert any(loc.startswith((repo / ".govctl" / "mlartifacts").as_uri()) for loc in locations)
    assert not [loc for loc in locations if str(templates("first")) in loc]


def test_each_step_is_judged_on_its_own_window(first, cli, tmp_path, monkeypatch):
    """The field report: one file (timestamps before the promote) passed the 5% and the 25%
    steps; records without timestamps passed; analyze and advance disagreed on a first
    release. A step now counts only records from after it began (its ledger entry)."""
    good = _tele(tmp_path, "good", **{first: {"n": 3000}})  # all at 12:00, the promote time
    # analyze and advance agree on a first release (no stable version to compare with)
    assert cli("canary", "analyze", "support-bot", "--telemetry", good).code == 0
    monkeypatch.setenv("GOVCTL_NOW", "2026-11-22T13:00:00Z")
    ok(_advance(cli, good))  # 5% judged on records since 12:00 → now at 25%
    res = cli("canary", "analyze", "support-bot", "--telemetry", good, "--json")
    assert res.code == 5, res.out  # the 25% step began at 13:00: the 12:00 file is stale
    tel = res.json["telemetry"]
    assert tel["bad_records"] == {"timestamp before this step began": 3000}
    assert tel["window"] == {"since": "2026-11-22T13:00:00Z", "until": "2026-11-22T13:00:00Z"}
    res = _advance(cli, good)
    assert res.code == 5 and _status(cli)["canary_weight_pct"] == 25
    # a source whose analysis runs where the data is applies the same window in its query
    parquet = telemetry_gen.to_parquet(good, tmp_path / "good.parquet")
    res = cli("canary", "analyze", "support-bot", "--telemetry", parquet, "--json")
    assert res.code == 5 and res.json["telemetry"]["bad_records"] == {
        "timestamp before this step began": 3000}
    res = _advance(cli, parquet)
    assert res.code == 5 and res.json["analysis"]["telemetry"]["window"] == tel["window"]
    # fresh records pass; records without a time or from the future do not count
    fresh = _tele(tmp_path, "fresh", **{first: {"n": 3000}})
    fresh.write_text(fresh.read_text().replace("2026-11-22T12:00:00Z", "2026-11-22T13:30:00Z"))
    with fresh.open("a") as fh:
        fh.write('{"request_id": "x1", "version": "1", "latency_ms": 5, "error": false}\n')
        fh.write('{"request_id": "x2", "version": "1", "latency_ms": 5, "error": false, '
                 '"timestamp": "2026-11-23T00:00:00Z"}\n')
    monkeypatch.setenv("GOVCTL_NOW", "2026-11-22T14:00:00Z")
    res = cli("canary", "analyze", "support-bot", "--telemetry", fresh, "--json")
    assert res.code == 0
    assert res.json["telemetry"]["bad_records"] == {"missing timestamp": 1,
                                                    "timestamp after now": 1}
    res = _advance(cli, fresh)
    assert res.code == 0 and res.json["state"]["canary_weight_pct"] == 50


def test_prompt_aliases_move_with_the_release_and_drift_is_seen(first, cli, tmp_path):
    """A release is a model version with its prompt versions: the prompt's aliases move
    with the model's, and an alias moved (or a version registered) behind govctl's back is
    drift in prompt verify, model verify and status (exit 4)."""
    from govctl.adapters import mlflowprompts, mlflowstore

    shown = cli("model", "show", "support-bot", "--json").json
    assert shown["prompts"] == {"support-answer": "1"}  # the latest pinned, by default
    repo = find_repo()
    assert mlflowprompts.aliases(repo, "support-answer") == {"production-canary": "1"}
    good = _tele(tmp_path, "good", **{first: {"n": 3000}})
    for _ in range(4):
        ok(_advance(cli, good))
    assert mlflowprompts.aliases(repo, "support-answer") == {"production": "1"}
    assert cli("prompt", "verify").code == 0 and cli("status", "support-bot").code == 0
    c = mlflowstore.client(repo)
    c.register_prompt("support-answer", "Answer {{question}} however you like.")
    c.set_prompt_alias("support-answer", "production", 2)
    res = cli("prompt", "verify", "--json")
    assert res.code == 4
    kinds = {d["kind"]: d["message"] for d in res.json["drift"]}
    assert "version(s) 2 were registered in MLflow outside govctl" in kinds["unregistered-version"]
    assert "alias 'production' points to 2 in MLflow but the ledger last set it to 1" in \
        kinds["alias"]
    assert cli("model", "verify").code == 4
    assert cli("status", "support-bot").code == 4
    res = cli("model", "register", "support-bot", "--run", "x", "--prompt", "support-answer@2",
              "--key", "mel")
    assert res.code == 2 and "no version 2 registered through govctl" in res.err
