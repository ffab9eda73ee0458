"""``govctl init --mlflow-tracking-uri``: the team's MLflow store pinned in govctl.toml through
the CLI (no hand-edited file), checked before anything is written, never replaced by a new
empty store, credentials never written or printed; ``govctl config`` shows what is in
effect and where it came from."""

from __future__ import annotations

import sqlite3

from conftest import tree_hash

SECRET = "s3cr3t-pw"


def _team_store(path):
    """An MLflow store as the team's MLflow made it (a real client call creates the tables)."""
    from mlflow import MlflowClient

    path.parent.mkdir(parents=True, exist_ok=True)
    MlflowClient(f"sqlite:///{path}").search_experiments()
    return path


def test_init_pins_the_team_store_relative_to_the_governed_root(tmp_path, cli):
    project = tmp_path / "project"
    team = _team_store(project / "mlflow.db")
    res = cli("init", project, "--admin", "alice", "--mlflow-tracking-uri",
              "sqlite:///mlflow.db", "--json")
    assert res.code == 0, res.err
    assert res.json["settings"] == {"mlflow_tracking_uri": "sqlite:///mlflow.db"}
    assert 'mlflow_tracking_uri = "sqlite:///mlflow.db"' in (project / "govctl.toml").read_text()
    (project / "src").mkdir()
    info = cli("config", "--json", cwd=project / "src").json
    assert info["root"] == str(project.resolve())
    tracking = info["stores"]["mlflow_tracking"]
    assert tracking == {"uri": f"sqlite:///{team.resolve()}", "from":
                        "govctl.toml mlflow_tracking_uri", "exists": True,
                        "created_on_first_use": False}
    assert info["stores"]["mlflow_registry"]["uri"] == tracking["uri"]
    # read from a subdirectory, the relative path still means the root's store
    res = cli("prompt", "register", "../registry/prompts/support-answer.yaml", "--key", "alice",
              cwd=project / "src")
    assert res.code == 0, res.err
    assert not (project / ".govctl" / "mlflow.db").exists()
    assert not (project / "src" / "mlflow.db").exists()
    names = sqlite3.connect(team).execute("SELECT name FROM registered_models").fetchall()
    assert ("support-answer",) in names
    human = cli("config", cwd=project).out
    assert "govctl.toml mlflow_tracking_uri" in human and "exists" in human


def test_a_governed_repo_gets_its_store_pinned_by_running_init_again(repo, cli):
    team = _team_store(repo / "shared" / "mlflow.db")
    before = cli("config", "--json").json["stores"]["mlflow_tracking"]
    assert before["from"] == "the embedded store" and before["created_on_first_use"]
    res = cli("init", ".", "--admin", "alice", "--mlflow-tracking-uri",
              "sqlite:///shared/mlflow.db", "--json")
    assert res.code == 0, res.err
    assert res.json["created"] == ["govctl.toml mlflow_tracking_uri"]
    assert cli("config", "--json").json["stores"]["mlflow_tracking"]["uri"] == \
        f"sqlite:///{team.resolve()}"
    # the same store again (spelled relative or absolute): nothing to do
    for uri in ("sqlite:///shared/mlflow.db", f"sqlite:///{team}"):
        res = cli("init", ".", "--admin", "alice", "--mlflow-tracking-uri", uri, "--json")
        assert res.code == 0 and res.json["created"] == [], res.err
    assert (repo / "govctl.toml").read_text().count("mlflow_tracking_uri =") == 1
    assert [e["action"] for e in cli("audit", "log", "--json").json] == ["repo.init",
                                                                        "trust.update"]


def test_a_pinned_store_is_never_replaced(repo, cli):
    _team_store(repo / "mlflow.db")
    _team_store(repo / "other.db")
    assert cli("init", ".", "--admin", "alice", "--mlflow-tracking-uri",
               "sqlite:///mlflow.db").code == 0
    before = tree_hash(repo)
    res = cli("init", ".", "--admin", "alice", "--mlflow-tracking-uri", "sqlite:///other.db")
    assert res.code == 2
    assert "already pins mlflow_tracking_uri = sqlite:///mlflow.db" in res.err
    assert "never replaces a configured store" in res.err
    assert tree_hash(repo) == before


def test_a_store_that_is_not_there_is_refused_and_nothing_is_written(tmp_path, cli,
                                                                     govctl_home):
    project = tmp_path / "project"
    project.mkdir()
    _team_store(project / "mlflow.db")
    (project / "notes.db").write_bytes(b"")
    conn = sqlite3.connect(project / "other.sqlite")
    conn.execute("CREATE TABLE t (x)")
    conn.commit()
    conn.close()
    (project / "garbage.db").write_text("not a database at all, just text " * 10)
    before = tree_hash(tmp_path)
    cases = {
        "sqlite:///mlfow.db": "no MLflow store at",  # a typo: MLflow would create it empty
        "sqlite:///nowhere/mlflow.db": "does not exist (a typo?)",
        "sqlite:///other.sqlite": "not an MLflow store",
        "sqlite:///notes.db": "not an MLflow store",
        "sqlite:///garbage.db": "not a readable SQLite database",
        "sqlite:///:memory:": "in-memory",
        "mlruns": "relative folder",
        f"file://{tmp_path}/no-such-folder": "no MLflow file store",
        "sqlite:///mlflow.db\n[x]": "control characters",
    }
    for uri, message in cases.items():
        for option in ("--mlflow-tracking-uri", "--mlflow-registry-uri"):
            res = cli("init", project, "--admin", "alice", option, uri)
            assert res.code == 2, (uri, res.err)
            assert message in res.err and option in res.err, (uri, res.err)
            assert "Traceback" not in res.err
    assert tree_hash(tmp_path) == before
    assert not (project / "govctl.toml").exists() and not (govctl_home / "keys").exists()
    # a server that does not answer: exit 3, likewise before anything is written
    res = cli("init", tmp_path / "new", "--admin", "alice", "--mlflow-tracking-uri",
              "http://127.0.0.1:9/")
    assert res.code == 3 and "unreachable" in res.err
    assert not (tmp_path / "new").exists() and not (govctl_home / "keys").exists()


def test_credentials_are_never_written_nor_printed(tmp_path, cli, monkeypatch):
    project = tmp_path / "project"
    for uri in (f"postgresql+psycopg://mlflow:{SECRET}@127.0.0.1:9/mlflow",
                f"https://mlflow.internal/?token={SECRET}",
                f"https://admin:{SECRET}@mlflow.internal"):
        res = cli("init", project, "--admin", "alice", "--mlflow-tracking-uri", uri)
        assert res.code == 2 and "holds a password or token" in res.err, res.err
        assert SECRET not in res.out + res.err and "MLFLOW_TRACKING_PASSWORD" in res.err
        assert not project.exists()
    # a user name alone is not a secret: the URI is kept, the unreachable server named
    res = cli("init", project, "--admin", "alice", "--mlflow-registry-uri",
              "postgresql+psycopg://mlflow@127.0.0.1:9/mlflow")
    assert res.code == 3 and "cannot connect to its database" in res.err
    assert not project.exists()
    # the environment's URI (with its password) shown by config and init, redacted
    assert cli("init", project, "--admin", "alice").code == 0
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"https://bob:{SECRET}@mlflow.internal")
    res = cli("init", project, "--admin", "alice", "--json")
    assert res.code == 0 and SECRET not in res.out + res.err
    assert any("MLFLOW_TRACKING_URI is set in this shell" in n and "***@mlflow.internal" in n
               for n in res.json["notes"])
    for args in (("config",), ("config", "--json")):
        res = cli(*args, cwd=project)
        assert res.code == 0 and SECRET not in res.out + res.err
        assert "https://***@mlflow.internal" in res.out and "MLFLOW_TRACKING_URI" in \
            res.out + res.err


def test_a_pinned_store_gone_is_an_error_not_an_empty_status(repo, signers, cli):
    """The field report: forgotten or moved, govctl made a new empty store, showed an empty
    status with exit 0 and registered prompts there."""
    team = _team_store(repo / "mlflow.db")
    assert cli("init", ".", "--admin", "alice", "--mlflow-tracking-uri",
               "sqlite:///mlflow.db").code == 0
    assert cli("prompt", "register", "registry/prompts/support-answer.yaml",
               "--key", "mel").code == 0
    assert cli("status").code == 0
    team.rename(repo / "moved.db")
    before = tree_hash(repo)
    for args in (("status",), ("prompt", "verify"),
                 ("prompt", "register", "registry/prompts/support-answer.yaml", "--key", "mel")):
        res = cli(*args)
        assert res.code == 2, (args, res.out, res.err)
        assert "no MLflow store at" in res.err and "govctl.toml mlflow_tracking_uri" in res.err
    assert tree_hash(repo) == before
    assert not team.exists() and not (repo / ".govctl" / "mlflow.db").exists()
    info = cli("config", "--json").json["stores"]["mlflow_tracking"]
    assert info["exists"] is False and not info["created_on_first_use"]
    assert "MISSING" in cli("config").out
