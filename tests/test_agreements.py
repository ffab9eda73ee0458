"""Signed SLO and budget agreements, through the CLI."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest

from govctl import agreements


@pytest.fixture
def agreement(signers, cli, repo) -> Path:
    assert cli("agreement", "new", "support-bot").code == 0
    return repo / "agreements" / "support-bot.yaml"


def _sign_all(cli, *names):
    for n in names:
        res = cli("agreement", "sign", "support-bot", "--key", n)
        assert res.code == 0, res.err


def test_full_cycle(agreement, cli, repo):
    res = cli("agreement", "verify", "support-bot", "--json")
    assert res.code == 1 and res.json["state"] == "unsigned"
    _sign_all(cli, "erin", "paul")
    res = cli("agreement", "verify", "support-bot", "--json")
    assert res.code == 1
    assert res.json["missing_roles"] == {"compliance": 1}
    assert "compliance" in cli("agreement", "verify", "support-bot").out
    _sign_all(cli, "cora")
    res = cli("agreement", "verify", "support-bot", "--json")
    assert res.code == 0, res.json
    assert res.json["signers"]["compliance"] == ["cora"]
    assert (repo / "agreements" / "support-bot.signed.json").exists()
    status = cli("agreement", "status", "--json").json
    assert status[0]["state"] == "valid"
    log = cli("audit", "log", "--action", "agreement.sign", "--json").json
    assert [e["actor"]["name"] for e in log] == ["erin", "paul", "cora"]
    assert log[-1]["note"] == "fully signed"


def test_same_signer_twice_counts_once(agreement, cli):
    _sign_all(cli, "erin", "erin")
    res = cli("agreement", "sign", "support-bot", "--key", "erin", "--json")
    assert res.json["already_signed"] is True
    files = sorted((agreement.parent / "support-bot.sigs").glob("*.json"))
    assert [f.name for f in files] == ["erin.json"]
    assert len(json.loads(files[0].read_text())["signatures"]) == 1
    res = cli("agreement", "verify", "support-bot", "--json")
    assert res.json["signers"]["eng-lead"] == ["erin"]
    assert set(res.json["missing_roles"]) == {"product-owner", "compliance"}


def test_duplicate_signature_entries_count_once(agreement, cli):
    _sign_all(cli, "erin", "paul", "cora")
    d = agreement.parent / "support-bot.sigs"
    erin = json.loads((d / "erin.json").read_text())
    # a tampered file listing erin's signature three times, cora's removed
    erin["signatures"] = erin["signatures"] * 3
    (d / "erin.json").write_text(json.dumps(erin))
    (d / "cora.json").unlink()
    res = cli("agreement", "verify", "support-bot", "--json")
    assert res.code == 1 and res.json["missing_roles"] == {"compliance": 1}


def test_edit_a_number_names_the_field(agreement, cli):
    _sign_all(cli, "erin", "paul", "cora")
    text = agreement.read_text().replace("p95: 1500", "p95: 2500")
    agreement.write_text(text)
    res = cli("agreement", "verify", "support-bot", "--json")
    assert res.code == 1
    assert res.json["changed_fields"] == ["slo.latency_ms.p95"]
    out = cli("agreement", "verify", "support-bot")
    assert "slo.latency_ms.p95" in out.out
    d = cli("agreement", "diff", "support-bot", "--json").json
    assert d["changes"] == {"slo.latency_ms.p95": {"signed": 1500, "now": 2500}}
    # comments and formatting are not part of the signed content
    agreement.write_text(text.replace("p95: 2500", "p95: 1500") + "\n# a new comment\n")
    assert cli("agreement", "verify", "support-bot").code == 0


def _flip_a_signature_byte(sig: Path) -> Path:
    """Corrupt the signature in one signer's file in place."""
    import base64

    env = json.loads(sig.read_text())
    raw = bytearray(base64.b64decode(env["signatures"][0]["sig"]))
    raw[5] ^= 0xFF
    env["signatures"][0]["sig"] = base64.b64encode(bytes(raw)).decode()
    sig.write_text(json.dumps(env))
    return sig


def test_tampered_envelope_is_integrity_violation(agreement, cli):
    _sign_all(cli, "erin", "paul", "cora")
    _flip_a_signature_byte(agreement.parent / "support-bot.sigs" / "paul.json")
    res = cli("agreement", "verify", "support-bot")
    assert res.code == 4 and "does not verify" in res.out


def test_signing_on_top_of_a_tampered_envelope_is_refused(agreement, cli):
    """A fourth signature must not launder a forged one into a rewritten envelope."""
    _sign_all(cli, "erin", "paul")
    sig = _flip_a_signature_byte(agreement.parent / "support-bot.sigs" / "paul.json")
    before = sig.read_bytes()
    entries = len(cli("audit", "log", "--json").json)
    res = cli("agreement", "sign", "support-bot", "--key", "cora")
    assert res.code == 4 and "does not verify" in res.err and "nothing was signed" in res.err
    assert sig.read_bytes() == before
    assert not (agreement.parent / "support-bot.sigs" / "cora.json").exists()
    assert len(cli("audit", "log", "--json").json) == entries


def test_diff_refuses_a_hand_edited_signed_copy(agreement, cli):
    _sign_all(cli, "erin", "paul", "cora")
    signed = agreement.parent / "support-bot.signed.json"
    env = json.loads(signed.read_text())
    import base64

    doc = json.loads(base64.b64decode(env["payload"]))
    doc["slo"]["latency_ms"]["p95"] = 99999
    env["payload"] = base64.b64encode(json.dumps(doc).encode()).decode()
    signed.write_text(json.dumps(env))
    res = cli("agreement", "diff", "support-bot")
    assert res.code == 4 and "support-bot.signed.json" in res.err
    assert "99999" not in res.out


def test_nothing_is_signed_without_a_ledger_to_record_it(agreement, cli, repo):
    """A fresh clone has no ledger (.govctl/ is not in git): signing must fail before any
    file changes, not after."""
    (repo / ".govctl" / "ledger.db").rename(repo / "ledger.db.away")
    res = cli("agreement", "sign", "support-bot", "--key", "erin")
    assert res.code == 2 and "no ledger" in res.err
    assert not (agreement.parent / "support-bot.sigs").exists()


def test_signature_from_another_document_kind(agreement, cli, repo):
    """A trust-policy signature by the same admin replayed as an agreement signature."""
    _sign_all(cli, "erin")
    trust_env = json.loads((repo / "policies" / "trust.history" / "0001.json").read_text())
    sig = agreement.parent / "support-bot.sigs" / "erin.json"
    env = json.loads(sig.read_text())
    env["payloadType"] = trust_env["payloadType"]
    sig.write_text(json.dumps(env))
    res = cli("agreement", "verify", "support-bot", "--json")
    assert res.code == 4 and "another document kind" in res.json["problems"][0]
    # and a signature made over a checklist/trust payload cannot count for the agreement
    env = json.loads(sig.read_text())
    env["payloadType"] = "application/vnd.govctl.agreement+json"
    env["signatures"].append(trust_env["signatures"][0])
    sig.write_text(json.dumps(env))
    res = cli("agreement", "verify", "support-bot", "--json")
    assert res.code == 4


def test_removed_signer_is_reported_by_name_and_does_not_strand_the_agreement(agreement, cli,
                                                                              repo):
    """Revocation: cora's signature stops counting, is reported as 'cora, removed in trust
    version N', blocks no one, and the new compliance signer's signature completes it."""
    _sign_all(cli, "erin", "paul", "cora")
    assert cli("trust", "remove", "cora", "--key", "alice").code == 0
    version = cli("trust", "show", "--json").json["version"]
    res = cli("agreement", "verify", "support-bot", "--json")
    assert res.code == 1, res.json
    assert res.json["missing_roles"] == {"compliance": 1}
    assert res.json["signers"]["eng-lead"] == ["erin"]
    assert any(f"cora, removed in trust version {version}" in d
               for d in res.json["dead_signatures"])
    assert cli("keys", "generate", "cleo").code == 0
    assert cli("trust", "add", "cleo", "--role", "compliance", "--key", "alice").code == 0
    res = cli("agreement", "sign", "support-bot", "--key", "cleo")
    assert res.code == 0, res.err
    res = cli("agreement", "verify", "support-bot", "--json")
    assert res.code == 0, res.json
    assert res.json["signers"]["compliance"] == ["cleo"]


def test_expired_signer_cannot_sign_and_its_old_signature_blocks_no_one(agreement, cli,
                                                                         monkeypatch):
    assert cli("keys", "generate", "cass").code == 0
    assert cli("trust", "add", "cass", "--role", "compliance", "--valid-until",
               "2026-12-01", "--key", "alice").code == 0
    _sign_all(cli, "cass")
    monkeypatch.setenv("GOVCTL_NOW", "2026-12-02T12:00:00Z")
    res = cli("agreement", "sign", "support-bot", "--key", "cass")
    assert res.code == 1 and "expired" in res.err
    _sign_all(cli, "erin", "paul")  # the dead signature does not block anyone
    res = cli("agreement", "verify", "support-bot", "--json")
    assert res.code == 1 and res.json["missing_roles"] == {"compliance": 1}
    assert any("cass's key expired" in d for d in res.json["dead_signatures"])
    _sign_all(cli, "cora")
    assert cli("agreement", "verify", "support-bot").code == 0


def test_expired_signer_refused_by_the_library(agreement, cli, repo, monkeypatch):
    from govctl import config, errors
    from govctl.signing.keys import KeyStore

    assert cli("keys", "generate", "cass").code == 0
    assert cli("trust", "add", "cass", "--role", "compliance", "--valid-until",
               "2026-12-01", "--key", "alice").code == 0
    monkeypatch.setenv("GOVCTL_NOW", "2026-12-02T12:00:00Z")
    with pytest.raises(errors.CheckFailed, match="expired"):
        agreements.sign(config.find_repo(), "support-bot", KeyStore().load("cass"))
    assert not (agreement.parent / "support-bot.sigs").exists()


def test_signatures_are_one_file_per_signer_and_do_not_churn(agreement, cli, repo):
    _sign_all(cli, "erin", "paul", "cora")
    d = agreement.parent / "support-bot.sigs"
    assert sorted(f.name for f in d.glob("*.json")) == ["cora.json", "erin.json", "paul.json"]
    signed = agreement.parent / "support-bot.signed.json"
    before = {f: f.read_bytes() for f in [*d.glob("*.json"), signed]}
    mtime = signed.stat().st_mtime_ns
    _sign_all(cli, "paul")
    assert {f: f.read_bytes() for f in before} == before
    assert signed.stat().st_mtime_ns == mtime


def test_legacy_single_envelope_is_read_and_migrated(agreement, cli, repo):
    _sign_all(cli, "erin", "paul")
    d = agreement.parent / "support-bot.sigs"
    envs = [json.loads((d / f"{n}.json").read_text()) for n in ("erin", "paul")]
    legacy = {**envs[0], "signatures": envs[0]["signatures"] + envs[1]["signatures"]}
    import shutil

    shutil.rmtree(d)
    (agreement.parent / "support-bot.sig.json").write_text(json.dumps(legacy))
    res = cli("agreement", "verify", "support-bot", "--json")
    assert res.json["missing_roles"] == {"compliance": 1}
    _sign_all(cli, "cora")
    assert cli("agreement", "verify", "support-bot").code == 0
    assert not (agreement.parent / "support-bot.sig.json").exists()
    assert sorted(f.name for f in d.glob("*.json")) == ["cora.json", "erin.json", "paul.json"]


def test_expired_agreement(agreement, cli, monkeypatch):
    _sign_all(cli, "erin", "paul", "cora")
    text = agreement.read_text()
    monkeypatch.setenv("GOVCTL_NOW", "2027-12-24T00:00:00Z")
    res = cli("trust", "renew", "--expires", "2030-01-01", "--key", "alice")
    assert res.code == 0, res.err
    res = cli("agreement", "verify", "support-bot", "--json")
    assert res.code == 1 and res.json["state"] == "expired"
    assert agreement.read_text() == text


def test_key_without_role_cannot_sign(agreement, cli):
    res = cli("agreement", "sign", "support-bot", "--key", "mel")
    assert res.code == 1 and "may not agreement.sign" in res.err
    assert not (agreement.parent / "support-bot.sigs").exists()
    assert cli("audit", "log", "--action", "agreement.sign", "--json").json == []


@pytest.mark.parametrize(
    "old,new,fragment",
    [
        ("p95: 1500", "p95: -5", "slo.latency_ms.p95"),
        ("p95: 1500", "p95: 1500.5", "float"),
        ('error_rate: "0.01"', "error_rate: 0.01", "float"),
        ("version: 1 ", "version: 1\nsurprise: 1 ", "unknown field"),
        ("slo:", "slo: [\n", "invalid YAML"),
        ('error_rate: "0.01"', 'error_rate: "1.5"', "fraction"),
    ],
)
def test_bad_documents_are_exit_2_and_write_nothing(agreement, cli, old, new, fragment):
    agreement.write_text(agreement.read_text().replace(old, new, 1))
    before = sorted(p.name for p in agreement.parent.iterdir())
    for args in (["verify", "support-bot"], ["sign", "support-bot", "--key", "erin"]):
        res = cli("agreement", *args)
        assert res.code == 2, (args, res.err)
        assert fragment in res.err and "agreements/support-bot.yaml" in res.err
        assert "Traceback" not in res.err
    assert sorted(p.name for p in agreement.parent.iterdir()) == before


def test_error_names_the_line(agreement, cli):
    agreement.write_text(agreement.read_text().replace("p95: 1500", "p95: -5"))
    res = cli("agreement", "verify", "support-bot")
    line = next(i for i, t in enumerate(agreement.read_text().splitlines(), 1) if "p95: -5" in t)
    assert f"agreements/support-bot.yaml:{line}:" in res.err


def test_unknown_service(agreement, cli):
    res = cli("agreement", "verify", "nope")
    assert res.code == 2 and "no agreement for service 'nope'" in res.err
    assert "support-bot" in res.err
    assert cli("agreement", "sign", "nope", "--key", "erin").code == 2


def test_new_refuses_existing_and_bad_names(agreement, cli):
    res = cli("agreement", "new", "support-bot")
    assert res.code == 2 and "already exists" in res.err
    res = cli("agreement", "new", "../evil")
    assert res.code == 2 and "invalid service name" in res.err


def test_check_measurements(agreement):
    a = agreements.load_agreement(agreement)
    checks = {c.metric: c for c in agreements.check_measurements(
        a, {"latency_p95_ms": 1200, "error_rate": 0.02, "accuracy": Decimal("0.9"),
            "availability": "0.999"})}
    assert checks["latency_p95_ms"].verdict == "pass"
    assert checks["error_rate"].verdict == "fail" and checks["error_rate"].threshold == Decimal("0.01")
    assert checks["accuracy"].verdict == "pass" and checks["accuracy"].comparator == ">="
    assert checks["availability"].verdict == "pass"
    assert checks["cost_per_request_usd"].verdict == "missing"
    assert a.limits()["cost_per_request_usd"] == Decimal("0.02")
    assert a.quality_minimums() == {"accuracy": Decimal("0.85"), "groundedness": Decimal("0.90")}


def test_verify_never_imports_mlflow_or_dvc(agreement, govctl_home):
    from test_startup import loaded_modules

    mods = loaded_modules("agreement", "verify", "support-bot", cwd=agreement.parent.parent,
                          env={"GOVCTL_HOME": str(govctl_home)})
    assert not mods & {"mlflow", "dvc", "git"}
