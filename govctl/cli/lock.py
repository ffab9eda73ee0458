"""govctl lock: the per-service leases that serialise releases."""

from __future__ import annotations

import typer

from govctl.cli._common import (
    JSON_OPT,
    console,
    emit_json,
    key_option,
    load_key,
    ok,
    repo,
    service_arg,
    table,
)

app = typer.Typer(help="Leases that serialise state changes per service.", no_args_is_help=True)


@app.command("status")
def status(as_json: bool = JSON_OPT) -> None:
    """Every held lease: service, holder, host, pid, since, expires.

    Example:
    govctl lock status --json
    """
    from govctl.release import locks

    rows = [x.to_json() for x in locks.status(repo())]
    if as_json:
        emit_json(rows)
        return
    if not rows:
        console().print("no lease is held")
        return
    table("leases", ["subject", "holder", "host", "pid", "since", "expires"],
          [[x["subject"], x["holder"], x["host"], x["pid"], x["acquired"], x["expires"]]
           for x in rows])


@app.command("break")
def break_(
    service: str = service_arg(),
    reason: str = typer.Option(..., "--reason", help="Why (recorded in the ledger)."),
    key: str = key_option(),
    as_json: bool = JSON_OPT,
) -> None:
    """Break a lease a crashed command left (admin or oncall; signed, in the ledger).

    Example:
    govctl lock break support-bot \\
      --reason "promote crashed on host-3" --key carol
    """
    from govctl.release import locks

    lease = locks.break_lease(repo(), load_key(key), service, reason)
    if as_json:
        emit_json({"broken": lease.to_json()})
        return
    ok(f"broke the lease on {lease.subject}, which was {lease.describe()}")
