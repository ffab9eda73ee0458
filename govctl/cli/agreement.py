"""govctl agreement: signed SLO and budget agreements."""

from __future__ import annotations

import typer

from govctl.cli._common import (
    JSON_OPT,
    console,
    emit_json,
    fail,
    key_option,
    ok,
    repo,
    service_arg,
    table,
    warn,
)

app = typer.Typer(
    help="Signed SLO and budget agreements (agreements/SERVICE.yaml).", no_args_is_help=True
)


def _print_report(report) -> None:
    if report.ok:
        signed = "; ".join(f"{role}: {', '.join(n)}" for role, n in report.signers.items())
        ok(f"agreement {report.service} v{report.version} is valid and fully signed ({signed})")
    else:
        fail(f"agreement {report.service} v{report.version}: {report.state}")
        for p in report.problems:
            console().print(f"  - {p}")
    for n in report.notes:
        warn(n)
    if report.expiring_soon:
        warn(f"expires soon: {report.expires}")


@app.command("new")
def new(service: str = service_arg(), as_json: bool = JSON_OPT) -> None:
    """Write a commented agreement template to agreements/SERVICE.yaml.

    Edit the numbers, commit, then have each role sign it (govctl agreement sign).

    Example:
    govctl agreement new support-bot
    """
    from govctl import agreements

    r = repo()
    path = agreements.new(r, service)
    if as_json:
        emit_json({"service": service, "path": r.rel(path)})
        return
    ok(f"wrote {r.rel(path)}; edit it, then sign: govctl agreement sign {service} --key NAME")


@app.command("sign")
def sign(
    service: str = service_arg(),
    key: str = key_option(),
    as_json: bool = JSON_OPT,
) -> None:
    """Sign the current agreement with your key (one signature per signer).

    Each role the agreement needs signs in turn; a signer counts once however often they
    sign.

    Example:
    govctl agreement sign support-bot --key erin
    """
    from govctl import agreements
    from govctl.cli._common import load_key

    r = repo()
    report, already = agreements.sign(r, service, load_key(key))
    if as_json:
        emit_json({**report.to_json(), "already_signed": already})
        return
    if already:
        warn(f"{key} had signed this version already; their signature counts once")
    ok(f"signed agreement {service} v{report.version} as {key}")
    if not report.ok:
        missing = ", ".join(f"{n} × {role}" for role, n in report.missing_roles.items())
        console().print(f"still needed: {missing or report.state}")


@app.command("verify")
def verify(
    service: str = service_arg(optional=True, omitted="every agreement"),
    as_json: bool = JSON_OPT,
) -> None:
    """Verify signatures against the trust policy and the document's current bytes.

    Exit 0 valid; 1 missing roles, changed since signing (naming the fields) or expired;
    4 a signature that does not verify, an unknown or removed key, or a signature from
    another document kind.

    Examples:
    govctl agreement verify support-bot
    govctl agreement verify --json
    """
    from govctl import agreements

    reports = agreements.verify_all(repo(), service)
    if as_json:
        emit_json(reports[0].to_json() if service else [x.to_json() for x in reports])
    else:
        if not reports:
            console().print("no agreements yet; create one with 'govctl agreement new SERVICE'")
        for rep in reports:
            _print_report(rep)
    code = max((x.exit_code for x in reports), default=0)
    if code:
        raise typer.Exit(code)


@app.command("status")
def status(as_json: bool = JSON_OPT) -> None:
    """All agreements: who signed, which roles are missing, what expires soon.

    Example:
    govctl agreement status
    """
    from govctl import agreements

    rows = [x.to_json() for x in agreements.verify_all(repo(), keep_going=True)]
    if as_json:
        emit_json(rows)
        return
    table(
        "agreements",
        ["service", "version", "state", "signed by", "missing", "expires"],
        [
            [x["service"], x.get("version"), x["state"],
             "; ".join(f"{k}: {', '.join(v)}" for k, v in x.get("signers", {}).items()),
             ", ".join(x.get("missing_roles", {})),
             (x.get("expires") or "") + (" (soon)" if x.get("expiring_soon") else "")]
            for x in rows
        ],
    )


@app.command("diff")
def diff(
    service: str = service_arg(),
    as_json: bool = JSON_OPT,
) -> None:
    """What changed since the last fully signed version: each field, signed and now.

    Example:
    govctl agreement diff support-bot
    """
    from govctl import agreements

    result = agreements.diff(repo(), service)
    if as_json:
        emit_json(result)
        return
    if result.changes is None:
        console().print(f"{service} has never been fully signed")
    elif not result.changes:
        ok(f"{service} is unchanged since the fully signed version {result.signed_version}")
    else:
        table(
            f"{service}: changes since fully signed version {result.signed_version}",
            ["field", "signed", "now"],
            [[f, v.signed, v.now] for f, v in result.changes.items()],
        )
