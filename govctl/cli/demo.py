"""govctl demo and govctl report."""

from __future__ import annotations

from pathlib import Path

import typer

from govctl.cli._common import JSON_OPT, emit_json, ok, repo


def demo(
    directory: Path = typer.Option(Path("govctl-demo"), "--dir", help="Where to build the demo "
                                   "(must not exist or be empty)."),
    regression: str = typer.Option("latency", "--regression", help="What the third candidate "
                                   "gets wrong: latency (rolled back by the canary) or none."),
    as_json: bool = JSON_OPT,
) -> None:
    """Build a governed example service end to end on embedded defaults and narrate it.

    Inventoried data and a DVC pipeline, a trained model in a SQLite MLflow store, pinned
    prompts, a signed agreement, checklist sign-offs, the gate, canaries fed by real calls
    through the routing library, an automatic rollback, an emergency rollback, the audit
    and release dossiers. The demo's keys stay in DIR/.keys.

    Example: govctl demo --dir /tmp/govctl-demo
    """
    from govctl.demo.run import run

    summary = run(directory, regression=regression, quiet=as_json)
    if as_json:
        emit_json(summary)


def report(
    service: str = typer.Argument(...),
    version: str = typer.Option(..., "--version", "-v"),
    out: Path = typer.Option(..., "--out", help="FILE.html (self-contained, offline), FILE.md "
                             "or FILE.pdf (printed by headless Chromium)."),
    charts: Path = typer.Option(None, "--charts", help="Also write each canary chart as an "
                                "SVG file into this directory (for tickets)."),
) -> None:
    """Write the release dossier: the version's whole life (and whether it still serves),
    lineage with classifications, agreement and signers, checklist in plain words, gate,
    canary steps with charts, the service's release timeline, and whether the ledger
    verifies.

    Example: govctl report support-bot --version 3 --out dossier.pdf --charts charts/
    """
    from govctl.dossier.report import write_report

    path = write_report(repo(), service, version, out, charts_dir=charts)
    ok(f"wrote {path}")
