"""--json on the commands that write a document or move state and had none: agreement new,
checklist new, gate, model alias, report (real MLflow store, DVC data, keys)."""

from __future__ import annotations

from conftest import git
from lifecycle import ADD, ok, register, sign_all


def _ledger_size(cli) -> int:
    return len(ok(cli("audit", "log", "-n", "0", "--json")).json)


def test_agreement_new_json(repo, cli):
    res = ok(cli("agreement", "new", "support-bot", "--json"))
    assert res.json == {"service": "support-bot", "path": "agreements/support-bot.yaml"}
    assert (repo / "agreements" / "support-bot.yaml").exists()


def test_json_for_checklist_new_gate_alias_and_report(signers, repo, cli, tmp_path):
    (repo / "data").mkdir()
    (repo / "data" / "train.csv").write_text("q,a\nhello,world\n")
    (repo / "data" / "eval.csv").write_text("q,a\nbye,moon\n")
    ok(cli("data", "add", "data/train.csv", "--name", "support-train", "--kind", "train", *ADD))
    ok(cli("data", "add", "data/eval.csv", "--name", "support-bot-eval", "--kind", "eval", *ADD))
    ok(cli("agreement", "new", "support-bot", "--json"))
    for k in ("erin", "paul", "cora"):
        ok(cli("agreement", "sign", "support-bot", "--key", k))
    ok(cli("prompt", "register", repo / "registry/prompts/support-answer.yaml", "--key", "mel"))
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "governed service")
    version = register(cli)

    res = ok(cli("checklist", "new", "support-bot", "--version", version, "--first-release",
                 "--json"))
    assert res.json == {"service": "support-bot", "version": version, "template": "prelaunch",
                        "first_release": True,
                        "path": f"checklists/releases/support-bot/{version}.yaml"}
    (repo / res.json["path"]).unlink()
    sign_all(cli, version, first_release=True)

    gate = ["gate", "support-bot", "--version", version, "--key", "rita"]
    as_json = cli(*gate, "--json")
    as_format = cli(*gate, "--format", "json")
    assert as_json.code == as_format.code
    assert as_json.json["passed"] == as_format.json["passed"]
    assert [i["id"] for i in as_json.json["items"]] == [i["id"] for i in as_format.json["items"]]
    before = _ledger_size(cli)
    res = cli(*gate, "--json", "--format", "sarif")
    assert res.code == 2 and "--json and --format sarif" in res.err
    assert _ledger_size(cli) == before  # refused before the gate recorded anything

    res = ok(cli("model", "alias", "support-bot", "shadow", version, "--key", "mel", "--json"))
    assert res.json == {"name": "support-bot", "alias": "shadow", "version": version}
    res = ok(cli("model", "alias", "support-bot", "shadow", "--delete", "--key", "mel",
                 "--json"))
    assert res.json == {"name": "support-bot", "alias": "shadow", "version": None}

    out = tmp_path / "dossier.md"
    res = ok(cli("report", "support-bot", "--version", version, "--out", out, "--json"))
    assert res.json == {"service": "support-bot", "version": version, "path": str(out),
                        "format": "markdown", "charts": None}
    assert out.read_text().startswith("#")
