"""MLflow 3 LoggedModels (``log_model(name=...)``) and the pinned MLflow store, through the
CLI against a real SQLite store. Models are logged with the flavours' own ``log_model``."""

from __future__ import annotations

from govctl.config import find_repo

ADD = ["--sensitivity", "internal", "--pii", "none", "--owner", "ml-team", "--key", "mel"]
REQS = ["scikit-learn"]  # pinned: MLflow's requirement inference loads the model in a subprocess


def _run_with_models(*names: str, sklearn: bool = False) -> tuple[str, dict[str, str]]:
    import mlflow
    import mlflow.pyfunc

    from govctl.adapters import mlflowstore

    exp = mlflowstore.configure(find_repo())
    ids = {}
    with mlflow.start_run(experiment_id=exp) as run:
        mlflow.log_metric("accuracy", 0.93)
        if sklearn:
            import mlflow.sklearn
            from sklearn.linear_model import LogisticRegression

            clf = LogisticRegression().fit([[0.0], [1.0]], [0, 1])
            ids["model"] = mlflow.sklearn.log_model(clf, name="model",
                                                    pip_requirements=REQS).model_id
        for n in names:
            class Model(mlflow.pyfunc.PythonModel):
                def predict(self, context, model_input):  # noqa: ANN001
                    return model_input

            ids[n] = mlflow.pyfunc.log_model(name=n, python_model=Model(),
                                             pip_requirements=["mlflow"]).model_id
    return run.info.run_id, ids


def test_logged_models_register_and_drift(signers, repo, cli):
    run1, ids1 = _run_with_models(sklearn=True)
    assert ids1["model"].startswith("m-")
    # the run has exactly one logged model: --run is enough
    res = cli("model", "register", "support-bot", "--run", run1, "--key", "mel", "--json")
    assert res.code == 0, res.err
    assert res.json["model_id"] == ids1["model"]
    assert res.json["source"] == f"models:/{ids1['model']}"
    show = cli("model", "show", "support-bot", "--json").json
    assert show["source"] == f"models:/{ids1['model']}" and show["model_id"] == ids1["model"]
    from govctl import registry

    assert registry.describe_model(find_repo(), "support-bot").to_json() == show  # as the CLI
    assert show["metrics"] == {"accuracy": 0.93}
    entry = [e for e in cli("audit", "log", "--json").json if e["action"] == "model.register"]
    assert entry[-1]["evidence"]["model_id"] == ids1["model"]

    # several logged models: the run alone is ambiguous, --model-name or --model-id choose
    run2, ids2 = _run_with_models("chat", "embed")
    res = cli("model", "register", "support-bot", "--run", run2, "--key", "mel")
    assert res.code == 2 and "logged 2 models" in res.err and "--model-name" in res.err
    res = cli("model", "register", "support-bot", "--run", run2, "--model-name", "embed",
              "--key", "mel", "--json")
    assert res.code == 0, res.err
    assert res.json["model_id"] == ids2["embed"]
    res = cli("model", "register", "support-bot", "--model-id", ids2["chat"], "--key", "mel",
              "--json")
    assert res.code == 0, res.err
    assert res.json["run_id"] == run2 and res.json["source"] == f"models:/{ids2['chat']}"
    res = cli("model", "register", "support-bot", "--model-id", ids2["chat"], "--run", run1,
              "--key", "mel")
    assert res.code == 2 and f"was logged by run {run2}" in res.err
    res = cli("model", "register", "support-bot", "--model-id", "m-0000", "--key", "mel")
    assert res.code == 2 and "m-0000" in res.err and "MLflow store: sqlite:///" in res.err
    assert cli("model", "verify").code == 0

    # the source issue 20 hashes: the LoggedModel's artifact location
    from govctl.registry.models import artifact_source

    src = artifact_source(find_repo(), "support-bot", "1")
    assert src["source"] == f"models:/{ids1['model']}" and src["model_id"] == ids1["model"]
    assert f"models/{ids1['model']}/artifacts" in src["download_uri"]

    # drift covers the model id and source tags
    from govctl.adapters import mlflowstore

    c = mlflowstore.client(find_repo())
    c.set_model_version_tag("support-bot", "3", "govctl.model_id", ids2["embed"])
    res = cli("model", "verify", "--json")
    assert res.code == 4
    assert any("govctl.model_id" in d["message"] for d in res.json["drift"])


def test_classic_artifact_runs_still_register(signers, repo, cli):
    from lifecycle import log_run

    run = log_run({"accuracy": 0.9})
    res = cli("model", "register", "support-bot", "--run", run, "--key", "mel", "--json")
    assert res.code == 0, res.err
    assert res.json["source"] == f"runs:/{run}/model" and res.json["model_id"] is None
    res = cli("model", "register", "support-bot", "--run", run, "--model-name", "x",
              "--key", "mel")
    assert res.code == 2 and "logged no model called 'x'" in res.err
    assert cli("model", "verify").code == 0


def test_the_store_pinned_in_govctl_toml_is_used_and_never_replaced(signers, repo, cli,
                                                                  monkeypatch):
    from lifecycle import log_run
    from mlflow import MlflowClient

    team = repo / "mlflow.db"
    MlflowClient(f"sqlite:///{team}").search_experiments()  # the team's existing store
    res = cli("init", ".", "--admin", "alice", "--mlflow-tracking-uri", "sqlite:///mlflow.db")
    assert res.code == 0, res.err
    run = log_run({"accuracy": 0.9})
    (repo / "src").mkdir()
    res = cli("model", "register", "support-bot", "--run", run, "--key", "mel", cwd=repo / "src")
    assert res.code == 0, res.err
    assert not (repo / ".govctl" / "mlflow.db").exists()
    assert not (repo / "src" / "mlflow.db").exists()
    assert MlflowClient(f"sqlite:///{team}").get_registered_model("support-bot")
    assert cli("model", "verify").code == 0
    res = cli("model", "register", "support-bot", "--run", "0" * 32, "--key", "mel")
    assert res.code == 2
    assert f"MLflow store: sqlite:///{team} (from govctl.toml mlflow_tracking_uri)" in res.err
    # the configured store gone (moved, or a typo): an error, not a fresh empty store
    team.rename(repo / "moved.db")
    before = len(cli("audit", "log", "-n", "0", "--json").json)
    res = cli("model", "verify")
    assert res.code == 2 and "no MLflow store at" in res.err and "mlflow_tracking_uri" in res.err
    assert not team.exists() and not (repo / ".govctl" / "mlflow.db").exists()
    res = cli("model", "register", "support-bot", "--run", run, "--key", "mel")
    assert res.code == 2 and not team.exists()
    assert len(cli("audit", "log", "-n", "0", "--json").json) == before
    # the environment overrides the file; relative to the governed root, not the cwd
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "sqlite:///moved.db")
    assert cli("model", "verify", cwd=repo / "src").code == 0
    monkeypatch.setenv("MLFLOW_TRACKING_URI",
                       "postgresql+psycopg://govctl:s3cret@127.0.0.1:1/mlflow")
    res = cli("model", "register", "support-bot", "--run", "0" * 32, "--key", "mel")
    assert res.code == 3 and "s3cret" not in res.err


def test_a_logged_model_registers_whatever_store_mlflow_points_at(signers, repo, cli,
                                                                  tmp_path, monkeypatch):
    """MLflow resolves a ``models:/m-…`` source through its process-global tracking store,
    not the client's: with the global URI on another store (a notebook that used another
    project, a second governed repo in the same process) registration said "Logged model …
    not found". govctl registers in the repo's store and leaves the global URI as it was."""
    import mlflow

    _run, ids = _run_with_models(sklearn=True)
    other = f"sqlite:///{tmp_path / 'elsewhere.db'}"
    mlflow.set_tracking_uri(other)
    # as govctl.adapters.mlflowstore.configure leaves it for another repo: the global URI
    # set, the user's environment (which govctl would honour as a choice) untouched
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    res = cli("model", "register", "support-bot", "--model-id", ids["model"], "--key", "mel",
              "--json")
    assert res.code == 0, res.err
    assert res.json["source"] == f"models:/{ids['model']}"
    assert mlflow.get_tracking_uri() == other
