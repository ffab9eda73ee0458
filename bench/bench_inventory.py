"""The dataset inventory at scale: 10, 100 and 1,000 datasets (issue 25).

For each size a governed service is built (signers, a signed agreement, a prompt, model
version 1 registered in MLflow with two datasets, its checklist signed off), then datasets
are added through the library (``govctl.data.datasets.add_many``) until the inventory
holds that many: 80% single files, 15% directories of three files, 5% outputs of a DVC
pipeline stage (``dvc stage add`` + ``dvc repro``). ``data list``, ``data verify``,
``gate`` and ``checklist status`` are timed at every size, and ``dvc status`` (the floor
of ``data verify``: DVC's own check of the same repo), in rounds that go through every size
and command in turn, so a change of machine load hits them all alike.

Targets: ``data verify`` at the largest size <= 1.3x ``dvc status`` alone;
``gate`` and ``checklist status`` at the largest size <= 1.2x their time at 10.

Run: python bench/bench_inventory.py [--quick] [--rounds N] [--sizes 10,100,1000]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import ROOT, env, report

SIGNERS = (("erin", "eng-lead"), ("paul", "product-owner"), ("cora", "compliance"),
           ("mel", "ml-engineer"), ("rita", "releaser"), ("otto", "oncall"))
SIGNOFFS = {"use-case": "paul", "red-team": "erin", "retrieval-access": "erin",
            "prompt-injection": "erin", "pii-retention": "cora", "tracing": "otto",
            "cost-alerts": "otto", "fallback-modes": "paul", "rollback-plan": "otto",
            "incident-playbook": "cora"}
CLASSIFY = ["--sensitivity", "internal", "--pii", "none", "--owner", "ml-team"]
GEN = """import pathlib, sys
out = pathlib.Path(sys.argv[1]); out.mkdir(parents=True, exist_ok=True)
for i in range(int(sys.argv[2])):
    (out / f"part{i:04d}.csv").write_text(f"id,value\\n{i},{i * 7}\\n")
"""


def _govctl(*args: str) -> None:
    """Run a govctl command in this process (the build), failing loudly."""
    from govctl.cli import main

    try:
        main([str(a) for a in args])
    except SystemExit as exc:
        if exc.code not in (0, None):
            sys.exit(f"govctl {' '.join(map(str, args))} exited {exc.code}")


def build(repo: Path, size: int) -> None:
    """A released-ready service with ``size`` datasets in its inventory (run in a child
    process: ``--build REPO SIZE``, with GOVCTL_HOME set)."""
    sys.path.insert(0, str(ROOT))
    _govctl("init", repo, "--admin", "alice")
    os.chdir(repo)
    for name, role in SIGNERS:
        _govctl("keys", "generate", name)
        _govctl("trust", "add", name, "--role", role, "--key", "alice")
    (repo / "data").mkdir(exist_ok=True)
    (repo / "data" / "train.csv").write_text("q,a\nhello,world\n")
    (repo / "data" / "eval.csv").write_text("q,a\nbye,moon\n")
    _govctl("data", "add", "data/train.csv", "--name", "support-train", "--kind", "train",
            *CLASSIFY, "--key", "mel")
    _govctl("data", "add", "data/eval.csv", "--name", "support-bot-eval", "--kind", "eval",
            *CLASSIFY, "--key", "mel")
    _govctl("agreement", "new", "support-bot")
    for k in ("erin", "paul", "cora"):
        _govctl("agreement", "sign", "support-bot", "--key", k)
    _govctl("prompt", "register", repo / "registry/prompts/support-answer.yaml",
            "--key", "mel")
    _register(repo)
    _govctl("checklist", "new", "support-bot", "--version", "1", "--first-release")
    for item, who in SIGNOFFS.items():
        _govctl("checklist", "sign-off", "support-bot", "--version", "1", "--item", item,
                "--key", who)
    _grow(repo, size - 2)
    subprocess.run(["git", "add", "-A"], cwd=repo, check=True, capture_output=True)
    subprocess.run(["git", "-c", "user.name=bench", "-c", "user.email=bench@example.invalid",
                    "commit", "-qm", f"{size} datasets"], cwd=repo, check=True)


def _register(repo: Path) -> None:
    import mlflow

    from govctl.adapters import mlflowstore
    from govctl.config import find_repo

    exp = mlflowstore.configure(find_repo(repo))
    with mlflow.start_run(experiment_id=exp) as run:
        mlflow.log_metric("accuracy", 0.91)
        mlflow.log_metric("groundedness", 0.95)
        mlflow.log_text("flavors: {}\n", "model/MLmodel")
    for var in ("MLFLOW_EXPERIMENT_ID", "MLFLOW_EXPERIMENT_NAME"):
        os.environ.pop(var, None)
    _govctl("model", "register", "support-bot", "--run", run.info.run_id,
            "--dataset", "support-train", "--dataset", "support-bot-eval", "--key", "mel")


def _grow(repo: Path, n: int) -> None:
    """Add ``n`` datasets through the library: files, directories, pipeline outputs."""
    from govctl.adapters import dvcrepo
    from govctl.config import find_repo
    from govctl.data import datasets
    from govctl.signing.keys import KeyStore

    if n <= 0:
        return
    r, key = find_repo(repo), KeyStore().load("mel")
    n_pipe = max(1, n // 20)
    n_dirs = max(1, n * 15 // 100)
    n_files = n - n_pipe - n_dirs
    items = []
    bulk = repo / "data" / "bulk"
    bulk.mkdir(parents=True, exist_ok=True)
    for i in range(n_files):
        path = bulk / f"f{i:04d}.csv"
        path.write_text("id,text\n" + "".join(f"{j},row {i}-{j}\n" for j in range(20)))
        items.append(datasets.NewDataset(path, f"file-{i:04d}", "raw", "internal", "none",
                                         "ml-team"))
    for i in range(n_dirs):
        d = repo / "data" / "dirs" / f"d{i:03d}"
        d.mkdir(parents=True, exist_ok=True)
        for j in range(3):
            (d / f"part{j}.csv").write_text(f"id,value\n{i},{j}\n")
        items.append(datasets.NewDataset(d, f"dir-{i:03d}", "retrieval", "internal", "none",
                                         "ml-team"))
    (repo / "src").mkdir(exist_ok=True)
    (repo / "src" / "gen.py").write_text(GEN)
    outs = [f"data/gen/part{i:04d}.csv" for i in range(n_pipe)]
    (repo / "data" / "gen").mkdir(parents=True, exist_ok=True)
    dvcrepo.add_stage(r.root, "generate", f'"{sys.executable}" src/gen.py data/gen {n_pipe}',
                      ["src/gen.py"], outs)
    dvcrepo.reproduce(r.root)
    for i, out in enumerate(outs):
        items.append(datasets.NewDataset(repo / out, f"gen-{i:04d}", "train", "internal",
                                         "none", "ml-team"))
    datasets.add_many(r, key, items)


def _time(argv: list[str], cwd: Path, environ: dict[str, str]) -> float:
    start = time.perf_counter()
    proc = subprocess.run(argv, cwd=cwd, env=environ, capture_output=True)
    elapsed = time.perf_counter() - start
    if proc.returncode not in (0, 1):  # 1: the gate says no
        sys.exit(f"{' '.join(argv)} failed ({proc.returncode}):\n{proc.stderr.decode()}")
    return elapsed


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="sizes 10 and 50, 1 round")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--sizes", default="10,100,1000")
    ap.add_argument("--build", nargs=2, metavar=("REPO", "SIZE"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.build:
        build(Path(args.build[0]), int(args.build[1]))
        return 0
    sizes = [10, 50] if args.quick else [int(x) for x in args.sizes.split(",")]
    rounds = 1 if args.quick else args.rounds
    py = sys.executable
    tmp = Path(tempfile.mkdtemp(prefix="govctl-bench-inventory-"))
    try:
        repos, envs = {}, {}
        for size in sizes:  # each its own service and key store
            repos[size] = tmp / f"svc{size}"
            envs[size] = env(GOVCTL_HOME=str(tmp / f"home{size}"))
            start = time.perf_counter()
            subprocess.run([py, __file__, "--build", str(repos[size]), str(size)],
                           env=envs[size], check=True, stdout=subprocess.DEVNULL)
            print(f"built {size} datasets in {time.perf_counter() - start:.0f} s", flush=True)
        commands = {
            "dvc status": [py, "-m", "dvc", "status", "-q"],
            "data list": [py, "-m", "govctl", "data", "list"],
            "data verify": [py, "-m", "govctl", "data", "verify"],
            "gate": [py, "-m", "govctl", "gate", "support-bot", "--version", "1", "--key",
                     "rita"],
            "checklist status": [py, "-m", "govctl", "checklist", "status", "support-bot",
                                 "--version", "1"],
        }
        samples: dict[tuple[int, str], list[float]] = {}
        for i in range(rounds + 1):
            for size in sizes:
                for name, argv in commands.items():
                    t = _time(argv, repos[size], envs[size])
                    if i:  # round 0 warms caches (DVC's state, the page cache)
                        samples.setdefault((size, name), []).append(t)
        med = {k: statistics.median(v) for k, v in samples.items()}
        print(f"{'datasets':>9}" + "".join(f"{n:>18}" for n in commands))
        for size in sizes:
            print(f"{size:>9}" + "".join(f"{med[(size, n)]:>17.2f}s" for n in commands))
        big, small = sizes[-1], sizes[0]
        ok = report(f"data verify at {big} datasets vs dvc status", med[(big, "data verify")],
                    med[(big, "dvc status")], 1.3)
        for name in ("gate", "checklist status"):
            ok &= report(f"{name} at {big} datasets vs at {small}", med[(big, name)],
                         med[(small, name)], 1.2)
        return 0 if ok else 1
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
