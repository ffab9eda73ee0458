"""govctl init: a governed repo from nothing, safely re-run, bad input refused."""

from __future__ import annotations

from pathlib import Path

from conftest import git


def test_init_creates_governed_repo(tmp_path, cli):
    path = tmp_path / "svc"
    res = cli("init", path, "--admin", "alice", "--json")
    assert res.code == 0, res.err
    data = res.json
    assert data["key_generated"] is True
    for item in ("policies/trust.yaml", "govctl.toml", "agreements/", ".git", ".dvc"):
        assert item in data["created"]
    assert (path / ".git").is_dir() and (path / ".dvc").is_dir()
    assert ".govctl/" in (path / ".gitignore").read_text().splitlines()
    assert 'trust_root = "sha256:' in (path / "govctl.toml").read_text()
    assert (path / "policies" / "trust.history" / "0001.json").is_file()
    res = cli("audit", "log", "--json", cwd=path)
    assert [e["action"] for e in res.json] == ["repo.init", "trust.update"]


def test_init_twice_is_safe_and_keeps_user_edits(tmp_path, cli):
    path = tmp_path / "svc"
    assert cli("init", path, "--admin", "alice").code == 0
    packs = sorted(p for p in (path / "policies").glob("*.yaml") if p.name != "trust.yaml")
    edited = packs[0] if packs else None
    if edited:
        edited.write_text(edited.read_text() + "\n# my change\n")
    before = {p: p.read_bytes() for p in path.rglob("*") if p.is_file() and ".git" not in p.parts
              and ".govctl" not in p.parts}
    res = cli("init", path, "--admin", "alice", "--json")
    assert res.code == 0, res.err
    assert res.json["created"] == []
    after = {p: p.read_bytes() for p in before}
    assert after == before
    assert len(cli("audit", "log", "--json", cwd=path).json) == 2


def test_init_inside_existing_git_repo_keeps_history(tmp_path, cli):
    path = tmp_path / "existing"
    path.mkdir()
    git(path, "init", "-q", "-b", "main")
    (path / "README").write_text("hello\n")
    git(path, "add", "README")
    git(path, "commit", "-qm", "first")
    assert cli("init", path, "--admin", "alice").code == 0
    assert "first" in git(path, "log", "--oneline")
    entries = cli("audit", "log", "--json", cwd=path).json
    assert entries[0]["git_commit"] == git(path, "rev-parse", "HEAD").strip()


def test_init_on_a_file_is_refused_and_changes_nothing(tmp_path, cli, govctl_home):
    target = tmp_path / "afile"
    target.write_text("x")
    res = cli("init", target, "--admin", "alice")
    assert res.code == 2
    assert "is a file" in res.err
    assert "Traceback" not in res.err
    assert target.read_text() == "x"
    assert not (govctl_home / "keys").exists()


def test_command_outside_a_governed_repo(tmp_path, cli):
    res = cli("trust", "show", cwd=tmp_path)
    assert res.code == 2
    assert "not inside a governed repo" in res.err
    assert "govctl init" in res.err


def test_help_lists_groups(cli):
    res = cli("--help")
    assert res.code == 0
    for group in ("init", "keys", "trust", "audit"):
        assert group in res.out


def test_version(cli):
    res = cli("--version")
    assert res.code == 0 and res.out.startswith("govctl ")


def test_unused_path_is_created(tmp_path, cli):
    path: Path = tmp_path / "a" / "b"
    assert cli("init", path, "--admin", "alice").code == 0
    assert (path / "govctl.toml").exists()

