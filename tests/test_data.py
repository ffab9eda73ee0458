"""Dataset inventory and lineage through real DVC repos, via the CLI."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import git


def dvc(repo: Path, *args: str) -> str:
    proc = subprocess.run([sys.executable, "-m", "dvc", *args], cwd=repo, capture_output=True,
                          text=True)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


ADD = ["--sensitivity", "internal", "--pii", "none", "--owner", "ml-team", "--key", "mel"]


@pytest.fixture
def data_repo(signers, repo):
    (repo / "data").mkdir()
    (repo / "data" / "train.csv").write_text("q,a\nhello,world\n")
    (repo / "data" / "eval.csv").write_text("q,a\nbye,moon\n")
    docs = repo / "data" / "docs"
    docs.mkdir()
    (docs / "a.txt").write_text("article a\n")
    (docs / "b.txt").write_text("article b\n")
    return repo


def test_add_list_show_verify(data_repo, cli):
    res = cli("data", "add", "data/train.csv", "--name", "support-train", "--kind", "train",
              "--regulation", "GDPR", "--retention", "365", *ADD, "--json")
    assert res.code == 0, res.err
    entry = res.json
    assert entry["dvc"]["md5"] and len(entry["dvc"]["md5"]) == 32 and entry["dvc"]["size"] == 16
    assert (data_repo / "data" / "train.csv.dvc").exists()
    res = cli("data", "add", "data/docs", "--name", "help-docs", "--kind", "retrieval", *ADD)
    assert res.code == 0, res.err
    listed = cli("data", "list", "--json").json
    assert {e["name"] for e in listed} == {"support-train", "help-docs"}
    docs = next(e for e in listed if e["name"] == "help-docs")
    assert docs["dvc"]["md5"].endswith(".dir") and docs["dvc"]["nfiles"] == 2
    shown = cli("data", "show", "support-train", "--json").json
    assert shown["regulations"] == ["GDPR"] and shown["used_by"] == []
    from govctl.config import find_repo
    from govctl.data import datasets

    assert datasets.describe(find_repo(), "support-train").to_json() == shown  # same as the CLI
    assert cli("data", "verify").code == 0
    log = cli("audit", "log", "--action", "data.add", "--json").json
    assert [e["subject"]["name"] for e in log] == ["support-train", "help-docs"]
    assert log[0]["evidence"]["md5"] == entry["dvc"]["md5"]


def test_changed_bytes_fail_verify_naming_the_dataset(data_repo, cli):
    assert cli("data", "add", "data/train.csv", "--name", "support-train", "--kind", "train",
               *ADD).code == 0
    (data_repo / "data" / "train.csv").write_text("q,a\nhello,mars\n")
    res = cli("data", "verify", "--json")
    assert res.code == 1
    problems = res.json["problems"]
    assert problems[0]["dataset"] == "support-train" and problems[0]["code"] == "bytes-changed"
    assert "support-train" in cli("data", "verify").out
    # recording the new version makes verify pass again, and history shows both commits
    git(data_repo, "add", "-A")
    git(data_repo, "commit", "-qm", "v1")
    (data_repo / "data" / "train.csv").write_text("q,a\nhello,world\n")  # restore v1 bytes
    (data_repo / "data" / "train.csv").write_text("q,a\nhello,mars\n")
    assert cli("data", "add", "data/train.csv", "--name", "support-train", "--kind", "train",
               *ADD).code == 0
    assert cli("data", "verify").code == 0
    git(data_repo, "add", "-A")
    git(data_repo, "commit", "-qm", "v2")
    hist = cli("data", "history", "support-train", "--json").json
    assert [h["message"] for h in hist] == ["v2", "v1"]
    assert hist[0]["md5"] != hist[1]["md5"]


def test_rehash_finds_an_edit_that_keeps_size_and_mtime(data_repo, cli):
    """DVC trusts its cached hash while size, inode and mtime are unchanged; --rehash does not."""
    import os

    for path, name, kind in (("data/train.csv", "support-train", "train"),
                             ("data/docs", "help-docs", "retrieval")):
        assert cli("data", "add", path, "--name", name, "--kind", kind, *ADD).code == 0
    assert cli("data", "verify").code == 0  # DVC has now cached the hashes
    assert cli("data", "verify", "--rehash").code == 0
    for f, new in ((data_repo / "data" / "train.csv", "q,a\nhello,mars!\n"),
                   (data_repo / "data" / "docs" / "a.txt", "article A\n")):
        st = f.stat()
        assert len(new) == st.st_size
        with f.open("r+") as fh:  # same inode, same size
            fh.write(new)
        os.utime(f, ns=(st.st_atime_ns, st.st_mtime_ns))  # same mtime
    assert cli("data", "verify").code == 0  # DVC's cached hashes do not see it
    res = cli("data", "verify", "--rehash", "--json")
    assert res.code == 1
    found = {p["dataset"]: p["message"] for p in res.json["problems"]}
    assert "hashes to" in found["support-train"]
    assert "data/docs/a.txt no longer matches" in found["help-docs"]


def test_dvc_file_disagreeing_with_inventory(data_repo, cli):
    assert cli("data", "add", "data/train.csv", "--name", "support-train", "--kind", "train",
               *ADD).code == 0
    inv = data_repo / "registry" / "datasets" / "support-train.yaml"
    inv.write_text(re.sub(r"md5: [0-9a-f]{32}", "md5: " + "ab" * 16, inv.read_text()))
    res = cli("data", "verify", "--json")
    assert res.code == 1 and res.json["problems"][0]["code"] == "inventory-mismatch"


def test_untracked_dvc_output_is_reported(data_repo, cli):
    dvc(data_repo, "add", "data/eval.csv")
    res = cli("data", "verify", "--json")
    assert res.code == 1
    assert res.json["problems"][0]["code"] == "not-inventoried"
    assert "data/eval.csv" in res.json["problems"][0]["message"]


def _pipeline(repo: Path) -> None:
    (repo / "data" / "raw.csv").write_text("q,a,split\nx,1,train\ny,2,eval\n")
    dvc(repo, "add", "data/raw.csv")
    dvc(repo, "stage", "add", "-n", "prepare", "-d", "data/raw.csv", "-o", "data/prepared.csv",
        "cp data/raw.csv data/prepared.csv")
    dvc(repo, "stage", "add", "-n", "featurize", "-d", "data/prepared.csv", "-o",
        "data/features.csv", "cp data/prepared.csv data/features.csv")
    dvc(repo, "repro")


def test_two_stage_pipeline_lineage(data_repo, cli):
    _pipeline(data_repo)
    assert cli("data", "add", "data/raw.csv", "--name", "raw-tickets", "--kind", "raw",
               *ADD).code == 0
    res = cli("data", "add", "data/features.csv", "--name", "features", "--kind", "train", *ADD,
              "--json")
    assert res.code == 0, res.err
    assert res.json["tracked_by"] == "pipeline"
    # the size comes from dvc.lock, as for a .dvc file
    assert res.json["dvc"]["size"] == (data_repo / "data" / "features.csv").stat().st_size
    assert not (data_repo / "data" / "features.csv.dvc").exists()
    lin = cli("data", "lineage", "features", "--json").json
    stages = {n["label"] for n in lin["nodes"] if n["kind"] == "stage"}
    assert stages == {"prepare", "featurize"}
    hashes = {n["label"]: n["hash"] for n in lin["nodes"] if n["kind"] == "data"}
    assert all(hashes[p] for p in ("data/raw.csv", "data/prepared.csv", "data/features.csv"))
    assert {"from": "stage:featurize", "to": "data:data/features.csv"} in lin["edges"]
    down = cli("data", "lineage", "raw-tickets", "--json").json
    assert "data:data/features.csv" in {n["id"] for n in down["nodes"]}
    from govctl import registry
    from govctl.config import find_repo

    assert registry.lineage_around(find_repo(), "features").to_json() == lin  # same as the CLI
    assert registry.lineage_around(find_repo(), "data/raw.csv").to_json() == down
    for fmt, marker in (("tree", "upstream:"), ("dot", "digraph"), ("mermaid", "flowchart")):
        res = cli("data", "lineage", "features", "--format", fmt)
        assert res.code == 0 and marker in res.out and "prepare" in res.out
    assert cli("data", "verify").code == 1  # prepared.csv is a tracked output, not inventoried
    (data_repo / "data" / "features.csv").unlink()  # a missing pipeline output: one finding
    problems = cli("data", "verify", "features", "--json").json["problems"]
    assert [(p["dataset"], p["code"]) for p in problems] == [("features", "missing")]


def test_pipeline_in_a_subfolder_dvc_yaml(data_repo, cli):
    """DVC reads every dvc.yaml; paths are relative to its folder (and a stage's wdir)."""
    _pipeline(data_repo)
    sub = data_repo / "features"
    sub.mkdir()
    (sub / "dvc.yaml").write_text(
        "stages:\n  extra:\n    cmd: cp ../data/features.csv extra.csv\n"
        "    deps: [../data/features.csv]\n    outs: [extra.csv]\n")
    dvc(data_repo, "repro", "features/dvc.yaml")
    assert cli("data", "add", "data/raw.csv", "--name", "raw-tickets", "--kind", "raw",
               *ADD).code == 0
    res = cli("data", "add", "features/extra.csv", "--name", "extra", "--kind", "train", *ADD,
              "--json")
    assert res.code == 0, res.err
    assert res.json["tracked_by"] == "pipeline"
    lin = cli("data", "lineage", "extra", "--json").json
    stages = {n["label"] for n in lin["nodes"] if n["kind"] == "stage"}
    assert stages == {"prepare", "featurize", "features/dvc.yaml:extra"}
    assert {"from": "data:data/features.csv", "to": "stage:features/dvc.yaml:extra"} in \
        lin["edges"]
    assert cli("data", "verify", "extra").code == 0
    (sub / "extra.csv").write_text("changed\n")
    problems = cli("data", "verify", "extra", "--json").json["problems"]
    assert [(p["dataset"], p["code"]) for p in problems] == [("extra", "bytes-changed")]


def test_leakage_found_by_hash_through_lineage(data_repo, cli):
    from govctl.config import find_repo
    from govctl.data import datasets

    _pipeline(data_repo)
    # the eval set is a renamed copy of the raw data that feeds training
    (data_repo / "data" / "holdout.csv").write_bytes((data_repo / "data" / "raw.csv").read_bytes())
    assert cli("data", "add", "data/holdout.csv", "--name", "holdout", "--kind", "eval",
               *ADD).code == 0
    assert cli("data", "add", "data/features.csv", "--name", "features", "--kind", "train",
               *ADD).code == 0
    assert cli("data", "add", "data/eval.csv", "--name", "clean-eval", "--kind", "eval",
               *ADD).code == 0
    r = find_repo()
    found = datasets.check_leakage(r, ["features"], ["holdout", "clean-eval"])
    assert [f.dataset for f in found] == ["holdout"]
    assert "training lineage of features" in found[0].message
    assert datasets.check_inventoried(r, ["features", "ghost"])[0].dataset == "ghost"


def test_allowed_for_environment(data_repo, cli):
    from govctl.config import find_repo
    from govctl.data import datasets

    assert cli("data", "add", "data/train.csv", "--name", "support-train", "--kind", "train",
               "--sensitivity", "restricted", "--pii", "present", "--owner", "x",
               "--key", "mel").code == 0
    r = find_repo()
    codes = {f.code for f in datasets.check_allowed(r, ["support-train"], "production")}
    assert codes == {"sensitivity", "pii"}
    staging = {"allowed_sensitivity": {"staging": ["restricted"]},
               "allowed_pii": {"staging": ["present"]}}
    assert datasets.check_allowed(r, ["support-train"], "staging", staging) == []
    # an environment the policy does not list gets production's lists: fail closed
    assert {f.code for f in datasets.check_allowed(r, ["support-train"], "prod", staging)} \
        == {"sensitivity", "pii"}
    allow = {"allowed_sensitivity": {"production": ["restricted"]},
             "allowed_pii": {"production": ["present"]}}
    assert datasets.check_allowed(r, ["support-train"], "production", allow) == []


def test_restricted_data_upstream_in_the_pipeline_is_not_allowed(data_repo, cli):
    from govctl.config import find_repo
    from govctl.data import datasets

    _pipeline(data_repo)
    assert cli("data", "add", "data/raw.csv", "--name", "raw-tickets", "--kind", "raw",
               "--sensitivity", "restricted", "--pii", "present", "--owner", "x",
               "--key", "mel").code == 0
    assert cli("data", "add", "data/features.csv", "--name", "features", "--kind", "train",
               *ADD).code == 0
    found = datasets.check_allowed(find_repo(), ["features"], "production")
    assert {(f.dataset, f.code) for f in found} == {("raw-tickets", "sensitivity"),
                                                    ("raw-tickets", "pii")}
    assert "feeds features through the pipeline" in found[0].message


def _snapshot(repo: Path) -> set[str]:
    return {p.relative_to(repo).as_posix() for p in repo.rglob("*")
            if ".git" not in p.parts and ".govctl" not in p.parts and p.is_file()}


@pytest.mark.parametrize(
    "args,fragment",
    [
        # a choice the CLI knows: click refuses it before govctl runs (the library checks too)
        (["data/train.csv", "--name", "t", "--kind", "weird"],
         "Invalid value for '--kind': 'weird' is not one of"),
        (["data/train.csv", "--name", "t", "--kind", "train", "--sensitivity", "secret"],
         "Invalid value for '--sensitivity': 'secret' is not one of"),
        (["../outside.csv", "--name", "t", "--kind", "train"], "outside the governed repo"),
        (["data/nope.csv", "--name", "t", "--kind", "train"], "does not exist"),
        (["data/train.csv", "--name", "Bad Name", "--kind", "train"], "invalid dataset name"),
        ([".", "--name", "t", "--kind", "train"], "is the governed repo itself"),
        (["data/train.csv", "--name", "t", "--kind", "train", "--retention", "-5"],
         "retention_days: Input should be greater than or equal to 1"),
    ],
)
def test_bad_input_leaves_nothing(data_repo, cli, args, fragment, tmp_path):
    (data_repo.parent / "outside.csv").write_text("x\n")
    before = _snapshot(data_repo)
    full = args + [a for a in ADD if a not in args] if "--sensitivity" not in args else \
        args + ["--pii", "none", "--owner", "o", "--key", "mel"]
    res = cli("data", "add", *full)
    assert res.code == 2, res.err
    assert fragment in res.err and "Traceback" not in res.err
    assert _snapshot(data_repo) == before


def test_duplicate_name_with_other_path(data_repo, cli):
    assert cli("data", "add", "data/train.csv", "--name", "support-train", "--kind", "train",
               *ADD).code == 0
    before = _snapshot(data_repo)
    res = cli("data", "add", "data/eval.csv", "--name", "support-train", "--kind", "eval", *ADD)
    assert res.code == 2 and "already exists for data/train.csv" in res.err
    assert _snapshot(data_repo) == before
    assert not (data_repo / "data" / "eval.csv.dvc").exists()


def test_file_inside_a_tracked_folder_is_refused(data_repo, cli):
    """DVC would answer with the folder's hash: the entry would record the wrong bytes."""
    assert cli("data", "add", "data/docs", "--name", "help-docs", "--kind", "retrieval",
               *ADD).code == 0
    before = _snapshot(data_repo)
    res = cli("data", "add", "data/docs/a.txt", "--name", "article-a", "--kind", "retrieval",
              *ADD)
    assert res.code == 2 and "inside data/docs, which DVC already tracks" in res.err
    assert _snapshot(data_repo) == before


def test_key_without_role_cannot_add(data_repo, cli):
    before = _snapshot(data_repo)
    res = cli("data", "add", "data/train.csv", "--name", "t", "--kind", "train",
              "--sensitivity", "public", "--pii", "none", "--owner", "o", "--key", "cora")
    assert res.code == 1 and "may not data.add" in res.err
    assert _snapshot(data_repo) == before


def test_remote_push_and_gate_evidence(data_repo, cli, tmp_path):
    from govctl.config import find_repo
    from govctl.data import datasets

    assert cli("data", "add", "data/train.csv", "--name", "support-train", "--kind", "train",
               *ADD).code == 0
    res = cli("data", "push")
    assert res.code == 2 and "no DVC default remote" in res.err
    dvc(data_repo, "remote", "add", "-d", "shared", str(tmp_path / "remote"))
    r = find_repo()
    remote, missing = datasets.check_pushed(r, ["support-train"])
    assert remote == "shared" and [f.code for f in missing] == ["not-pushed"]
    res = cli("data", "push", "--json")
    assert res.code == 0 and res.json["not_pushed"] == []
    assert datasets.check_pushed(r, ["support-train"]) == ("shared", [])
    assert cli("data", "verify").code == 0


def test_bytes_dvc_found_unchanged_are_not_asked_again_until_they_change(data_repo, cli,
                                                                          monkeypatch):
    """After DVC found a dataset's bytes unchanged, a check trusts a stamp of their files'
    stat (size, inode, mtime, ctime) and of its objects in DVC's cache instead of starting
    DVC again; an edit or a lost cache object since asks DVC again, a file changed in the
    last two seconds is never stamped, and --rehash (or GOVCTL_DVC_STAMPS=0) ignores the
    stamps."""
    import json
    import time

    from govctl import probe

    for path, name, kind in (("data/train.csv", "support-train", "train"),
                             ("data/docs", "help-docs", "retrieval")):
        assert cli("data", "add", path, "--name", name, "--kind", kind, *ADD).code == 0
    stamps_file = data_repo / ".govctl" / "dvc-stamps.json"
    probe.reset()
    assert cli("data", "verify").code == 0  # the files are too new: asked, not stamped
    assert probe.counts().get(probe.DVC_STATUS) == 1
    assert not stamps_file.exists() or not json.loads(stamps_file.read_text())["stamps"]
    time.sleep(2.1)  # older than the racy window now (what is asserted is not a time)
    assert cli("data", "verify").code == 0
    assert set(json.loads(stamps_file.read_text())["stamps"]) == {"data/train.csv",
                                                                  "data/docs"}
    probe.reset()
    assert cli("data", "verify").code == 0
    assert cli("data", "verify", "help-docs").code == 0
    assert probe.counts().get(probe.DVC_STATUS, 0) == 0, probe.counts()

    # an object gone from DVC's cache is "not in cache" to DVC: the stamp does not hide it
    md5 = json.loads(stamps_file.read_text())["stamps"]["data/train.csv"][0]
    obj = data_repo / ".dvc" / "cache" / "files" / "md5" / md5[:2] / md5[2:]
    saved = obj.read_bytes()
    obj.unlink()
    probe.reset()
    res = cli("data", "verify", "--json")
    assert res.code == 1 and probe.counts().get(probe.DVC_STATUS) == 1
    assert [p["dataset"] for p in res.json["problems"]] == ["support-train"]
    obj.write_bytes(saved)
    monkeypatch.setenv("GOVCTL_DVC_STAMPS", "0")  # off: DVC is asked every time
    probe.reset()
    assert cli("data", "verify").code == 0 and probe.counts().get(probe.DVC_STATUS) == 1
    monkeypatch.delenv("GOVCTL_DVC_STAMPS")

    (data_repo / "data" / "docs" / "a.txt").write_text("article A\n")  # same size
    probe.reset()
    res = cli("data", "verify", "--json")
    assert res.code == 1 and probe.counts().get(probe.DVC_STATUS) == 1
    assert [p["dataset"] for p in res.json["problems"]] == ["help-docs"]
    stamps = json.loads(stamps_file.read_text())["stamps"]
    assert "data/docs" not in stamps  # changed: unstamped

    stamps_file.write_text("{not json")  # a damaged stamp file only means DVC is asked
    probe.reset()
    assert cli("data", "verify", "support-train").code == 0
    assert probe.counts().get(probe.DVC_STATUS) == 1
    probe.reset()
    res = cli("data", "verify", "--rehash", "--json")  # reads every byte, stamps or not
    assert res.code == 1 and probe.counts().get(probe.DVC_STATUS) == 1
    assert [p["dataset"] for p in res.json["problems"]] == ["help-docs"]


def test_a_stamp_covers_the_dvcignore_files_above_the_dataset(data_repo, cli):
    """A changed ignore rule changes what a DVC directory holds, hence its hash: the root's
    and each parent folder's ``.dvcignore`` are in the stamp's fingerprint (one elsewhere
    is not). The two-second rule is set aside here by asking as if from the future."""
    import time

    from govctl.config import find_repo
    from govctl.data.inventory import Snapshot
    from govctl.data.stamps import _fingerprint

    assert cli("data", "add", "data/docs", "--name", "help-docs", "--kind", "retrieval",
               *ADD).code == 0
    repo = find_repo(data_repo)
    md5 = Snapshot(repo).get("help-docs").hash
    later = time.time_ns() + 60 * 10**9
    prints = [_fingerprint(repo.root, "data/docs", md5, later)]
    (data_repo / "elsewhere").mkdir()
    (data_repo / "elsewhere" / ".dvcignore").write_text("*.tmp\n")
    prints.append(_fingerprint(repo.root, "data/docs", md5, later))
    (data_repo / ".dvcignore").write_text("*.tmp\n")
    prints.append(_fingerprint(repo.root, "data/docs", md5, later))
    (data_repo / "data" / ".dvcignore").write_text("*.bak\n")
    prints.append(_fingerprint(repo.root, "data/docs", md5, later))
    assert None not in prints and prints[0] == prints[1]
    assert len(set(prints[1:])) == 3
