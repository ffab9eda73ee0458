"""govctl demo and govctl report."""

from __future__ import annotations

from pathlib import Path

import typer

from govctl.cli._common import (
    JSON_OPT,
    Regression,
    emit_json,
    ok,
    repo,
    service_arg,
    version_option,
)


def demo(
    directory: Path = typer.Option(Path("govctl-demo"), "--dir", help="Where to build the demo "
                                   "(must not exist or be empty)."),
    regression: Regression = typer.Option("latency", "--regression", help="What the third "
                                          "candidate gets wrong: latency (rolled back by the "
                                          "canary) or none."),
    as_json: bool = JSON_OPT,
) -> None:
    """Build a governed example service end to end on embedded defaults and narrate it.

    Inventoried data and a DVC pipeline, a trained model in a SQLite MLflow store, pinned
    prompts, a signed agreement, checklist sign-offs, the gate, canaries fed by real calls
    through the routing library, an automatic rollback, an emergency rollback, the audit
    and release dossiers. The demo's keys stay in DIR/.keys.

    Examples:
    govctl demo --dir /tmp/govctl-demo
    govctl demo --dir /tmp/demo2 --regression none --json
    """
    from govctl.demo.run import run

    summary = run(directory, regression=regression, quiet=as_json)
    if as_json:
        emit_json(summary)


def report(
    service: str = service_arg(),
    version: str = version_option(),
    out: Path = typer.Option(..., "--out", help="FILE.html (self-contained, offline), FILE.md "
                             "or FILE.pdf (printed by headless Chromium)."),
    charts: Path = typer.Option(None, "--charts", help="Also write each canary chart as an "
                                "SVG file into this directory (for tickets)."),
    as_json: bool = JSON_OPT,
) -> None:
    """Write the release dossier: the version's whole life (and whether it still serves),
    lineage with classifications, agreement and signers, checklist in plain words, gate,
    canary steps with charts, the service's release timeline, and whether the ledger
    verifies.

    Examples:
    govctl report support-bot --version 3 --out dossier.html
    govctl report support-bot --version 3 --out dossier.pdf \\
      --charts charts/
    """
    from govctl.dossier.report import write_report

    path = write_report(repo(), service, version, out, charts_dir=charts)
    if as_json:
        emit_json({"service": service, "version": version, "path": str(path),
                   "format": {".html": "html", ".md": "markdown", ".pdf": "pdf"}[path.suffix],
                   "charts": str(charts) if charts else None})
        return
    ok(f"wrote {path}")
