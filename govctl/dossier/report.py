"""The release dossier: one self-contained, offline document (HTML or Markdown) telling a
release's whole story — lineage, agreement and signers, checklist, gate, canary steps with
charts, ledger entries and whether the ledger verifies. Built from the same library
functions as the CLI (lineage, agreements, gate, ledger), never from copies of their logic.
"""

from __future__ import annotations

from pathlib import Path

from govctl.config import GovernedRepo
from govctl.dossier.collect import Dossier, attestation_paths, collect
from govctl.dossier.render import charts, render_html
from govctl.errors import InputError
from govctl.fsutil import atomic_write

__all__ = ["Dossier", "attestation_paths", "collect", "render_html", "write_report"]


def write_report(repo: GovernedRepo, service: str, version: str, out: Path,
                 charts_dir: Path | None = None) -> Path:
    """Write the dossier (.html, .md or .pdf) and, with ``charts_dir``, each canary chart
    as its own SVG file (for tickets)."""
    from govctl.dossier import pdf
    from govctl.dossier.markdown import render_markdown

    out = Path(out)
    if out.suffix not in (".html", ".md", ".pdf"):
        raise InputError(f"out {out}: use a .html, .md or .pdf file name", field="out")
    if out.suffix == ".pdf":
        pdf.browser()  # no Chromium: say so before any work
    d = collect(repo, service, version)
    if out.suffix == ".pdf":
        pdf.print_pdf(render_html(d), out)
    else:
        atomic_write(out, render_html(d) if out.suffix == ".html" else render_markdown(d))
    if charts_dir is not None:
        charts_dir = Path(charts_dir)
        charts_dir.mkdir(parents=True, exist_ok=True)
        for figs in charts(d):
            for stem, fig in figs:
                atomic_write(charts_dir / f"{service}-v{version}-{stem}.svg",
                             '<?xml version="1.0" encoding="utf-8"?>\n' + fig)
    return out
