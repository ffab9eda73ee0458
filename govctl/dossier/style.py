"""The dossier's stylesheet: screen, print, and the printed pages' running header."""

from __future__ import annotations

from typing import Any

CSS = """body{font:14px/1.45 system-ui,sans-serif;margin:2em auto;max-width:1100px;color:#222}
h1{margin-bottom:0}h2{border-bottom:1px solid #ddd;padding-bottom:4px;margin-top:2em}
table{border-collapse:collapse;margin:8px 0}td,th{border:1px solid #ddd;padding:4px 8px;
text-align:left;vertical-align:top;font-size:13px}th{background:#f6f6f6}
.pass,.ok{color:#1a7f37}.fail,.bad{color:#c62828}.pending,.inconclusive{color:#a15c00}
.waived{color:#1b6b93}.na{color:#666;font-style:italic}.small{color:#666;font-size:12px}
.charts{display:flex;gap:24px;flex-wrap:wrap}.id{font-family:monospace;color:#666;
font-size:12px}.banner{border:2px solid #c62828;background:#fdecea;padding:10px 14px;
margin:12px 0;font-weight:600}.banner.live{border-color:#1a7f37;background:#e9f6ec}
.lineage-wrap{overflow-x:auto}
@media print{body{margin:0;max-width:none}section{break-inside:auto}h2{break-after:avoid}
svg{break-inside:avoid}.lineage-wrap{overflow:visible}}"""


def _css_string(text: str) -> str:
    """``text`` as a CSS string literal that cannot end the string or the <style> element."""
    return '"' + "".join(c if c.isalnum() or c in " .-_/:,()" else f"\\{ord(c):x} "
                         for c in text) + '"'


def page_css(d: Any) -> str:
    """Print paging (Chromium 131+ draws @page margin boxes): a running header naming the
    service and version on every page, and "page N of M"."""
    head = _css_string(f"{d.service} v{d.version} — release dossier")
    gen = _css_string(f"generated {d.generated}")
    return ("@page{size:A4 landscape;margin:16mm 12mm;"
            f"@top-left{{content:{head};font:11px system-ui,sans-serif;color:#444}}"
            f"@top-right{{content:{gen};font:10px system-ui,sans-serif;color:#666}}"
            '@bottom-right{content:"page " counter(page) " of " counter(pages);'
            "font:11px system-ui,sans-serif;color:#444}}")
