"""govctl checklist and govctl gate."""

from __future__ import annotations

import typer

from govctl.cli._common import (
    JSON_OPT,
    GateFormat,
    console,
    emit_json,
    key_option,
    ok,
    repo,
    service_arg,
    styled,
    table,
    version_option,
    warn,
)

app = typer.Typer(help="Release checklists: evidence, role sign-offs and expiring waivers.",
                  no_args_is_help=True)

STATUS_STYLE = {"pass": "green", "fail": "red", "pending": "yellow", "waived": "cyan",
                "n/a": "dim"}


def _render(report) -> None:
    from govctl.release.gate import OK_STATUSES

    table(
        f"{report.service} v{report.version} → {report.env}",
        ["item", "kind", "severity", "status", "why"],
        [[r.id, r.kind, r.severity, styled((r.status, STATUS_STYLE.get(r.status, ""))),
          r.reason] for r in report.results],
    )
    for r in report.results:
        for dead in (r.evidence or {}).get("dead_signatures", []):
            warn(dead)
    blocked = [r.id for r in report.results if r.status not in OK_STATUSES]
    if blocked:
        console().print(styled(("blocked", "red"),
                               f" by {len(blocked)} item(s): {', '.join(blocked)}"))
    else:
        na = sum(r.status == "n/a" for r in report.results)
        console().print(styled(("all items pass", "green"),
                               f" ({na} not applicable here)" if na else ""))


@app.command("new")
def new(
    service: str = service_arg(),
    version: str = version_option(),
    template: str = typer.Option("prelaunch", "--template",
                                 help="Checklist template: checklists/TEMPLATE.yaml."),
    first_release: bool = typer.Option(False, "--first-release",
                                       help="Declare there is no earlier version to roll back to."),
    as_json: bool = JSON_OPT,
) -> None:
    """Freeze a checklist template for one release: checklists/releases/SERVICE/V.yaml.

    V must be a version of SERVICE in MLflow (register it first). Commit the file; its
    items are then signed off, waived or checked by the gate.

    Example:
    govctl checklist new support-bot --version 3
    """
    from govctl.release import checklists

    r = repo()
    path = r.rel(checklists.new(r, service, version, template=template,
                                first_release=first_release))
    if as_json:
        emit_json({"service": service, "version": version, "template": template,
                   "first_release": first_release, "path": path})
        return
    ok(f"wrote {path}; commit it")


@app.command("status")
def status(service: str = service_arg(),
           version: str = version_option(),
           env: str = typer.Option("production", "--env", help="Target environment."),
           as_json: bool = JSON_OPT) -> None:
    """Every item with pass / fail / pending / waived / n/a (does not apply here) and the
    reason. Records nothing.

    Example:
    govctl checklist status support-bot --version 3
    """
    from govctl.release import gate

    report = gate.evaluate(repo(), service, version, env)
    if as_json:
        emit_json(report)
    else:
        _render(report)


@app.command("sign-off")
def sign_off(service: str = service_arg(),
             version: str = version_option(),
             item: str = typer.Option(..., "--item", help="Checklist item id."),
             key: str = key_option(),
             note: str = typer.Option(None, "--note", help="What you checked."),
             as_json: bool = JSON_OPT) -> None:
    """Sign off one item with a key holding the item's role (a DSSE signature, recorded).

    Example:
    govctl checklist sign-off support-bot --version 3 \\
      --item pii-retention --key cora
    """
    from govctl.cli._common import load_key
    from govctl.release import checklists

    result = checklists.sign_off(repo(), service, version, item, load_key(key), note=note)
    if as_json:
        emit_json(result)
        return
    ok(f"{result['signer']} signed off {item} ({result['role']})")


@app.command("waive")
def waive(service: str = service_arg(),
          version: str = version_option(),
          item: str = typer.Option(..., "--item", help="Checklist item id."),
          justification: str = typer.Option(..., "--justification", help="Why, for the record."),
          expires: str = typer.Option(..., "--expires", help="ISO date; capped by policy."),
          key: str = key_option(),
          as_json: bool = JSON_OPT) -> None:
    """Waive one item until a date, with a justification, signed by an allowed role.

    The policy caps how far ahead a waiver may expire; an expired or malformed waiver
    fails closed.

    Example:
    govctl checklist waive support-bot --version 3 \\
      --item red-team --expires 2026-12-15 \\
      --justification "red team booked for week 50" \\
      --key erin
    """
    from govctl.cli._common import load_key
    from govctl.release import checklists

    result = checklists.waive(repo(), service, version, item, load_key(key),
                              justification=justification, expires=expires)
    if as_json:
        emit_json(result)
        return
    ok(f"{item} waived by {result['granted_by']} until {result['expires']}")


def gate_command(
    service: str = service_arg(),
    version: str = version_option(),
    env: str = typer.Option("production", "--env", help="Target environment."),
    fmt: GateFormat = typer.Option("table", "--format",
                                   help="Output: a table, JSON (same as --json) or SARIF 2.1.0."),
    key: str = key_option(),
    as_json: bool = JSON_OPT,
) -> None:
    """Run every check and checklist item; exit 0 only if all pass (or are waived).

    Prints each item with its evidence (value, threshold, signer, waiver) and records the
    result, with the digests of the evidence, in the ledger, signed by --key (any trusted
    signer).

    Examples:
    govctl gate support-bot --version 3 --key rita
    govctl gate support-bot --version 3 --format sarif \\
      --key rita > gate.sarif
    """
    from govctl.cli._common import load_key
    from govctl.errors import EXIT_CHECK_FAILED, InputError
    from govctl.release import gate

    if fmt not in ("table", "json", "sarif"):
        raise InputError(f"unknown --format {fmt!r}: use table, json or sarif")
    if as_json and fmt == "sarif":
        raise InputError("--json and --format sarif: choose one output")
    if as_json:
        fmt = "json"
    report = gate.run(repo(), load_key(key), service, version, env)
    if fmt == "json":
        emit_json(report)
    elif fmt == "sarif":
        emit_json(report.to_sarif())
    else:
        _render(report)
    if report.tampered:  # artifacts changed after registration: an integrity violation
        from govctl.errors import EXIT_INTEGRITY

        for item in report.tampered:
            typer.echo(f"error: {item.reason}", err=True)
        raise typer.Exit(EXIT_INTEGRITY)
    if not report.passed:
        raise typer.Exit(EXIT_CHECK_FAILED)
