"""Promote and rollback latency against an MLflow tracking server on PostgreSQL, as a ratio
to one bare MLflow client alias call (interpreter start + import mlflow + the call) in the
same run.

Run: GOVCTL_TEST_POSTGRES_URL=postgresql+psycopg://postgres@127.0.0.1:5432/postgres \\
     python bench/bench_team.py
"""

from __future__ import annotations

import contextlib
import io
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from pathlib import Path

from _common import ROOT, env, report, time_command

sys.path[:0] = [str(ROOT), str(ROOT / "tests")]


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
            code = exc.code or 0
    return Result(code, out.getvalue(), err.getvalue())


def time_sequence(argvs: list[list[str]], *, cwd: Path, environ: dict[str, str]) -> float:
    """Median wall time over a sequence of different commands (the first is a warm-up)."""
    samples = []
    for i, argv in enumerate(argvs):
        start = time.perf_counter()
        proc = subprocess.run(argv, cwd=cwd, env=environ, capture_output=True)
        elapsed = time.perf_counter() - start
        if proc.returncode != 0:
            sys.exit(f"{' '.join(argv)} failed ({proc.returncode}):\n{proc.stderr.decode()}")
        if i:
            samples.append(elapsed)
    return statistics.median(samples)


def main() -> int:
    import sqlalchemy as sa

    base = os.environ.get("GOVCTL_TEST_POSTGRES_URL")
    if not base:
        sys.exit("set GOVCTL_TEST_POSTGRES_URL to a PostgreSQL server")
    admin = sa.create_engine(base, isolation_level="AUTOCOMMIT")
    names = [f"govctl_bench_{uuid.uuid4().hex[:8]}" for _ in range(2)]
    with admin.connect() as conn:
        for n in names:
            conn.execute(sa.text(f'CREATE DATABASE "{n}"'))
    urls = [base.rsplit("/", 1)[0] + "/" + n for n in names]
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    tmp = Path(tempfile.mkdtemp())
    server = subprocess.Popen(
        [sys.executable, "-m", "mlflow", "server", "--host", "127.0.0.1", "--port", str(port),
         "--backend-store-uri", urls[0], "--artifacts-destination", str(tmp / "art"),
         "--workers", "2"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        env={**os.environ, "MLFLOW_DISABLE_TELEMETRY": "true"})
    uri = f"http://127.0.0.1:{port}"
    try:
        for _ in range(240):
            try:
                urllib.request.urlopen(f"{uri}/health", timeout=1)
                break
            except OSError:
                time.sleep(0.5)
        os.environ.update({"MLFLOW_TRACKING_URI": uri, "GOVCTL_LEDGER_URL": urls[1],
                           "GOVCTL_HOME": str(tmp / "home"), "NO_COLOR": "1"})
        from lifecycle import prepare, register, sign_all

        repo = tmp / "svc"
        cli("init", repo, "--admin", "alice")
        os.chdir(repo)
        for name, role in (("erin", "eng-lead"), ("paul", "product-owner"),
                           ("cora", "compliance"), ("mel", "ml-engineer"),
                           ("rita", "releaser"), ("otto", "oncall")):
            cli("keys", "generate", name)
            cli("trust", "add", name, "--role", role, "--key", "alice")
        prepare(cli, repo)
        v1, v2 = register(cli), register(cli)
        for v in (v1, v2):
            sign_all(cli, v, first_release=True)
        e = env(**{k: os.environ[k] for k in ("MLFLOW_TRACKING_URI", "GOVCTL_LEDGER_URL",
                                              "GOVCTL_HOME")})
        floor = time_command([sys.executable, "-c",
                              "import sys; from mlflow import MlflowClient; "
                              "MlflowClient(sys.argv[1]).set_registered_model_alias("
                              "'support-bot', 'bench', '1')", uri], runs=5, environ=e)
        gov = [sys.executable, "-m", "govctl"]
        # Each promote must change state, so alternate the two versions (v1 is the first
        # target: no version is stable in staging yet).
        promote = time_sequence([[*gov, "promote", "support-bot", "--version", v, "--env",
                                  "staging", "--no-canary", "--key", "rita"]
                                 for v in (v1, v2) * 3], cwd=repo, environ=e)
        rollback = time_command([*gov, "rollback", "support-bot", "--env", "staging",
                                 "--to-version", v1, "--reason", "bench", "--key", "otto"],
                                runs=5, cwd=repo, environ=e)
    finally:
        server.terminate()
        server.wait(timeout=30)
        sa.create_engine(urls[1]).dispose()
        with admin.connect() as conn:
            for n in names:
                conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{n}" WITH (FORCE)'))
    print(f"floor: bare MLflow alias call {floor:.3f}s (start + import mlflow + one call)")
    report("govctl promote --no-canary (gate included)", promote, floor, 10.0)
    report("govctl rollback", rollback, floor, 3.0)
    return 0


if __name__ == "__main__":
    sys.exit(main())
