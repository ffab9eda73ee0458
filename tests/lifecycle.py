"""Build a release-ready governed repo through the CLI (shared by gate/canary tests).

The stages are also session templates (conftest.TEMPLATES): ``prepared`` (data, signed
agreement, prompt, committed), ``registered`` (+ model version 1) and ``first`` (+ its
checklist signed off and v1 promoted: a first-release canary at the plan's first step),
``second`` (v1 stable, v2 a 5% canary).
Tests take a copy with the ``clone_template`` fixture instead of rebuilding them."""

from __future__ import annotations

from pathlib import Path

from conftest import TEMPLATES, git

ADD = ["--sensitivity", "internal", "--pii", "none", "--owner", "ml-team", "--key", "mel"]
SIGNOFFS = {
    "use-case": "paul", "red-team": "erin", "retrieval-access": "erin",
    "prompt-injection": "erin", "pii-retention": "cora", "tracing": "otto",
    "cost-alerts": "otto", "fallback-modes": "paul", "rollback-plan": "otto",
    "incident-playbook": "cora",
}


def log_run(metrics: dict[str, float], inputs: tuple[tuple[str, str], ...] = ()) -> str:
    import mlflow
    from mlflow.data.http_dataset_source import HTTPDatasetSource
    from mlflow.data.meta_dataset import MetaDataset

    from govctl.adapters import mlflowstore
    from govctl.config import find_repo

    exp = mlflowstore.configure(find_repo())
    with mlflow.start_run(experiment_id=exp) as run:
        for k, v in metrics.items():
            mlflow.log_metric(k, v)
        for name, context in inputs:
            ds = MetaDataset(HTTPDatasetSource(f"https://example.invalid/{name}"), name=name,
                             digest=name[:8])
            mlflow.log_input(ds, context=context)
        mlflow.log_text("flavors: {}\n", "model/MLmodel")
    return run.info.run_id


def ok(res):
    assert res.code == 0, res.err + res.out
    return res


def prepare(cli, repo: Path) -> None:
    """Data, agreement (fully signed) and prompt: everything but a model version."""
    (repo / "data").mkdir(exist_ok=True)
    (repo / "data" / "train.csv").write_text("q,a\nhello,world\n")
    (repo / "data" / "eval.csv").write_text("q,a\nbye,moon\n")
    ok(cli("data", "add", "data/train.csv", "--name", "support-train", "--kind", "train", *ADD))
    ok(cli("data", "add", "data/eval.csv", "--name", "support-bot-eval", "--kind", "eval", *ADD))
    ok(cli("agreement", "new", "support-bot"))
    for k in ("erin", "paul", "cora"):
        ok(cli("agreement", "sign", "support-bot", "--key", k))
    ok(cli("prompt", "register", repo / "registry/prompts/support-answer.yaml", "--key", "mel"))
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "governed service")


def register(cli, accuracy: float = 0.91, groundedness: float = 0.95) -> str:
    run = log_run({"accuracy": accuracy, "groundedness": groundedness})
    res = ok(cli("model", "register", "support-bot", "--run", run, "--dataset", "support-train",
                 "--dataset", "support-bot-eval", "--key", "mel", "--json"))
    return res.json["version"]


def sign_all(cli, version: str, first_release: bool = False, skip: tuple[str, ...] = ()) -> None:
    args = ["--first-release"] if first_release else []
    ok(cli("checklist", "new", "support-bot", "--version", version, *args))
    for item, who in SIGNOFFS.items():
        if item not in skip:
            ok(cli("checklist", "sign-off", "support-bot", "--version", version, "--item", item,
                   "--key", who))


def _first(cli, repo: Path) -> None:
    sign_all(cli, "1", first_release=True)
    ok(cli("promote", "support-bot", "--version", "1", "--key", "rita"))


def _second(cli, repo: Path) -> None:
    """v1 through every canary step to stable, then v2 promoted: a 5% canary."""
    import telemetry_gen

    good = telemetry_gen.write(repo.parent / "good.jsonl", {"1": {"n": 3000}})
    for _ in range(4):
        ok(cli("canary", "advance", "support-bot", "--telemetry", good, "--key", "rita"))
    _check_version(register(cli), "2")
    sign_all(cli, "2")
    ok(cli("promote", "support-bot", "--version", "2", "--key", "rita"))


TEMPLATES.update({
    "prepared": ("signed", prepare),
    "registered": ("prepared", lambda cli, repo: _check_version(register(cli), "1")),
    "first": ("registered", _first),
    "second": ("first", _second),
})


def _check_version(version: str, expected: str) -> None:
    assert version == expected, version
