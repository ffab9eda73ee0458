"""Shared CLI plumbing: options, output helpers. Imports nothing heavy."""

from __future__ import annotations

import json
import sys
from typing import Any

import typer

JSON_OPT = typer.Option(False, "--json", help="Print machine-readable JSON on stdout.")
KEY_HELP = "Name of your signing key in the key store (or set GOVCTL_KEY)."


def key_option(help: str = KEY_HELP) -> Any:
    return typer.Option(..., "--key", "-k", envvar="GOVCTL_KEY", help=help, show_envvar=True)


_console = None
_err_console = None


def _width(stream: Any) -> int | None:
    """Output piped to a file or a pager is not wrapped at rich's default of 80 columns
    (tables would be folded for no one); ``COLUMNS`` still wins."""
    import os

    if "COLUMNS" in os.environ or getattr(stream, "isatty", lambda: False)():
        return None
    return 160


def console() -> Any:
    """rich Console for people (respects NO_COLOR, COLUMNS and non-terminals)."""
    global _console
    if _console is None:
        from rich.console import Console

        _console = Console(highlight=False, width=_width(sys.stdout))
    return _console


def err_console() -> Any:
    global _err_console
    if _err_console is None:
        from rich.console import Console

        _err_console = Console(stderr=True, highlight=False, width=_width(sys.stderr))
    return _err_console


def emit_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, sort_keys=False, default=str) + "\n")


def table(title: str | None, columns: list[str], rows: list[list[Any]]) -> None:
    from rich.table import Table

    t = Table(title=title, title_justify="left", show_lines=False)
    for c in columns:
        t.add_column(c, overflow="fold")  # narrow terminals wrap a value, never cut it
    for r in rows:
        t.add_row(*["" if v is None else str(v) for v in r])
    console().print(t)


def ok(message: str) -> None:
    console().print(f"[green]✓[/green] {message}")


def warn(message: str) -> None:
    err_console().print(f"[yellow]![/yellow] {message}")


def fail(message: str) -> None:
    console().print(f"[red]✗[/red] {message}")


def repo() -> Any:
    from govctl.config import find_repo

    return find_repo()


def load_key(name: str) -> Any:
    from govctl.signing.keys import KeyStore

    return KeyStore().load(name)


def report_findings(findings: list[Any], *, as_json: bool, key: str, clean: str,
                    exit_code: int) -> None:
    """Print a verify command's findings (or ``clean`` when there are none) and exit with
    ``exit_code`` if there were any. JSON: ``{"ok": bool, key: [finding, ...]}``."""
    if as_json:
        emit_json({"ok": not findings, key: [f.to_json() for f in findings]})
    elif findings:
        for f in findings:
            fail(str(f))
    else:
        ok(clean)
    if findings:
        raise typer.Exit(exit_code)
