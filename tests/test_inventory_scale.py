"""What keeps the inventory's cost flat: datasets added in one batch, entries read one by
one where a check needs only a few, the lineage narrowed to the paths asked about."""

from __future__ import annotations

import sys

import pytest

from govctl import probe
from govctl.config import find_repo
from govctl.data import datasets, lineage
from govctl.data.inventory import Snapshot
from govctl.errors import InputError
from govctl.signing.keys import KeyStore


def _item(path, name, kind="raw"):
    return datasets.NewDataset(path, name, kind, "internal", "none", "ml-team")


def test_add_many_adds_each_through_one_dvc_call(signers, repo, cli):
    (repo / "data").mkdir()
    (repo / "data" / "dir").mkdir()
    for i in range(3):
        (repo / "data" / f"f{i}.csv").write_text(f"id\n{i}\n")
        (repo / "data" / "dir" / f"p{i}.txt").write_text(f"part {i}\n")
    r, key = find_repo(), KeyStore().load("mel")
    added = datasets.add_many(r, key, [*(_item(repo / f"data/f{i}.csv", f"f{i}")
                                         for i in range(3)), _item(repo / "data/dir", "d")])
    assert [(a.entry.name, a.new_version) for a in added] == [
        ("f0", True), ("f1", True), ("f2", True), ("d", True)]
    assert added[3].entry.hash.endswith(".dir") and added[3].entry.dvc.nfiles == 3
    assert [r.rel(a.file) for a in added] == [f"registry/datasets/{n}.yaml"
                                              for n in ("f0", "f1", "f2", "d")]
    assert cli("data", "verify").code == 0  # DVC agrees with every hash recorded
    log = cli("audit", "log", "--json").json
    assert sum(1 for e in log if e["action"] == "data.add") == 4


def test_add_many_refuses_a_batch_with_a_bad_item_and_writes_nothing(signers, repo):
    (repo / "data").mkdir()
    (repo / "data" / "a.csv").write_text("a\n")
    (repo / "data" / "b.csv").write_text("b\n")
    r, key = find_repo(), KeyStore().load("mel")
    with pytest.raises(InputError, match="same name is added twice: a"):
        datasets.add_many(r, key, [_item(repo / "data/a.csv", "a"),
                                   _item(repo / "data/b.csv", "a")])
    with pytest.raises(InputError, match="invalid --pii"):
        datasets.add_many(r, key, [_item(repo / "data/a.csv", "a"),
                                   datasets.NewDataset(repo / "data/b.csv", "b", "raw",
                                                       "internal", "maybe", "x")])
    assert datasets.inventory(r) == [] and not (repo / "data" / "a.csv.dvc").exists()


def test_entries_one_by_one_and_a_focused_lineage_match_the_whole(signers, repo, cli):
    from govctl.adapters import dvcrepo

    (repo / "data").mkdir()
    (repo / "data" / "raw.csv").write_text("q\n1\n2\n")
    (repo / "data" / "other.csv").write_text("x\n")
    (repo / "gen.py").write_text("import sys; open(sys.argv[2], 'w').write(open(sys.argv[1]).read())\n")
    r, key = find_repo(), KeyStore().load("mel")
    datasets.add_many(r, key, [_item(repo / "data/raw.csv", "raw"),
                               _item(repo / "data/other.csv", "other")])
    dvcrepo.add_stage(r.root, "copy", f'"{sys.executable}" gen.py data/raw.csv data/train.csv',
                      ["gen.py", "data/raw.csv"], ["data/train.csv"])
    dvcrepo.reproduce(r.root)
    datasets.add(r, key, repo / "data/train.csv", name="train", kind="train",
                 sensitivity="internal", pii="none", owner="ml-team")
    whole = lineage.build(r)
    focused = lineage.build(r, ["data/train.csv"])
    tid = lineage.data_id("data/train.csv")
    assert focused.upstream(tid) == whole.upstream(tid) == {
        "stage:copy", "data:gen.py", "data:data/raw.csv"}
    assert focused.nodes[lineage.data_id("data/raw.csv")].attrs["tracked_by"] == \
        "data/raw.csv.dvc"  # a pipeline dep's .dvc record is read
    assert lineage.data_id("data/other.csv") not in focused.nodes  # the rest is not
    probe.reset()
    snap = Snapshot(r)
    assert snap.at_path("data/raw.csv").name == "raw" and snap.entry("nope") is None
    assert snap.entry("train").path == "data/train.csv"
    assert probe.counts().get(probe.INVENTORY) == 1  # the path lines, read once
    assert snap.at_path("data/raw.csv") == Snapshot(r).by_path["data/raw.csv"]
