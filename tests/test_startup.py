"""Start-up promises: --help and read-only commands never load heavy libraries."""

from __future__ import annotations

import json
import subprocess
import sys

from conftest import ROOT

HEAVY = ("mlflow", "dvc", "git", "sqlalchemy", "pandas", "numpy", "scipy")

PROBE = """
import json, sys
from govctl.cli import main
try:
    main(sys.argv[1:])
except SystemExit:
    pass
mods = sorted(sys.modules)
sys.stderr.write('\\nMODULES=' + json.dumps(mods) + '\\n')
"""


def loaded_modules(*args: str, cwd=None, env=None, full: bool = False) -> set[str]:
    """The top-level packages a command line loaded (``full``: every module's name)."""
    import os

    proc = subprocess.run(
        [sys.executable, "-c", PROBE, *args], cwd=cwd or ROOT, capture_output=True, text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT), **(env or {})}, timeout=120,
    )
    line = [x for x in proc.stderr.splitlines() if x.startswith("MODULES=")][-1]
    names = set(json.loads(line[len("MODULES="):]))
    return names if full else {m.split(".")[0] for m in names}


def test_help_imports_nothing_heavy():
    mods = loaded_modules("--help")
    assert "typer" in mods
    assert not mods & set(HEAVY), mods & set(HEAVY)
    assert "pydantic" not in mods  # command modules import their domain lazily
    # typer's help module gets stand-ins for rich's Markdown and Traceback (never drawn)
    assert not mods & {"markdown_it", "pygments"}, mods & {"markdown_it", "pygments"}
    assert "govctl.cli.data" not in loaded_modules("--help", full=True)  # groups built when used


def test_deferred_rich_classes_are_the_real_ones():
    import subprocess

    code = ("import govctl.cli, typer.rich_utils as r, rich.markdown as m; "
            "x = r.Markdown('# hi'); assert isinstance(x, m.Markdown), type(x); "
            "assert isinstance(x, r.Markdown); print(r.Traceback.from_exception.__name__)")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env={**__import__("os").environ, "PYTHONPATH": str(ROOT)},
                          timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "from_exception"


def test_group_help_imports_nothing_heavy():
    assert not loaded_modules("trust", "--help") & set(HEAVY)


def test_keys_list_and_trust_verify_stay_light(repo, govctl_home):
    env = {"GOVCTL_HOME": str(govctl_home)}
    mods = loaded_modules("keys", "list", cwd=repo, env=env)
    assert not mods & set(HEAVY) and "cryptography" not in mods  # public-key JSON only
    # trust verify reads the ledger (rollback protection), through sqlite3 on a SQLite one
    mods = loaded_modules("trust", "verify", cwd=repo, env=env)
    assert "sqlite3" in mods and not mods & set(HEAVY), mods & set(HEAVY)


def test_read_commands_read_a_sqlite_ledger_without_sqlalchemy(signers, repo, govctl_home,
                                                             clone_template):
    """A registered model's repo (MLflow's embedded store read directly, too): status reads
    the derived state, leases and registrations through sqlite3 alone."""
    clone_template("registered")
    env = {"GOVCTL_HOME": str(govctl_home)}
    for args in (["status"], ["canary", "status", "support-bot"], ["lock", "status"]):
        mods = loaded_modules(*args, cwd=repo, env=env)
        assert "sqlite3" in mods and "sqlalchemy" not in mods, args


def test_state_reads_build_no_document_models(signers, repo, govctl_home, clone_template):
    """Where a release stands, its drift and a model's record are read without the policy,
    trust or prompt-file models (pydantic's model machinery: ~0.1 s of every command that
    builds them), so these reads stay near the cost of starting Python."""
    clone_template("registered")
    env = {"GOVCTL_HOME": str(govctl_home)}
    for args in (["status"], ["canary", "status", "support-bot"], ["model", "verify"],
                 ["model", "show", "support-bot"], ["model", "list"]):
        mods = loaded_modules(*args, cwd=repo, env=env, full=True)
        built = mods & {"pydantic.main", "govctl.policy", "govctl.trust.schema",
                        "govctl.registry.prompt_specs"}
        assert "govctl.adapters.mlflowdb" in mods and not built, (args, built)


def test_audit_log_reads_the_sqlite_ledger_without_sqlalchemy(repo, govctl_home, cli):
    env = {"GOVCTL_HOME": str(govctl_home)}
    assert cli("audit", "log", "-n", "3").code == 0
    mods = loaded_modules("audit", "log", "-n", "10", cwd=repo, env=env)
    assert "sqlite3" in mods and not mods & set(HEAVY), mods & set(HEAVY)
    mods = loaded_modules("audit", "log", "-n", "5", "--subject", "service:", cwd=repo, env=env)
    assert not mods & set(HEAVY), mods & set(HEAVY)


def test_audit_verify_of_a_sqlite_ledger_imports_no_sqlalchemy(repo, govctl_home):
    """The verifier reads a SQLite ledger with the standard library
    (``sqlite_ledger.Reader``), in full and ``--fast`` alike."""
    for args in (["audit", "verify"], ["audit", "verify", "--fast"]):
        mods = loaded_modules(*args, cwd=repo, env={"GOVCTL_HOME": str(govctl_home)})
        assert "sqlite3" in mods and not mods & set(HEAVY), (args, mods & set(HEAVY))


def test_piped_output_is_not_squeezed_to_80_columns(monkeypatch):
    import io

    from govctl.cli._common import _width

    monkeypatch.delenv("COLUMNS", raising=False)
    assert _width(io.StringIO()) == 160  # a pipe or a file
    monkeypatch.setenv("COLUMNS", "72")
    assert _width(io.StringIO()) is None  # COLUMNS wins (rich reads it)
