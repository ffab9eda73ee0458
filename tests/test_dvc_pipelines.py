"""Real DVC pipelines as teams have them: directory outputs, a leaked eval file inside a
directory a stage depends on, models/metrics/plots outputs, ``dvc import``, ``dvc repro``
followed by ``data update``, and ``data remove``. All through the CLI."""

from __future__ import annotations

import shutil
from pathlib import Path

from conftest import git
from lifecycle import log_run, ok, sign_all
from test_data import dvc

ADD = ["--sensitivity", "internal", "--pii", "none", "--owner", "ml-team", "--key", "mel"]


def _stage(repo: Path, name: str, cmd: str, deps: list[str], outs: list[str],
           extra: tuple[str, ...] = ()) -> None:
    args = [a for d in deps for a in ("-d", d)] + [a for o in outs for a in ("-o", o)]
    dvc(repo, "stage", "add", "-n", name, *args, *extra, cmd)


def test_eval_file_copied_into_a_dependency_directory_is_leakage(signers, repo, cli):
    (repo / "data" / "extra").mkdir(parents=True)
    (repo / "data" / "raw.csv").write_text("q,a\nhello,world\n")
    (repo / "data" / "eval.csv").write_text("q,a\nbye,moon\n")
    shutil.copy(repo / "data" / "eval.csv", repo / "data" / "extra" / "more-tickets.csv")
    dvc(repo, "add", "data/raw.csv")
    _stage(repo, "prepare", "mkdir -p data/prepared && cat data/raw.csv data/extra/*.csv "
           "> data/prepared/train.csv", ["data/raw.csv", "data/extra"], ["data/prepared"])
    dvc(repo, "repro")
    ok(cli("data", "add", "data/raw.csv", "--name", "raw", "--kind", "raw", *ADD))
    ok(cli("data", "add", "data/prepared", "--name", "support-train", "--kind", "train", *ADD))
    ok(cli("data", "add", "data/eval.csv", "--name", "support-bot-eval", "--kind", "eval",
           *ADD))
    ok(cli("agreement", "new", "support-bot"))
    for k in ("erin", "paul", "cora"):
        ok(cli("agreement", "sign", "support-bot", "--key", k))
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "pipeline")
    run = log_run({"accuracy": 0.91, "groundedness": 0.95})
    v = ok(cli("model", "register", "support-bot", "--run", run, "--dataset", "support-train",
               "--dataset", "support-bot-eval", "--key", "mel", "--json")).json["version"]
    sign_all(cli, v, first_release=True)
    res = cli("gate", "support-bot", "--version", v, "--format", "json", "--key", "rita")
    assert res.code == 1
    item = {i["id"]: i for i in res.json["items"]}["eval-held-out"]
    assert item["status"] == "fail"
    assert "data/extra/more-tickets.csv" in item["reason"], item["reason"]


def test_directory_outputs_reports_models_imports_update_and_remove(signers, repo, cli,
                                                                    tmp_path):
    # a data registry repo the project imports from (dvc import of a git-tracked file)
    source = tmp_path / "registry-repo"
    (source / "raw").mkdir(parents=True)
    git(source, "init", "-q", "-b", "main")
    (source / "raw" / "tickets.csv").write_text("q,a\nx,1\ny,2\n")
    git(source, "add", "-A")
    git(source, "commit", "-qm", "data")
    (repo / "data").mkdir()
    dvc(repo, "import", str(source), "raw/tickets.csv", "-o", "data/tickets.csv")
    imported = (repo / "data" / "tickets.csv.dvc").read_text()
    (repo / "params.yaml").write_text("prepare:\n  split: 0.5\n")
    _stage(repo, "prepare", "mkdir -p data/prepared && cp data/tickets.csv data/prepared/a.csv",
           ["data/tickets.csv"], ["data/prepared"], ("-p", "prepare.split"))
    _stage(repo, "featurize", "mkdir -p data/features && cp data/prepared/a.csv "
           "data/features/f.csv", ["data/prepared"], ["data/features"])
    _stage(repo, "train", "cp data/features/f.csv model.pkl", ["data/features"], ["model.pkl"])
    _stage(repo, "evaluate", "mkdir -p eval/plots && echo '{\"acc\": 0.9}' > eval/metrics.json"
           " && echo 'x,y' > eval/plots/roc.csv", ["model.pkl"], ["eval"])
    with (repo / "dvc.yaml").open("a") as fh:
        fh.write("metrics:\n- eval/metrics.json\nplots:\n- eval/plots/roc.csv\n")
    dvc(repo, "repro")
    res = cli("data", "add", "data/tickets.csv", "--name", "tickets", "--kind", "raw", *ADD,
              "--json")
    assert res.code == 0, res.err
    assert (repo / "data" / "tickets.csv.dvc").read_text() == imported  # never rewritten
    assert str(source) in res.json["source"]
    res = cli("data", "add", "data/features", "--name", "features", "--kind", "train", *ADD,
              "--json")
    assert res.code == 0, res.err
    assert res.json["dvc"]["md5"].endswith(".dir") and res.json["dvc"]["nfiles"] == 1
    # data/prepared is data nobody inventoried; model.pkl and eval/ (metrics, plots) are not
    res = cli("data", "verify", "--json")
    assert res.code == 1
    assert [(p["dataset"], p["code"]) for p in res.json["problems"]] == [
        ("data/prepared", "not-inventoried")]
    ok(cli("data", "add", "data/prepared", "--name", "prepared", "--kind", "train", *ADD))
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "inventory")
    # offline, with the import's source gone: checked locally, the others still checked
    shutil.rmtree(source)
    res = cli("data", "verify", "--json")
    assert res.code == 0, res.out
    (repo / "data" / "tickets.csv").write_text("q,a\ntampered,1\n")
    res = cli("data", "verify", "--json")
    assert res.code == 1
    assert [p["dataset"] for p in res.json["problems"]] == ["tickets"]
    assert "SCM error" not in res.out
    (repo / "data" / "tickets.csv").write_text("q,a\nx,1\ny,2\n")
    # dvc repro with a new featurize: the changed output is one command away
    (repo / "dvc.yaml").write_text((repo / "dvc.yaml").read_text().replace(
        "data/features/f.csv", "data/features/f.csv && echo extra >> data/features/f.csv", 1))
    dvc(repo, "repro", "featurize")
    res = cli("data", "verify", "--json")
    assert res.code == 1
    msg = {p["dataset"]: p["message"] for p in res.json["problems"]}["features"]
    assert "new version of features" in msg and "govctl data update features" in msg
    res = cli("data", "update", "features", "--key", "mel", "--json")
    assert res.code == 0, res.err
    assert res.json["new_version"] is True and res.json["kind"] == "train"
    assert cli("data", "verify").code == 0
    # remove: signed into the ledger, DVC keeps tracking the bytes
    res = cli("data", "remove", "prepared", "--reason", "folded into features", "--key", "mel")
    assert res.code == 0, res.err
    assert not (repo / "registry" / "datasets" / "prepared.yaml").exists()
    log = cli("audit", "log", "--action", "data.remove", "--json").json
    assert log[-1]["subject"]["name"] == "prepared" and log[-1]["actor"]["name"] == "mel"
    assert cli("data", "remove", "prepared", "--key", "mel").code == 2
    res = cli("data", "remove", "features", "--key", "cora")
    assert res.code == 1 and (repo / "registry" / "datasets" / "features.yaml").exists()


def test_foreach_stages_are_expanded(signers, repo, cli):
    (repo / "data").mkdir()
    (repo / "data" / "raw.csv").write_text("q,a\nx,1\n")
    dvc(repo, "add", "data/raw.csv")
    (repo / "dvc.yaml").write_text(
        "stages:\n  split:\n    foreach: [a, b]\n    do:\n"
        "      cmd: cp data/raw.csv data/${item}.csv\n"
        "      deps:\n      - data/raw.csv\n      outs:\n      - data/${item}.csv\n")
    dvc(repo, "repro")
    ok(cli("data", "add", "data/raw.csv", "--name", "raw", "--kind", "raw", *ADD))
    res = cli("data", "add", "data/a.csv", "--name", "split-a", "--kind", "train", *ADD,
              "--json")
    assert res.code == 0, res.err
    assert res.json["tracked_by"] == "pipeline" and not (repo / "data" / "a.csv.dvc").exists()
    lin = cli("data", "lineage", "split-a", "--json").json
    assert {"from": "stage:split@a", "to": "data:data/a.csv"} in lin["edges"]
    res = cli("data", "verify", "--json")
    assert [(p["dataset"], p["code"]) for p in res.json["problems"]] == [
        ("data/b.csv", "not-inventoried")]
