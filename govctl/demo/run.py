"""``govctl demo``: a real example service governed end to end on embedded defaults.

Everything goes through the same library functions as the CLI: a git + DVC repo, a DVC
pipeline, a trained model logged to a SQLite MLflow store, prompts, signed agreement,
checklist sign-offs, the gate, canaries fed by real calls through the routing library
(MLflow traces), an automatic rollback of a regressed candidate, an emergency rollback, the
audit, and the release dossier.

Everything it writes stays under ``--dir``: the governed repo is a git repository of its
own (even inside another work tree), DVC's site cache, MLflow's store, artifacts and traces,
and the keys all live below it. The latency the canary judges is the demo model's seeded
:class:`~govctl.demo.model.LatencyModel` (recorded on each trace as ``govctl.latency_ms``),
not the wall-clock time of the calls, so the outcome is the same on an idle or a loaded
machine.
"""

from __future__ import annotations

import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from govctl.demo.serving import SERVICE, rollout
from govctl.errors import InputError

SIGNERS = {  # name -> roles
    "alex": ["admin", "ml-engineer", "releaser", "oncall"],
    "erin": ["eng-lead"],
    "paul": ["product-owner"],
    "cora": ["compliance"],
}
SIGNOFF_BY_ROLE = {"eng-lead": "erin", "product-owner": "paul", "compliance": "cora",
                   "oncall": "alex"}


@dataclass
class Narrator:
    quiet: bool = False
    steps: list[dict[str, Any]] = field(default_factory=list)
    started: float = field(default_factory=time.monotonic)

    def __post_init__(self) -> None:
        from rich.console import Console

        self.console = Console(stderr=self.quiet, highlight=False)

    def step(self, title: str) -> None:
        self.steps.append({"step": title, "t": round(time.monotonic() - self.started, 1)})
        if not self.quiet:
            self.console.rule(f"[bold]{len(self.steps)}. {title}", align="left")

    def say(self, text: str) -> None:
        if not self.quiet:
            self.console.print(f"  {text}")


def _write_policy(root: Path) -> None:
    path = root / "policies" / "release.yaml"
    text = path.read_text()
    # three steps, and the smallest sample the analysis decides on that keeps the demo's
    # verdicts clear (its latency model's p95 over 30 requests is within 20% of the
    # stable one's 99% of the time): every canary request is a real trace in MLflow
    text = text.replace("production: [5, 25, 50, 100]", "production: [25, 50, 100]")
    text = text.replace("min_samples: 200 ", "min_samples: 30   ")
    path.write_text(text)


def _write_agreement(repo: Any) -> None:
    from govctl import agreements

    path = agreements.new(repo, SERVICE)
    text = path.read_text()
    for old, new in (("p50: 600", "p50: 150"), ("p95: 1500", "p95: 300"),
                     ("p99: 3000", "p99: 600"), ('error_rate: "0.01"', 'error_rate: "0.02"'),
                     ('max_cost_per_request_usd: "0.02"', 'max_cost_per_request_usd: "0.002"'),
                     ("eval_dataset: support-bot-eval", "eval_dataset: support-eval")):
        text = text.replace(old, new)
    path.write_text(text)


def _train(repo: Any, n: Narrator, version_note: str, **params: Any) -> str:
    import mlflow
    from mlflow.data.http_dataset_source import HTTPDatasetSource
    from mlflow.data.meta_dataset import MetaDataset

    from govctl.adapters import mlflowstore
    from govctl.data import datasets
    from govctl.demo import corpus
    from govctl.demo.model import LatencyModel, RetrievalModel

    root = repo.root
    train = corpus.read_questions(root / "data/prepared/train.csv")
    evals = corpus.read_questions(root / "data/prepared/eval.csv")
    docs = corpus.read_corpus(root / "data/corpus/articles.jsonl")
    model = RetrievalModel.train(train, docs, latency=LatencyModel(**params))
    accuracy = model.accuracy(evals)
    grounded = sum(model.answer(q)["citation"] == i for q, i in evals) / len(evals)
    exp = mlflowstore.configure(repo)
    with mlflow.start_run(experiment_id=exp, run_name=f"train {version_note}") as run:
        mlflow.log_params({**model.latency.params(), "degrade": model.degrade,
                           "note": version_note})
        mlflow.log_metrics({"accuracy": accuracy, "groundedness": grounded})
        for name, context in (("support-train", "training"), ("support-eval", "eval"),
                              ("help-articles", "training")):
            e = datasets.get(repo, name)
            # mlflow declares Dataset.profile abstract without ABCMeta; MetaDataset is the
            # concrete class its docs tell users to instantiate
            ds = MetaDataset(HTTPDatasetSource(f"dvc://{e.path}"),  # type: ignore[abstract]
                             name=name, digest=e.hash[:8])
            mlflow.log_input(ds, context=context)
        mlflow.log_dict(model.to_json(), "model/weights.json")
        mlflow.log_text("flavors: {govctl_demo: {loader: govctl.demo.model}}\n",
                        "model/MLmodel")
    n.say(f"trained ({version_note}): accuracy {accuracy:.3f}, groundedness {grounded:.3f} "
          f"on the held-out eval set; run {run.info.run_id[:12]}")
    return run.info.run_id


def run(directory: Path, *, regression: str = "latency", quiet: bool = False) -> dict[str, Any]:
    from govctl import agreements, registry, release
    from govctl.adapters import dvcrepo, gitrepo
    from govctl.bootstrap import init
    from govctl.config import find_repo
    from govctl.data import datasets
    from govctl.demo import corpus
    from govctl.dossier.report import write_report
    from govctl.signing.keys import KeyStore

    if regression not in ("latency", "none"):
        raise InputError("regression must be 'latency' or 'none'", field="regression")
    directory = directory.expanduser().resolve()
    if directory.exists() and not directory.is_dir():
        raise InputError(f"{directory} is a file, not a directory; choose another directory")
    if directory.exists() and any(directory.iterdir()):
        raise InputError(f"{directory} exists and is not empty; choose another directory")
    n = Narrator(quiet=quiet)
    import logging

    logging.getLogger("mlflow").setLevel(logging.WARNING)  # the narration says what happens
    home = directory / ".keys"
    os.environ["GOVCTL_HOME"] = str(home)
    os.environ.pop("GOVCTL_KEY_PASSPHRASE", None)
    os.environ.pop("MLFLOW_TRACKING_URI", None)
    os.environ.pop("GOVCTL_LEDGER_URL", None)
    store = KeyStore(home / "keys")

    n.step("Keys and a governed repo")
    for name in SIGNERS:
        store.generate(name, passphrase_env=None)
    root = directory / "support-bot"
    root.mkdir(parents=True)
    # DVC keeps per-repo state in a machine-wide cache (/var/tmp/dvc) unless told otherwise
    os.environ["DVC_SITE_CACHE_DIR"] = str(directory / ".cache" / "dvc")
    # a git repository of its own, even when --dir is inside another work tree (this clone)
    gitrepo.init_repo(root, nested=True)
    dvcrepo.init_repo(root, site_cache_dir=directory / ".cache" / "dvc")
    init(root, "alex", keystore=store)
    # an enclosing repository ignores the whole demo (keys included)
    (directory / ".gitignore").write_text("# govctl demo: scratch, never part of an "
                                          "enclosing repository\n*\n")
    repo = find_repo(root)
    from govctl import trust

    keys = {name: store.load(name) for name in SIGNERS}
    policy_signers = [s.model_dump(exclude_none=True) for s in trust.read_current(repo).signers]
    for name, roles in SIGNERS.items():
        if name == "alex":
            policy_signers[0]["roles"] = roles
            continue
        k = keys[name]
        from govctl.signing.dsse import b64e

        policy_signers.append({"name": name, "key_id": k.key_id,
                               "public_key": b64e(k.public_raw), "roles": roles})
    trust.amend(repo, {"signers": policy_signers}, [keys["alex"]],
                note="demo signers: erin eng-lead, paul product-owner, cora compliance")
    _write_policy(root)
    n.say(f"repo {root} (git + DVC), keys in {home}, trust policy v2 with 4 signers")

    n.step("Data: inventory and a DVC pipeline")
    corpus.write_raw_questions(root / "data/raw/tickets.csv")
    corpus.write_corpus(root / "data/corpus/articles.jsonl")
    a = keys["alex"]
    datasets.add(repo, a, root / "data/raw/tickets.csv", name="raw-tickets", kind="raw",
                 sensitivity="confidential", pii="pseudonymized", owner="support-ops",
                 regulations=["GDPR"], retention_days=365, source="support ticket export")
    datasets.add(repo, a, root / "data/corpus/articles.jsonl", name="help-articles",
                 kind="retrieval", sensitivity="public", pii="none", owner="docs-team",
                 source="help centre")
    (root / "data/prepared").mkdir(parents=True, exist_ok=True)
    cmd = f'"{sys.executable}" -m govctl.demo.stages prepare data/raw/tickets.csv data/prepared'
    dvcrepo.add_stage(root, "prepare", cmd, ["data/raw/tickets.csv"],
                      ["data/prepared/train.csv", "data/prepared/eval.csv"])
    dvcrepo.reproduce(root)
    datasets.add(repo, a, root / "data/prepared/train.csv", name="support-train", kind="train",
                 sensitivity="confidential", pii="pseudonymized", owner="ml-team")
    datasets.add(repo, a, root / "data/prepared/eval.csv", name="support-eval", kind="eval",
                 sensitivity="confidential", pii="pseudonymized", owner="ml-team")
    n.say("raw tickets → prepare → train / held-out eval, plus the retrieval corpus; "
          "all four inventoried with their DVC hashes")

    n.step("Agreement: SLOs and budget, signed by three roles")
    _write_agreement(repo)
    for name in ("erin", "paul", "cora"):
        report, _ = agreements.sign(repo, SERVICE, keys[name])
    n.say(f"agreement v1 {report.state}: p95 ≤ 300 ms, error rate ≤ 2%, ≤ $0.002/request")

    n.step("Prompts registered and pinned")
    synced = registry.sync_prompts(repo, a)
    n.say(", ".join(f"{p.name} v{p.version} ({p.sha256[:12]})" for p in synced))
    gitrepo.commit_all(root, "governed support-bot: data, pipeline, agreement, prompts")

    min_samples = 30
    versions = {}
    n.step("Model v1: trained, registered, gated, canaried, stable")
    run1 = _train(repo, n, "v1 baseline")
    versions["v1"] = registry.register_model(repo, a, SERVICE, run1,
                                             dataset_names=["support-train", "support-eval",
                                                            "help-articles"])["version"]
    _release(repo, keys, n, versions["v1"], first=True)
    n.say(rollout(repo, a, n, versions["v1"], "traffic-v1", 1, min_samples))

    n.step("Model v2: an improvement, rolled out step by step")
    run2 = _train(repo, n, "v2 tuned")
    versions["v2"] = registry.register_model(repo, a, SERVICE, run2, dataset_names=[
        "support-train", "support-eval", "help-articles"])["version"]
    _release(repo, keys, n, versions["v2"])
    n.say(rollout(repo, a, n, versions["v2"], "traffic-v2", 100, min_samples))

    n.step(f"Model v3: a candidate with {'a latency' if regression == 'latency' else 'no'} "
           "regression")
    # a bigger context to prefill: +150 ms per request on the modelled endpoint, beyond both
    # the 20% p95 tolerance against v2 and the agreement's 300 ms p95
    run3 = _train(repo, n, "v3 bigger context",
                  extra_latency_ms=150.0 if regression == "latency" else 0.0)
    versions["v3"] = registry.register_model(repo, a, SERVICE, run3, dataset_names=[
        "support-train", "support-eval", "help-articles"])["version"]
    _release(repo, keys, n, versions["v3"])
    v3_outcome = rollout(repo, a, n, versions["v3"], "traffic-v3", 200, min_samples)
    n.say(f"v3: {v3_outcome}")

    n.step("Emergency rollback")
    out = release.rollback(repo, a, SERVICE, "incident drill: refund answers under review")
    for m in out.messages:
        n.say(m)

    n.step("Audit and the release dossier")
    from govctl.ledger.log import Ledger
    from govctl.trust.policy import trusted_keys

    check = Ledger.for_repo(repo).verify(trusted=trusted_keys(repo))
    n.say(f"audit verify: {'intact' if check.ok else 'BROKEN'} — {check.entries} entries, "
          f"{check.signatures_checked} signatures")
    reports = directory / "reports"
    files = []
    for label in ("v2", "v3"):
        for ext in ("html", "md"):
            path = reports / f"{SERVICE}-{label}.{ext}"
            write_report(repo, SERVICE, versions[label], path)
            files.append(str(path))
    gitrepo.commit_all(root, "release records")
    n.say("dossiers: " + ", ".join(files))
    final = release.state(repo, SERVICE)
    summary = {
        "directory": str(directory), "repo": str(root), "govctl_home": str(home),
        "versions": versions, "v3": v3_outcome, "stable": final.stable,
        "audit_ok": check.ok, "ledger_entries": check.entries, "reports": files,
        "mlflow": f"sqlite:///{root / '.govctl' / 'mlflow.db'}",
        "seconds": round(time.monotonic() - n.started, 1), "steps": n.steps,
    }
    if not quiet:
        n.console.rule("[bold green]done", align="left")
        n.console.print(f"governed repo: {root}\nMLflow store:  {summary['mlflow']}\n"
                        f"ledger:        {root / '.govctl' / 'ledger.db'}\n"
                        f"dossiers:      {reports}\n"
                        f"finished in {summary['seconds']} s. Act as the demo's signers with:\n")
        n.console.print(f"  export GOVCTL_HOME={home}\n  cd {root} && govctl status")
    return summary


def _release(repo: Any, keys: dict[str, Any], n: Narrator, version: str,
             first: bool = False) -> None:
    from govctl import release
    from govctl.release import checklists, gate

    checklists.new(repo, SERVICE, version, first_release=first)
    cl = checklists.load(repo, SERVICE, version)
    for item in cl.items:
        if item.kind == "signoff" and item.role:
            checklists.sign_off(repo, SERVICE, version, item.id,
                                keys[SIGNOFF_BY_ROLE[item.role]], note="demo review")
    report = gate.evaluate(repo, SERVICE, version)
    passed = sum(r.status == "pass" for r in report.results)
    n.say(f"checklist signed off; gate: {passed}/{len(report.results)} items pass")
    out = release.promote(repo, keys["alex"], SERVICE, version)
    for m in out.messages:
        n.say(m)
