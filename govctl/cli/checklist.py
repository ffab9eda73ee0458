"""govctl checklist and govctl gate."""

from __future__ import annotations

import typer

from govctl.cli._common import JSON_OPT, console, emit_json, key_option, ok, repo, styled, table

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
    service: str = typer.Argument(...),
    version: str = typer.Option(..., "--version", "-v", help="Model version."),
    template: str = typer.Option("prelaunch", "--template", help="checklists/TEMPLATE.yaml"),
    first_release: bool = typer.Option(False, "--first-release",
                                       help="Declare there is no earlier version to roll back to."),
) -> None:
    """Freeze a checklist template for one release: checklists/releases/SERVICE/V.yaml."""
    from govctl.release import checklists

    r = repo()
    checklists.new(r, service, version, template=template, first_release=first_release)
    ok(f"wrote {r.rel(checklists.release_path(r, service, version))}; commit it")


@app.command("status")
def status(service: str = typer.Argument(...),
           version: str = typer.Option(..., "--version", "-v"),
           env: str = typer.Option("production", "--env"),
           as_json: bool = JSON_OPT) -> None:
    """Every item with pass / fail / pending / waived / n/a (does not apply here) and the
    reason. Records nothing."""
    from govctl.release import gate

    report = gate.evaluate(repo(), service, version, env)
    if as_json:
        emit_json(report.to_json())
    else:
        _render(report)


@app.command("sign-off")
def sign_off(service: str = typer.Argument(...),
             version: str = typer.Option(..., "--version", "-v"),
             item: str = typer.Option(..., "--item", help="Checklist item id."),
             key: str = key_option(),
             note: str = typer.Option(None, "--note", help="What you checked."),
             as_json: bool = JSON_OPT) -> None:
    """Sign off one item with a key holding the item's role (a DSSE signature, recorded).

    Example: govctl checklist sign-off support-bot -v 3 --item pii-retention --key cora
    """
    from govctl.cli._common import load_key
    from govctl.release import checklists

    result = checklists.sign_off(repo(), service, version, item, load_key(key), note=note)
    if as_json:
        emit_json(result)
        return
    ok(f"{result['signer']} signed off {item} ({result['role']})")


@app.command("waive")
def waive(service: str = typer.Argument(...),
          version: str = typer.Option(..., "--version", "-v"),
          item: str = typer.Option(..., "--item"),
          justification: str = typer.Option(..., "--justification", help="Why, for the record."),
          expires: str = typer.Option(..., "--expires", help="ISO date; capped by policy."),
          key: str = key_option(),
          as_json: bool = JSON_OPT) -> None:
    """Waive one item until a date, with a justification, signed by an allowed role."""
    from govctl.cli._common import load_key
    from govctl.release import checklists

    result = checklists.waive(repo(), service, version, item, load_key(key),
                              justification=justification, expires=expires)
    if as_json:
        emit_json(result)
        return
    ok(f"{item} waived by {result['granted_by']} until {result['expires']}")


def gate_command(
    service: str = typer.Argument(..., help="Service (MLflow registered model)."),
    version: str = typer.Option(..., "--version", "-v", help="Model version to release."),
    env: str = typer.Option("production", "--env", help="Target environment."),
    fmt: str = typer.Option("table", "--format", help="table, json or sarif."),
    key: str = key_option("Key that signs the gate's ledger entry (any trusted signer)."),
) -> None:
    """Run every check and checklist item; exit 0 only if all pass (or are waived).

    Prints each item with its evidence — value, threshold, signer, waiver — and records
    the result with the digests of the evidence in the ledger.

    Example: govctl gate support-bot --version 3 --env production --key rita
    """
    from govctl.cli._common import load_key
    from govctl.errors import EXIT_CHECK_FAILED, InputError
    from govctl.release import gate

    if fmt not in ("table", "json", "sarif"):
        raise InputError(f"unknown --format {fmt!r}: use table, json or sarif")
    r = repo()
    k = load_key(key)
    report = gate.evaluate(r, service, version, env)
    gate.record(r, k, report)
    if fmt == "json":
        emit_json(report.to_json())
    elif fmt == "sarif":
        emit_json(report.to_sarif())
    else:
        _render(report)
    if not report.passed:
        raise typer.Exit(EXIT_CHECK_FAILED)
