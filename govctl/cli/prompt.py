"""govctl prompt: prompt templates as code, registered in MLflow and pinned by hash."""

from __future__ import annotations

from pathlib import Path

import typer

from govctl.cli._common import (
    JSON_OPT,
    console,
    emit_json,
    fail,
    key_option,
    ok,
    repo,
    report_findings,
    styled,
    table,
)

app = typer.Typer(help="Prompts declared in registry/prompts/, registered in MLflow, pinned "
                  "by SHA-256.", no_args_is_help=True)

PROMPT_HELP = "Prompt name (the name in its registry/prompts/ file), e.g. support-answer."


@app.command("lint")
def lint(files: list[Path] = typer.Argument(..., metavar="FILE...", help="Prompt YAML files."),
         as_json: bool = JSON_OPT) -> None:
    """Variables used vs declared, unbalanced braces, length budget, secrets, PII.

    Needs no MLflow. Exit 1 on findings.

    Example:
    govctl prompt lint registry/prompts/*.yaml
    """
    from govctl.errors import EXIT_CHECK_FAILED
    from govctl.registry.promptlint import lint_files

    problems = lint_files(files)
    if as_json:
        emit_json([{"path": p.path, "line": p.line, "field": p.field, "message": p.message}
                   for p in problems])
    else:
        for p in problems:
            fail(str(p))
        if not problems:
            ok(f"{len(files)} prompt file(s) clean")
    if problems:
        raise typer.Exit(EXIT_CHECK_FAILED)


@app.command("register")
def register(file: Path = typer.Argument(..., metavar="FILE", help="The prompt file, registry/prompts/NAME.yaml."),
             key: str = key_option(), as_json: bool = JSON_OPT) -> None:
    """Register the file as a new MLflow prompt version, pinned by its template's SHA-256.

    Example:
    govctl prompt register \\
      registry/prompts/support-answer.yaml --key mel
    """
    from govctl import registry
    from govctl.cli._common import load_key

    r = repo()
    result = registry.register_prompt(r, load_key(key), file.resolve())
    if as_json:
        emit_json(result)
        return
    ok(f"registered prompt {result.name} version {result.version} "
       f"(sha256 {result.sha256[:12]}...)")


@app.command("sync")
def sync(key: str = key_option(), as_json: bool = JSON_OPT) -> None:
    """Register every prompt file whose template changed since its last pinned version.

    Example:
    govctl prompt sync --key mel
    """
    from govctl import registry
    from govctl.cli._common import load_key

    done = registry.sync_prompts(repo(), load_key(key))
    if as_json:
        emit_json(done)
        return
    for d in done:
        ok(f"registered {d.name} version {d.version}")
    if not done:
        ok("every prompt file is registered")


@app.command("list")
def list_(as_json: bool = JSON_OPT) -> None:
    """Prompt files, their latest pinned version and whether they changed since.

    Example:
    govctl prompt list
    """
    from govctl import registry

    rows = registry.prompt_status(repo())
    if as_json:
        emit_json(rows)
        return
    table("prompts", ["name", "file", "latest version", "sha256", "changed"],
          [[x.name, x.file, x.latest_version or "-", x.sha256[:12],
            "yes" if x.changed else ""] for x in rows])


@app.command("show")
def show(name: str = typer.Argument(..., metavar="NAME", help=PROMPT_HELP),
         version: str = typer.Option(None, "--version", show_default=False,
                                     help="Prompt version. Omit for every version."),
         as_json: bool = JSON_OPT) -> None:
    """A registered prompt's versions with their pinned and actual hashes.

    Example:
    govctl prompt show support-answer --version 2
    """
    from govctl import registry

    versions = registry.prompt_versions(repo(), name)
    if version:
        versions = [v for v in versions if v.version == version]
    if as_json:
        emit_json({"name": name, "versions": versions})
        return
    for v in versions:
        state = "pinned" if v.sha256 == v.pinned_sha256 else "DRIFTED"
        console().print(styled((f"{name} v{v.version}", "bold"),
                               f" ({state}, {v.pinned_sha256[:12]})"))
        console().print(v.template or "(missing from MLflow)")


@app.command("diff")
def diff(name: str = typer.Argument(..., metavar="NAME", help=PROMPT_HELP),
         v1: str = typer.Argument(..., metavar="V1", help="The older prompt version."),
         v2: str = typer.Argument(..., metavar="V2", help="The newer prompt version."),
         as_json: bool = JSON_OPT) -> None:
    """Unified diff of two registered versions' templates.

    Example:
    govctl prompt diff support-answer 1 2
    """
    import difflib

    from govctl import registry
    from govctl.errors import NotFound

    versions = {v.version: v for v in registry.prompt_versions(repo(), name)}
    for v in (v1, v2):
        if v not in versions or versions[v].template is None:
            raise NotFound(f"prompt {name} has no version {v}")
    lines = difflib.unified_diff(
        str(versions[v1].template).splitlines(keepends=True),
        str(versions[v2].template).splitlines(keepends=True),
        fromfile=f"{name} v{v1}", tofile=f"{name} v{v2}",
    )
    text = "".join(lines)
    if as_json:
        emit_json({"name": name, "from": v1, "to": v2, "identical": not text, "diff": text})
        return
    typer.echo(text or "(identical)")


@app.command("verify")
def verify(name: str = typer.Argument(None, metavar="NAME", help=PROMPT_HELP + " Omit for every prompt.",
                                      show_default=False),
           as_json: bool = JSON_OPT) -> None:
    """Templates in MLflow still match their pinned hashes. Exit 4 naming each drift.

    Examples:
    govctl prompt verify
    govctl prompt verify support-answer --json
    """
    from govctl import registry
    from govctl.errors import EXIT_INTEGRITY

    drifts = registry.verify_prompts(repo(), name)
    report_findings(drifts, as_json=as_json, key="drift", exit_code=EXIT_INTEGRITY,
                    clean="every registered prompt matches its pinned hash")
