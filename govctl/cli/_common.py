"""Shared CLI plumbing: options, output helpers. Imports nothing heavy."""

from __future__ import annotations

import json
import re
import sys
from typing import Any

import typer

JSON_OPT = typer.Option(False, "--json", help="Print machine-readable JSON on stdout.")
KEY_HELP = "Name of your signing key in the key store (or set GOVCTL_KEY)."


def key_option(help: str = KEY_HELP) -> Any:
    return typer.Option(..., "--key", "-k", envvar="GOVCTL_KEY", help=help, show_envvar=True)


_console = None
_err_console = None

# C0/C1 controls (except newline and tab), DEL, and the bidi overrides that reorder text.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def neutralise(text: str) -> str:
    """``text`` with every control character and escape sequence made visible (``\x1b``),
    so nothing a user supplied can move the cursor, recolour or rewrite the terminal."""
    return _CONTROL.sub(lambda m: ascii(m.group())[1:-1], text)


def styled(*parts: Any) -> Any:
    """A rich ``Text`` from parts: a plain string, or a ``(string, style)`` pair. The strings
    are text, never markup, and neutralised; the styles come from govctl's code."""
    from rich.text import Text

    out = Text()
    for part in parts:
        if isinstance(part, tuple):
            out.append(neutralise(str(part[0])), style=part[1])
        else:
            out.append(neutralise(str(part)))
    return out


def _safe_console(**kw: Any) -> Any:
    """A Console on which every string printed is text: markup off, controls neutralised.
    Styling is done with :func:`styled` (``Text``), never by interpolating into markup."""
    from rich.console import Console
    from rich.text import Text

    class SafeConsole(Console):  # type: ignore[misc]
        def print(self, *objects: Any, **kwargs: Any) -> None:
            objs = [Text(neutralise(o)) if isinstance(o, str) else o for o in objects]
            kwargs.pop("markup", None)
            super().print(*objs, markup=False, **kwargs)

        def rule(self, title: Any = "", **kwargs: Any) -> None:
            super().rule(Text(neutralise(title)) if isinstance(title, str) else title,
                         **kwargs)

    return SafeConsole(markup=False, highlight=False, emoji=False, **kw)


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
        _console = _safe_console(width=_width(sys.stdout))
    return _console


def err_console() -> Any:
    global _err_console
    if _err_console is None:
        _err_console = _safe_console(stderr=True, width=_width(sys.stderr))
    return _err_console


def emit_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, sort_keys=False, default=str) + "\n")


def table(title: str | None, columns: list[str], rows: list[list[Any]]) -> None:
    """A table whose every cell is text (a ``Text`` from :func:`styled` keeps its style)."""
    from rich.table import Table
    from rich.text import Text

    t = Table(title=None if title is None else styled(title), title_justify="left",
              show_lines=False)
    for c in columns:
        t.add_column(styled(c), overflow="fold")  # narrow terminals wrap a value, never cut it
    for r in rows:
        t.add_row(*[v if isinstance(v, Text) else styled("" if v is None else str(v))
                    for v in r])
    console().print(t)


def ok(message: str) -> None:
    console().print(styled(("✓", "green"), " ", message))


def warn(message: str) -> None:
    err_console().print(styled(("!", "yellow"), " ", message))


def fail(message: str) -> None:
    console().print(styled(("✗", "red"), " ", message))


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
