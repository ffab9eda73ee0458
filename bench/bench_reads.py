"""State reads without the MLflow floor; state changes against one bare MLflow alias call.

Targets (issue 22), ratios measured interleaved in one run on one store (the release
template's: v1 stable, v2 a 5% canary, the embedded SQLite MLflow store):

- each read command (``status``, ``canary status``, ``checklist status``, ``model verify``,
  ``model list``, ``model show``) <= 2x the no-MLflow floor: ``python -c "import typer,
  pydantic, yaml, sqlite3"`` plus one query of the store;
- ``promote`` and ``rollback`` (staging, no canary) <= 1.15x one bare MLflow alias call on
  the same store: a fresh interpreter, ``import mlflow``, ``MlflowClient(uri)`` and one
  ``set_registered_model_alias``.

Info lines (no target): the old floor (``import mlflow`` + one ``search_registered_models``)
and the reads through the MLflow client (``GOVCTL_MLFLOW_READS=client``); without --quick
also the reads over HTTP from a real ``mlflow server`` on the same store (REST reader),
against the same floor.

Run: python bench/bench_reads.py [--quick]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from _common import ROOT, env, report, time_interleaved

sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

READS = {
    "status": ["status"],
    "canary status": ["canary", "status", "support-bot"],
    "checklist status": ["checklist", "status", "support-bot", "--version", "2"],
    "model verify": ["model", "verify"],
    "model list": ["model", "list"],
    "model show": ["model", "show", "support-bot"],
}


class Result:
    def __init__(self, code: int, out: str, err: str) -> None:
        self.code, self.out, self.err = code, out, err

    @property
    def json(self):  # noqa: ANN201
        import json

        return json.loads(self.out)


def cli(*args: object) -> Result:
    from govctl.cli import main

    out, err = io.StringIO(), io.StringIO()
    code = 0
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            main([str(a) for a in args])
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 0
    if code:
        sys.exit(f"govctl {' '.join(map(str, args))} failed ({code}):\n{err.getvalue()}")
    return Result(code, out.getvalue(), err.getvalue())


def build(tmp: Path) -> Path:
    """The release template's state, through the CLI: signers, data, agreement, prompt,
    v1 through its canary to stable, v2 a 5% canary."""
    import conftest
    import lifecycle

    os.environ.update({"GOVCTL_HOME": str(tmp / "home"), "NO_COLOR": "1",
                       "GOVCTL_NOW": "2026-11-22T12:00:00Z"})
    os.environ.pop("MLFLOW_TRACKING_URI", None)
    repo = tmp / "svc"
    cli("init", repo, "--admin", "alice")
    os.chdir(repo)
    conftest._add_signers(cli, repo)
    lifecycle.prepare(cli, repo)
    lifecycle._check_version(lifecycle.register(cli), "1")
    lifecycle._first(cli, repo)
    lifecycle._second(cli, repo)
    return repo


def _serve(db: Path, tmp: Path) -> tuple[subprocess.Popen, str]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen(
        [sys.executable, "-m", "mlflow", "server", "--host", "127.0.0.1", "--port", str(port),
         "--backend-store-uri", f"sqlite:///{db}", "--artifacts-destination",
         str(tmp / "served"), "--workers", "1"], stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL, env={**os.environ, "MLFLOW_DISABLE_TELEMETRY": "true"})
    uri = f"http://127.0.0.1:{port}"
    for _ in range(360):
        try:
            urllib.request.urlopen(f"{uri}/health", timeout=1)
            return proc, uri
        except OSError:
            time.sleep(0.5)
    proc.terminate()
    sys.exit("mlflow server did not start")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="3 rounds, no HTTP server, no info")
    args = ap.parse_args()
    runs = 3 if args.quick else 9
    py, gov = sys.executable, [sys.executable, "-m", "govctl"]
    tmp = Path(tempfile.mkdtemp(prefix="bench-reads-"))
    repo = build(tmp)
    db = repo / ".govctl" / "mlflow.db"
    e = env(GOVCTL_HOME=str(tmp / "home"))
    e.pop("MLFLOW_TRACKING_URI", None)
    floor_read = [py, "-c", "import sys, typer, pydantic, yaml, sqlite3; sqlite3.connect("
                  "f'file:{sys.argv[1]}?mode=ro', uri=True).execute('SELECT name FROM "
                  "registered_models').fetchall()", str(db)]
    commands = {"floor": floor_read, **{k: [*gov, *v] for k, v in READS.items()}}
    if not args.quick:
        commands["mlflow floor"] = [py, "-c", "import sys; from mlflow import MlflowClient; "
                                    "MlflowClient(sys.argv[1]).search_registered_models("
                                    "max_results=1)", f"sqlite:///{db}"]
        commands.update({f"{k} (client)": ["env", "GOVCTL_MLFLOW_READS=client", *gov, *v]
                         for k, v in READS.items() if k in ("status", "model show")})
    t = time_interleaved(commands, runs=runs, cwd=repo, environ=e)
    ok = True
    for name in READS:
        ok &= report(f"govctl {name} (embedded store)", t[name], t["floor"], 2.0)
    for name in ("mlflow floor", "status (client)", "model show (client)"):
        if name in t:
            print(f"info  {name}: {t[name]:.3f}s = {t[name] / t['floor']:.2f}x the floor")

    # state changes: promote v2 / roll back to v1 in staging, each round from the same state
    cli("promote", "support-bot", "--version", "1", "--env", "staging", "--no-canary",
        "--key", "rita")
    alias = [py, "-c", "import sys; from mlflow import MlflowClient; MlflowClient(sys.argv[1])"
             ".set_registered_model_alias('support-bot', 'bench', '1')", f"sqlite:///{db}"]
    t = time_interleaved({
        "alias": alias,
        "promote": [*gov, "promote", "support-bot", "--version", "2", "--env", "staging",
                    "--no-canary", "--key", "rita"],
        "alias again": alias,
        "rollback": [*gov, "rollback", "support-bot", "--env", "staging", "--to-version", "1",
                     "--reason", "bench", "--key", "otto"],
    }, runs=runs, cwd=repo, environ=e)
    floor = (t["alias"] + t["alias again"]) / 2
    done = [x for x in cli("audit", "log", "-n", "0", "--json").json
            if x["action"] in ("release.promote", "release.rollback") and x.get("phase")
            in ("complete", "done") and (x.get("evidence") or {}).get("env") == "staging"]
    if len(done) != 1 + 2 * (runs + 1):  # a refused promote (exit 1) must not be timed
        sys.exit(f"expected {1 + 2 * (runs + 1)} staging releases, the ledger has {len(done)}")
    ok &= report("govctl promote --no-canary (gate included)", t["promote"], floor, 1.15)
    ok &= report("govctl rollback", t["rollback"], floor, 1.15)

    # the floor's own alias is a move behind govctl's back (drift: status exits 4): undo it
    subprocess.run([py, "-c", "import sys; from mlflow import MlflowClient; MlflowClient("
                    "sys.argv[1]).delete_registered_model_alias('support-bot', 'bench')",
                    f"sqlite:///{db}"], check=True, env=e, capture_output=True)
    if not args.quick:
        proc, uri = _serve(db, tmp)
        try:
            he = {**e, "MLFLOW_TRACKING_URI": uri}
            t = time_interleaved({"floor": floor_read,
                                  "status": [*gov, "status"],
                                  "model list": [*gov, "model", "list"]},
                                 runs=runs, cwd=repo, environ=he)
        finally:
            proc.terminate()
            proc.wait(timeout=60)
        for name in ("status", "model list"):
            ok &= report(f"govctl {name} (mlflow server over HTTP)", t[name], t["floor"], 2.0)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
