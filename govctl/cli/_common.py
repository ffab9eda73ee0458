"""Shared CLI plumbing: the options and arguments every command spells the same way,
the fixed choice sets, help-text tidying, output helpers. Imports nothing heavy."""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Callable
from typing import Any, Literal

import typer

# -- one wording per option and argument ----------------------------------------------

JSON_OPT = typer.Option(False, "--json", help="Print machine-readable JSON on stdout.")
KEY_HELP = "Name of your signing key in the key store (or set GOVCTL_KEY)."
SERVICE_HELP = "The service: its MLflow registered-model name, e.g. support-bot."
VERSION_HELP = "Model version (the MLflow registered-model version number)."


def key_option() -> Any:
    """``--key/-k NAME``: the one key that signs what the command records."""
    return typer.Option(..., "--key", "-k", envvar="GOVCTL_KEY", help=KEY_HELP,
                        show_envvar=True)


def admin_keys_option() -> Any:
    """``--key/-k NAME``, repeatable: the admin keys signing a trust-policy change."""
    return typer.Option(..., "--key", "-k", envvar="GOVCTL_KEY", show_envvar=True,
                        help=f"{KEY_HELP} An admin's key; repeat until the trust policy's "
                        "admin threshold is met.")


def service_arg(*, optional: bool = False, omitted: str = "every service") -> Any:
    """The SERVICE argument; ``optional`` ones say what leaving it out means."""
    return typer.Argument(None if optional else ..., metavar="SERVICE", show_default=False,
                          help=SERVICE_HELP + (f" Omit for {omitted}." if optional else ""))


def version_option(*, required: bool = True, omitted: str = "the latest") -> Any:
    """``--version V``: a model version. No ``-v``: at the top level ``--version`` prints
    govctl's version, and a short alias there and nowhere else would be a trap."""
    return typer.Option(... if required else None, "--version", show_default=False,
                        help=VERSION_HELP + ("" if required else f" Omit for {omitted}."))


# -- fixed choice sets (shown as choices in --help; the library validates them too) ----

DatasetKind = Literal["raw", "train", "eval", "test", "retrieval"]
Sensitivity = Literal["public", "internal", "confidential", "restricted"]
Pii = Literal["none", "pseudonymized", "present"]
GateFormat = Literal["table", "json", "sarif"]
LineageFormat = Literal["tree", "dot", "mermaid"]
KeyFormat = Literal["json", "pem", "base64"]
Regression = Literal["latency", "none"]


# -- help text -------------------------------------------------------------------------

# What rich would read as a markup tag ([bold], [/], [link=...]); help text is prose, so
# escape it: "[--env ENV]" and "[default]" print as written.
_MARKUP = re.compile(r"(\\*)(\[[a-z#/@][^[]*?])")
_VERBATIM = ("Example:", "Examples:")


def _escape_markup(text: str) -> str:
    return _MARKUP.sub(lambda m: m.group(1) * 2 + "\\" + m.group(2), text)


def reflow(text: str | None) -> str | None:
    """Docstring -> help text that wraps at any terminal width.

    Each paragraph (lines up to a blank line) becomes one line for rich to wrap; a
    paragraph that starts with ``Example:``/``Examples:`` (or click's ``\\b`` marker line,
    which is dropped) is kept line for line, so an example is never re-wrapped. Brackets
    that rich would take for markup are escaped.
    """
    if text is None:
        return None
    import inspect

    out = []
    for para in re.split(r"\n\s*\n", inspect.cleandoc(text)):
        lines = para.split("\n")
        if lines[0].strip() in ("\b", "\\b"):
            out.append("\n".join(lines[1:]))
        elif lines[0].strip() in _VERBATIM:
            out.append(para)
        else:
            out.append(" ".join(x.strip() for x in lines))
    return _escape_markup("\n\n".join(out))


def tidy_help(app: Any, _seen: set[int] | None = None) -> None:
    """Reflow the help of every command and group of a typer app, and escape markup in
    every option's and argument's help (each shared parameter object once). Run once, by
    ``govctl.cli`` after registering the commands."""
    seen = set() if _seen is None else _seen
    for info in app.registered_commands:
        info.help = reflow(info.help if info.help is not None else info.callback.__doc__)
        for default in info.callback.__defaults__ or ():  # typer's Option()/Argument() infos
            if id(default) not in seen and isinstance(getattr(default, "help", None), str):
                seen.add(id(default))
                default.help = _escape_markup(default.help)
    for group in app.registered_groups:
        sub = group.typer_instance
        if isinstance(sub.info.help, str):
            sub.info.help = reflow(sub.info.help)
        tidy_help(sub, seen)


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

    class SafeConsole(Console):
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
    """A library result as JSON (:func:`govctl.serialize.jsonable`: dataclasses, enums,
    ``to_json`` methods, lists of them)."""
    from govctl.serialize import jsonable

    sys.stdout.write(json.dumps(jsonable(data), indent=2, sort_keys=False, default=str) + "\n")


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


def load_keys(names: list[str]) -> list[Any]:
    """Each named key from the key store, in order (for a threshold of signers)."""
    from govctl.signing.keys import KeyStore

    store = KeyStore()
    return [store.load(n) for n in names]


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


def hash_progress(what: str) -> Callable[[int, int], None]:
    """A progress callback printing to stderr every 10% of a large (>= 64 MiB) hash."""
    shown = [-1]

    def cb(done: int, total: int) -> None:
        if total < 64 << 20:
            return
        tenth = done * 10 // total
        if tenth != shown[0]:
            shown[0] = tenth
            err_console().print(f"{what}: {done >> 20} / {total >> 20} MiB ({tenth * 10}%)",
                                markup=False)
    return cb
