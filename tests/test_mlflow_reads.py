"""State reads without mlflow: the direct readers (SQLite tables read-only, MLflow's REST
API) against the MLflow client on the same stores, every read function compared; read
commands and the router's lookups in a fresh interpreter never import mlflow; a store at a
schema revision govctl does not know is read through the client, with a note.

Real MLflow throughout: the stores are written with MlflowClient and served by a real
``mlflow server`` over HTTP."""

from __future__ import annotations

import json
import os
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from conftest import ROOT, run_subprocess
from test_startup import loaded_modules

from govctl.errors import GovctlError

READ_COMMANDS = (
    ("status",), ("status", "support-bot", "--json"), ("canary", "status", "support-bot"),
    ("checklist", "status", "support-bot", "--version", "2"), ("model", "verify"),
    ("model", "list"), ("model", "show", "support-bot"), ("prompt", "verify"),
)


def _enrich(repo: Path) -> dict[str, Any]:
    """More shapes than the release template has, written with the MLflow client: a
    model with a tag, an alias and a deleted version, a model with no version, a second
    and a chat prompt, a run with a NaN metric, an MLflow 3 LoggedModel."""
    import mlflow
    from mlflow import MlflowClient

    from govctl.adapters import mlflowstore
    from govctl.config import find_repo

    r = find_repo(repo)
    exp = mlflowstore.configure(r)
    c = MlflowClient(tracking_uri=mlflowstore.tracking_uri(r))
    with mlflow.start_run(experiment_id=exp) as run:
        mlflow.log_metric("loss", float("nan"))
        mlflow.log_metric("accuracy", 0.5)
    lm = c.create_logged_model(experiment_id=exp, name="lm")
    c.create_registered_model("other", tags={"team": "search"})
    c.create_model_version("other", f"runs:/{run.info.run_id}/model", run_id=run.info.run_id,
                           tags={"k": "v"})
    c.create_model_version("other", "file:///elsewhere/model")
    c.create_model_version("other", f"models:/{lm.model_id}", model_id=lm.model_id)
    c.delete_model_version("other", "2")
    c.set_registered_model_alias("other", "shadow", "1")
    c.create_registered_model("empty")
    c.register_prompt("support-answer", "Second wording: {{question}}", tags={"x": "y"})
    c.register_prompt("chatty", [{"role": "user", "content": "hi {{name}}"}])
    c.set_prompt_alias("chatty", "production", 1)
    return {"run_id": run.info.run_id, "model_id": lm.model_id}


def _plain(value: Any) -> Any:
    """JSON-shaped, NaN as the text "NaN" (NaN == NaN is false, "NaN" == "NaN" is not)."""
    if isinstance(value, float) and value != value:
        return "NaN"
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def snapshot(repo: Path, extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """Every read function of the read API on every name, version and run of the store
    (and on missing ones): its value, or the error class and message."""
    from govctl.adapters import mlflowread as rd
    from govctl.config import find_repo

    r = find_repo(repo)
    extra = extra or {}
    out: dict[str, Any] = {}

    def rec(key: str, fn: Any, *args: Any) -> Any:
        try:
            value = fn(r, *args)
            out[key] = ["ok", _plain(value)]
            return value
        except GovctlError as exc:
            out[key] = [type(exc).__name__, exc.message]
            return None

    rec("ping", rd.ping)
    models = rec("registered_models", rd.registered_models) or []
    prompts = rec("prompt_names", rd.prompt_names) or []
    runs = {extra.get("run_id") or "0" * 32, "0" * 32}
    for name in [*models, *prompts, "missing"]:
        versions = rec(f"model_versions {name}", rd.model_versions, name) or []
        rec(f"aliases {name}", rd.get_aliases, name)
        rec(f"tags {name}", rd.get_model_tags, name)
        for v in [*(v["version"] for v in versions), "2", "99"]:
            rec(f"version_source {name} {v}", rd.version_source, name, v)
        runs |= {v["run_id"] for v in versions if v["run_id"]}
        numbers = rec(f"prompt_versions {name}", rd.prompt_version_numbers, name) or []
        rec(f"prompt_aliases {name}", rd.prompt_aliases, name)
        for v in [*numbers, "99"]:
            rec(f"prompt_version {name} {v}", rd.prompt_version, name, v)
    for run_id in sorted(runs):
        rec(f"run_metrics {run_id}", rd.run_metrics, run_id)
        rec(f"run_artifact_uri {run_id}", rd.run_artifact_uri, run_id)
    for model_id in {extra.get("model_id") or "m-0000", "m-0000"}:
        rec(f"logged_model {model_id}", rd.logged_model_location, model_id)
    return out


def both_paths(repo: Path, extra: dict[str, Any] | None, monkeypatch) -> tuple[dict, dict, str]:
    """The snapshot read directly, then through the MLflow client, and the direct reader's
    kind (``sqlite`` / ``rest``)."""
    from govctl.adapters import mlflowread
    from govctl.config import find_repo

    monkeypatch.delenv("GOVCTL_MLFLOW_READS", raising=False)
    direct = snapshot(repo, extra)
    kind = mlflowread.reader(find_repo(repo)).kind
    monkeypatch.setenv("GOVCTL_MLFLOW_READS", "client")
    client = snapshot(repo, extra)
    assert mlflowread.reader(find_repo(repo)).kind == "client"
    monkeypatch.delenv("GOVCTL_MLFLOW_READS")
    return direct, client, kind


def differences(a: dict[str, Any], b: dict[str, Any], *, values_only: bool = False) -> list:
    out = []
    for key in sorted(set(a) | set(b)):
        x, y = a.get(key), b.get(key)
        if values_only and x and y and x[0] == y[0] != "ok":
            continue  # the same error, worded by a different backend
        if x != y:
            out.append((key, x, y))
    return out


def _serve(db: Path, tmp: Path) -> tuple[subprocess.Popen, str]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    log = open(tmp / "mlflow-server.log", "w")  # noqa: SIM115 - closed with the process
    proc = subprocess.Popen(
        [sys.executable, "-m", "mlflow", "server", "--host", "127.0.0.1", "--port", str(port),
         "--backend-store-uri", f"sqlite:///{db}", "--artifacts-destination",
         str(tmp / "served"), "--workers", "1"], stdout=log, stderr=subprocess.STDOUT,
        env={**os.environ, "MLFLOW_DISABLE_TELEMETRY": "true", "DO_NOT_TRACK": "true"})
    uri = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 180  # a hang guard, not a timing check
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"{uri}/health", timeout=2) as r:
                if r.status == 200:
                    return proc, uri
        except OSError:
            time.sleep(0.5)
    proc.terminate()
    pytest.fail(f"mlflow server did not start: {(tmp / 'mlflow-server.log').read_text()[-2000:]}")


def test_direct_reads_agree_with_the_client_on_sqlite_and_over_http(
        clone_template, monkeypatch, tmp_path):
    pytest.importorskip("flask", reason="the mlflow extra (full MLflow server) is not installed")
    svc = clone_template("second")
    extra = _enrich(svc)
    sql_direct, sql_client, kind = both_paths(svc, extra, monkeypatch)
    assert kind == "sqlite"
    assert differences(sql_direct, sql_client) == []
    # the snapshot exercised what it claims: values, deleted and prompt versions, errors
    assert sql_direct["registered_models"] == ["ok", ["empty", "other", "support-bot"]]
    assert [v["version"] for v in sql_direct["model_versions other"][1]] == ["1", "3"]
    assert sql_direct["aliases other"] == ["ok", {"shadow": "1"}]
    assert sql_direct["aliases support-answer"][0] == "NotFound"  # a prompt, not a model
    assert sql_direct["prompt_versions support-answer"] == ["ok", ["1", "2"]]
    assert sql_direct["prompt_version chatty 1"][1]["template"] == [
        {"role": "user", "content": "hi {{name}}"}]
    assert sql_direct["prompt_versions other"][0] == "InputError"  # a model, not a prompt
    assert sql_direct["prompt_version other 99"][0] == "InputError"
    assert sql_direct[f"run_metrics {extra['run_id']}"] == ["ok", {"accuracy": 0.5,
                                                                   "loss": "NaN"}]
    assert sql_direct["version_source other 3"][1].endswith("/artifacts")
    assert sql_direct[f"logged_model {extra['model_id']}"][0] == "ok"

    proc, uri = _serve(svc / ".govctl" / "mlflow.db", tmp_path)
    try:
        monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
        rest_direct, rest_client, kind = both_paths(svc, extra, monkeypatch)
        # within a read over HTTP, the search's answer stands for each model's own request
        # (a model it returns without aliases and tags, "empty" here, is asked on its own)
        from govctl import probe
        from govctl.adapters import mlflowread
        from govctl.config import find_repo

        r = find_repo(svc)
        with mlflowread.memo():
            probe.reset()
            names = mlflowread.registered_models(r)
            inside = {n: (mlflowread.get_aliases(r, n), mlflowread.get_model_tags(r, n))
                      for n in names}
            assert probe.counts()[probe.MLFLOW_READ] == 2, probe.counts()
        assert inside == {n: (mlflowread.get_aliases(r, n), mlflowread.get_model_tags(r, n))
                          for n in names}
        assert inside["other"][0] == {"shadow": "1"}
    finally:
        proc.terminate()
        proc.wait(timeout=60)
    assert kind == "rest"
    assert differences(rest_direct, rest_client) == []
    # the same store over HTTP reads as it does from the file (errors worded per backend)
    assert differences(rest_direct, sql_direct, values_only=True) == []


def test_read_commands_and_router_lookups_never_import_mlflow(clone_template, govctl_home):
    svc = clone_template("second")
    env = {"GOVCTL_HOME": str(govctl_home)}
    for args in READ_COMMANDS:
        mods = loaded_modules(*args, cwd=svc, env=env)
        assert "govctl" in mods and "mlflow" not in mods, args
    # ...and they print the same thing as through the MLflow client
    for args in (("status", "--json"), ("model", "show", "support-bot", "--json")):
        fast = run_subprocess(*args, cwd=svc, env=env)
        slow = run_subprocess(*args, cwd=svc, env={**env, "GOVCTL_MLFLOW_READS": "client"})
        assert fast.code == slow.code == 0 and fast.json == slow.json, args
    probe = ("import json, sys\nfrom govctl.release.routing import Router\n"
             "r = Router.for_repo('.', 'support-bot')\ns = r.state()\n"
             "path = r.load_model(s.stable)\n"
             "print(json.dumps([s.stable, s.canary, s.weight_bps, path.is_dir(),"
             " 'mlflow' in sys.modules]))\n")
    proc = subprocess.run([sys.executable, "-c", probe], cwd=svc, capture_output=True,
                          text=True, env={**os.environ, "PYTHONPATH": str(ROOT), **env},
                          timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout) == ["1", "2", 500, True, False]


def test_known_revision_is_the_installed_mlflows(clone_template):
    from govctl.adapters import mlflowdb

    svc = clone_template("registered")  # a store the installed MLflow created
    con = sqlite3.connect(svc / ".govctl" / "mlflow.db")
    try:
        assert mlflowdb.revision(con) in mlflowdb.KNOWN_REVISIONS, (
            "the installed MLflow creates a schema revision govctl does not know: check its "
            "migrations against the tables govctl/adapters/mlflowdb.py reads, then add it")
    finally:
        con.close()


def test_unknown_revision_falls_back_to_the_client_with_a_note(clone_template, cli):
    """A store at a revision govctl does not know (here: one no MLflow made) is handed to
    the MLflow client, which decides: MLflow 3.17 refuses a store whose schema is not its
    own, and says how to migrate it (exit 3), instead of govctl guessing at its tables."""
    from govctl.adapters import mlflowread
    from govctl.config import find_repo

    svc = clone_template("second")
    known = cli("model", "list", "--json")
    assert known.code == 0 and "note:" not in known.err
    assert mlflowread.reader(find_repo(svc)).kind == "sqlite"
    from govctl.adapters.mlflowdb import revision

    con = sqlite3.connect(svc / ".govctl" / "mlflow.db")
    original = revision(con)
    with con:
        con.execute("UPDATE alembic_version SET version_num = 'ffffffffffff'")
    con.close()
    res = cli("model", "list", "--json")
    assert "note:" in res.err and "schema revision ffffffffffff" in res.err
    assert "reading it through the MLflow client" in res.err
    assert mlflowread.reader(find_repo(svc)).kind == "client"
    assert res.code == 3 and "mlflow db upgrade" in res.err and "Traceback" not in res.err
    again = cli("status", "--json")  # noted once per store and process
    assert again.code == 3 and "note:" not in again.err
    # put back at the revision govctl knows, a new process reads it directly again
    con = sqlite3.connect(svc / ".govctl" / "mlflow.db")
    with con:
        con.execute("UPDATE alembic_version SET version_num = ?", (original,))
    con.close()
    fresh = run_subprocess("model", "list", "--json", cwd=svc)
    assert fresh.code == 0 and fresh.json == known.json and "note:" not in fresh.err


def test_bad_read_mode_is_exit_2(clone_template, cli, monkeypatch):
    clone_template("registered")
    monkeypatch.setenv("GOVCTL_MLFLOW_READS", "fast")
    res = cli("model", "list")
    assert res.code == 2 and "GOVCTL_MLFLOW_READS" in res.err and "auto, client" in res.err
    assert "Traceback" not in res.err



def test_a_store_created_after_the_first_read_is_read_directly_from_then_on(repo, cli):
    """A long-lived process (a notebook, a service embedding govctl, this test run) that
    reads a repo before its embedded store exists gets the client, which creates the store;
    once the file exists it reads directly, not through the client for the rest of its life."""
    from govctl.adapters import mlflowread
    from govctl.config import find_repo

    store = repo / ".govctl" / "mlflow.db"
    assert not store.exists()
    assert mlflowread.reader(find_repo(repo)).kind == "client"
    from mlflow import MlflowClient

    from govctl.adapters.mlflowstore import client

    assert isinstance(client(find_repo(repo)), MlflowClient)
    client(find_repo(repo)).create_registered_model("made-later")
    assert store.is_file()
    assert mlflowread.reader(find_repo(repo)).kind == "sqlite"
    res = cli("model", "list", "--json")
    assert res.code == 0 and "made-later" in res.out
    assert mlflowread.reader(find_repo(repo)).kind == "sqlite"


def test_a_read_asks_each_question_of_mlflow_once(clone_template, cli, monkeypatch):
    """Within a read (``status``, ``model verify``, ``model show``) each question goes to
    the store once — over HTTP each is a server round trip — and a caller may change what it
    got without changing the next answer; outside a read every call asks again."""
    import contextlib

    from govctl import probe
    from govctl.adapters import mlflowread
    from govctl.adapters import mlflowstore as ml
    from govctl.config import find_repo

    repo = find_repo(clone_template("second"))  # v1 stable, v2 a canary
    probe.reset()
    assert ml.get_aliases(repo, "support-bot") == ml.get_aliases(repo, "support-bot")
    assert probe.counts()[probe.MLFLOW_READ] == 2
    probe.reset()
    with mlflowread.memo():
        first = ml.get_aliases(repo, "support-bot")
        first["production"] = "99"  # the caller's copy
        assert ml.get_aliases(repo, "support-bot")["production"] == "1"
        ml.get_model_tags(repo, "support-bot")
        ml.ping(repo)  # answered already: not asked
        assert probe.counts()[probe.MLFLOW_READ] == 1
        with pytest.raises(GovctlError):  # a failure is not remembered as an answer
            ml.get_aliases(repo, "no-such-model")
        with pytest.raises(GovctlError):
            ml.get_aliases(repo, "no-such-model")
        assert probe.counts()[probe.MLFLOW_READ] == 3
        ml.set_alias(repo, "support-bot", "memo-test", "1")  # a write: the memo forgets
        assert ml.get_aliases(repo, "support-bot")["memo-test"] == "1"
        ml.delete_alias(repo, "support-bot", "memo-test")
        assert "memo-test" not in ml.get_aliases(repo, "support-bot")
    counted = {}
    for memo in (mlflowread.memo, contextlib.nullcontext):  # the same answers, fewer asks
        monkeypatch.setattr(mlflowread, "memo", memo)
        probe.reset()
        res = cli("status", "--json")
        assert res.code == 0
        counted[memo] = (probe.counts()[probe.MLFLOW_READ], res.json)
    (once, shown), (every, shown_too) = counted.values()
    assert shown == shown_too and once < every, (once, every)
