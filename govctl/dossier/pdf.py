"""The dossier as a printable PDF: the HTML printed by headless Chromium (Debian's
``chromium``), paged by the page's CSS ``@page`` rules, with a header and page numbers."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

from govctl.errors import ExternalError
from govctl.fsutil import atomic_write

FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--no-first-run", "--disable-component-update", "--disable-sync"]


def browser() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if not found:
        raise ExternalError("a PDF dossier needs headless Chromium, and no 'chromium' is on "
                            "PATH; install it (Debian: apt-get install chromium) or write "
                            ".html and print that")
    return found


def print_pdf(page: str, out: Path, timeout: int = 180) -> Path:
    chromium = browser()
    with tempfile.TemporaryDirectory(prefix="govctl-pdf-") as tmp:
        src = Path(tmp) / "dossier.html"
        src.write_text(page, "utf-8")
        target = Path(tmp) / "dossier.pdf"
        try:
            proc = subprocess.run(
                [chromium, *FLAGS, f"--user-data-dir={Path(tmp) / 'profile'}",
                 "--no-pdf-header-footer", f"--print-to-pdf={target}", src.as_uri()],
                capture_output=True, text=True, timeout=timeout)
        except subprocess.TimeoutExpired:
            raise ExternalError(f"chromium did not print the dossier within {timeout} s") from None
        if not target.exists() or target.read_bytes()[:5] != b"%PDF-":
            tail = (proc.stderr or "").strip().splitlines()[-1:] or ["no output"]
            raise ExternalError(f"chromium could not print the dossier to PDF (exit "
                                f"{proc.returncode}): {tail[0][:300]}")
        atomic_write(out, target.read_bytes())
    return out
