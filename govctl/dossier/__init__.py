"""The release dossier: one offline HTML, Markdown or PDF document per release.

Built from the same library functions as the CLI (collect), then rendered."""

from govctl.dossier.report import Dossier, collect, render_html, write_report

__all__ = ["Dossier", "collect", "render_html", "write_report"]
