"""Build a release-ready governed repo through the CLI (shared by gate/canary tests).

The stages are also session templates (conftest.TEMPLATES): ``prepared`` (data, signed
agreement, prompt, committed), ``registered`` (+ model version 1) and ``first`` (+ its
checklist signed off and v1 promoted: a first-release canary at the plan's first step),
``second`` (v1 stable, v2 a 5% canary).
Tests take a copy with the ``clone_template`` fixture instead of rebuilding them."""

from __future__ import annotations

import sys
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


PREPARE = """import csv, pathlib, sys
rows = list(csv.reader(open(sys.argv[1])))
out = pathlib.Path(sys.argv[2]); out.mkdir(parents=True, exist_ok=True)
head, body = rows[0], rows[1:]
for name, part in (("train.csv", body[:-2]), ("eval.csv", body[-2:])):
    csv.writer(open(out / name, "w", newline="")).writerows([head, *part])
"""
FEATURIZE = """import hashlib, pathlib, sys
*ins, out = map(pathlib.Path, sys.argv[1:]); out.mkdir(parents=True, exist_ok=True)
for d in ins:
    for f in sorted(d.rglob("*")):
        if f.is_file():
            digest = hashlib.sha256(f.read_bytes()).hexdigest()
            (out / (f.stem + ".feat")).write_text(digest + "\\n")
"""
PIPELINE_DATASETS = ("support-train", "support-bot-eval", "help-articles", "support-features")


def prepare_pipeline(cli, repo: Path) -> None:
    """Like :func:`prepare`, with data from a real DVC pipeline shaped like DVC's
    get-started and the demo: raw tickets -> ``prepare`` (src/prepare.py) -> train.csv and
    eval.csv in data/prepared/; a retrieval corpus directory; ``featurize`` depending on
    train.csv and the corpus directory (not on eval.csv: the gate would rightly find the
    held-out set in the training lineage) -> data/features/. Built with ``dvc stage add``
    and ``dvc repro``; all of it inventoried."""
    from govctl.adapters import dvcrepo

    (repo / "src").mkdir(exist_ok=True)
    (repo / "src" / "prepare.py").write_text(PREPARE)
    (repo / "src" / "featurize.py").write_text(FEATURIZE)
    (repo / "data" / "raw").mkdir(parents=True, exist_ok=True)
    (repo / "data" / "raw" / "tickets.csv").write_text(
        "q,a\n" + "".join(f"question {i},answer {i}\n" for i in range(8)))
    (repo / "data" / "corpus").mkdir(parents=True, exist_ok=True)
    for i in range(3):
        (repo / "data" / "corpus" / f"article{i}.md").write_text(f"# help article {i}\n")
    ok(cli("data", "add", "data/raw/tickets.csv", "--name", "raw-tickets", "--kind", "raw",
           *ADD))
    ok(cli("data", "add", "data/corpus", "--name", "help-articles", "--kind", "retrieval",
           *ADD))
    py = f'"{sys.executable}"'
    dvcrepo.add_stage(repo, "prepare", f"{py} src/prepare.py data/raw/tickets.csv data/prepared",
                      ["src/prepare.py", "data/raw/tickets.csv"],
                      ["data/prepared/train.csv", "data/prepared/eval.csv"])
    dvcrepo.add_stage(repo, "featurize",
                      f"{py} src/featurize.py data/prepared/train.csv data/corpus data/features",
                      ["src/featurize.py", "data/prepared/train.csv", "data/corpus"],
                      ["data/features"])
    dvcrepo.reproduce(repo)
    for path, name, kind in (("data/prepared/train.csv", "support-train", "train"),
                             ("data/prepared/eval.csv", "support-bot-eval", "eval"),
                             ("data/features", "support-features", "train")):
        ok(cli("data", "add", path, "--name", name, "--kind", kind, *ADD))
    ok(cli("agreement", "new", "support-bot"))
    for k in ("erin", "paul", "cora"):
        ok(cli("agreement", "sign", "support-bot", "--key", k))
    ok(cli("prompt", "register", repo / "registry/prompts/support-answer.yaml", "--key", "mel"))
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "governed service with a DVC pipeline")


def register(cli, accuracy: float = 0.91, groundedness: float = 0.95,
             datasets: tuple[str, ...] = ("support-train", "support-bot-eval")) -> str:
    run = log_run({"accuracy": accuracy, "groundedness": groundedness})
    flags = [f for d in datasets for f in ("--dataset", d)]
    res = ok(cli("model", "register", "support-bot", "--run", run, *flags, "--key", "mel",
                 "--json"))
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
