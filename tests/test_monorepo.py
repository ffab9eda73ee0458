"""Monorepos: ``govctl init`` governs a subdirectory of an existing git repository; every
path is relative to the governed root (where ``govctl.toml`` is)."""

from __future__ import annotations

from conftest import git

ADD = ["--sensitivity", "internal", "--pii", "none", "--owner", "ml-team", "--key", "alice"]


def test_init_in_a_subdirectory_of_a_git_repo(tmp_path, cli):
    mono = tmp_path / "mono"
    (mono / "services").mkdir(parents=True)
    git(mono, "init", "-q", "-b", "main")
    (mono / "README").write_text("the monorepo\n")
    git(mono, "add", "README")
    git(mono, "commit", "-qm", "first")
    svc = mono / "services" / "bot"
    res = cli("init", svc, "--admin", "alice", "--json")
    assert res.code == 0, res.err
    assert ".dvc" in res.json["created"] and ".git" not in res.json["created"]
    assert (svc / ".dvc").is_dir() and not (mono / ".dvc").exists()
    assert not (svc / ".git").exists()
    (svc / "data").mkdir()
    (svc / "data" / "train.csv").write_text("q,a\nhello,world\n")
    (svc / "src").mkdir()
    res = cli("data", "add", "../data/train.csv", "--name", "bot-train", "--kind", "train",
              *ADD, cwd=svc / "src")
    assert res.code == 0, res.err + res.out
    show = cli("data", "show", "bot-train", "--json").json
    assert show["path"] == "data/train.csv"
    git(mono, "add", "-A")
    git(mono, "commit", "-qm", "govern the bot")
    assert cli("data", "verify").code == 0
    history = cli("data", "history", "bot-train", "--json")
    assert history.code == 0, history.err
    assert len(history.json) == 1 and history.json[0]["md5"] == show["dvc"]["md5"]
    assert cli("audit", "verify", cwd=svc).code == 0
    # the monorepo's other content stays the monorepo's: nothing written above the root
    assert sorted(p.name for p in mono.iterdir()) == [".git", "README", "services"]
