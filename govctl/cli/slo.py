"""govctl slo: the signed agreement watched after launch."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import typer

from govctl.cli._common import (
    JSON_OPT,
    KEY_HELP,
    emit_json,
    fail,
    load_key,
    ok,
    repo,
    service_arg,
    table,
    warn,
)

ExportFormat = Literal["prometheus", "openslo"]

app = typer.Typer(help="Error budgets, burn-rate alerts and spend against the signed "
                  "agreement, after launch.", no_args_is_help=True)


@app.command("status")
def status(
    service: str = service_arg(),
    telemetry: str = typer.Option(..., "--telemetry", help="FILE.jsonl, FILE.csv, "
                                  "FILE.parquet (or s3://) or sql:URL#TABLE with a "
                                  "timestamp per request."),
    window: str = typer.Option("30d", "--window", help="SLO window, e.g. 30d, 7d."),
    at: str = typer.Option(None, "--at", help="Evaluate at this ISO time (default: now)."),
    record: bool = typer.Option(False, "--record", help="Write a signed slo.status entry."),
    key: str = typer.Option(None, "--key", "-k", envvar="GOVCTL_KEY", show_envvar=True,
                            help=KEY_HELP + " Needed with --record."),
    as_json: bool = JSON_OPT,
) -> None:
    """Error budgets and multiwindow burn-rate alerts for the signed objectives, cost and
    tokens against the signed limits, monthly spend and forecast.

    Exit 0 within budget, 1 when a budget burns too fast (an alert fires) or is spent.

    Examples:
    govctl slo status support-bot \\
      --telemetry requests.parquet --window 30d
    govctl slo status support-bot \\
      --telemetry requests.jsonl --record --key otto
    """
    from govctl.errors import EXIT_CHECK_FAILED, InputError
    from govctl.release import slo

    if record and not key:
        raise InputError("--record needs --key NAME (the entry is signed)")
    result, entry = slo.check(repo(), service, telemetry, window, at,
                              record_with=load_key(key) if record else None)
    if entry is not None and not as_json:
        ok(f"recorded slo.status as ledger entry {entry.seq}")
    if as_json:
        emit_json(result)
    else:
        rows = [[o.name, o.target, f"{o.bad}/{o.total}",
                 "-" if o.budget_remaining is None else f"{o.budget_remaining:.1%}",
                 ", ".join(f"{k} {v:.2f}x" for k, v in list(o.burn.items())[:4])]
                for o in result.objectives]
        table(f"{service} SLOs over {window} to {result.at}",
              ["objective", "signed", "bad/total", "budget left", "burn rates"], rows)
        s = result.spend
        print(f"spend this month: ${s['month_to_date_usd']:.2f}, forecast "
              f"${s['forecast_usd']:.2f} of ${s['monthly_budget_usd']}")
        for n in result.notes:
            warn(n)
        for f in result.firing:
            fail(f)
        if not result.firing:
            ok("within budget")
    if result.firing:
        raise typer.Exit(EXIT_CHECK_FAILED)


@app.command("export")
def export(
    service: str = service_arg(),
    fmt: ExportFormat = typer.Option(..., "--format", help="Prometheus alerting rules or "
                                     "OpenSLO documents."),
    out: Path = typer.Option(Path("."), "--out", help="Directory to write into."),
    window: str = typer.Option("30d", "--window", help="SLO window, e.g. 30d."),
    as_json: bool = JSON_OPT,
) -> None:
    """Write the signed objectives as Prometheus alerting rules or OpenSLO documents.

    Each file carries the agreement's digest; promtool check rules accepts the rules.

    Example:
    govctl slo export support-bot \\
      --format prometheus --out deploy/
    """
    from govctl.release import slo_export

    paths = slo_export.export(repo(), service, fmt, out, window=window)
    if as_json:
        emit_json({"written": [str(p) for p in paths]})
    else:
        for p in paths:
            ok(f"wrote {p}")
