"""The govctl command line: a thin typer skin over the library.

Each command group lives in its own module and imports domain modules inside its
functions, so ``govctl --help`` loads typer and nothing heavy. :func:`main` is the one
place that turns :class:`~govctl.errors.GovctlError` into a message and an exit code.
"""

from __future__ import annotations

import os
import sys

import typer

from govctl import __version__
from govctl.cli import (
    agreement,
    attest,
    audit,
    checklist,
    data,
    demo,
    keys,
    lock,
    model,
    prompt,
    release,
    trust,
)
from govctl.cli import history as history_cmd
from govctl.cli import init as init_cmd
from govctl.cli import slo as slo_cmd
from govctl.cli._common import tidy_help

os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
os.environ.setdefault("DO_NOT_TRACK", "true")
os.environ.setdefault("DVC_NO_ANALYTICS", "1")
os.environ.setdefault("MLFLOW_LOGGING_LEVEL", "WARNING")  # not its INFO chatter

# The commands in the order a service goes through them (typer lists commands before
# groups; this keeps the help panels and the commands in them in lifecycle order).
LIFECYCLE = ("init", "config", "keys", "trust", "data", "model", "prompt", "agreement",
             "checklist", "gate", "promote", "canary", "rollback", "status", "lock", "slo",
             "audit", "history", "report", "demo")


class _LifecycleGroup(typer.core.TyperGroup):
    def list_commands(self, ctx):  # type: ignore[no-untyped-def]
        names = super().list_commands(ctx)
        return sorted(names, key=lambda n: LIFECYCLE.index(n) if n in LIFECYCLE else len(names))


app = typer.Typer(
    name="govctl",
    cls=_LifecycleGroup,
    help=(
        "Governance and release control for generative-AI services.\n\n"
        "govctl keeps datasets classified and versioned (DVC), models and prompts pinned "
        "(MLflow), SLO and budget agreements signed, and releases behind a pre-launch gate "
        "and a canary, with every decision in a signed, tamper-evident ledger.\n\n"
        "Commands act on the governed repo containing the current directory. Exit codes: "
        "0 ok, 1 check said no, 2 bad input, 3 external system failed, 4 integrity violation, "
        "5 canary inconclusive (wait for more traffic), 70 a bug in govctl."
    ),
    no_args_is_help=True,
    # rich markup: help panels; tidy_help escapes brackets, so help text prints as written
    rich_markup_mode="rich",
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)

_debug = False
EXIT_BUG = 70  # an unexpected exception: a bug, reported as such


def _version(value: bool) -> None:
    if value:
        typer.echo(f"govctl {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    debug: bool = typer.Option(
        False, "--debug", envvar="GOVCTL_DEBUG", help="Show tracebacks for errors."
    ),
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version."
    ),
) -> None:
    global _debug
    _debug = debug


# One help panel per stage of the lifecycle.
SETUP, DATA, PAPERWORK = "Set up", "Data and models", "Agreements and checklists"
RELEASE, AUDIT = "Release", "Audit and reports"
app.command("init", rich_help_panel=SETUP)(init_cmd.init)
app.command("config", rich_help_panel=SETUP)(init_cmd.config)
app.add_typer(keys.app, name="keys", rich_help_panel=SETUP)
app.add_typer(trust.app, name="trust", rich_help_panel=SETUP)
app.add_typer(data.app, name="data", rich_help_panel=DATA)
app.add_typer(model.app, name="model", rich_help_panel=DATA)
app.add_typer(prompt.app, name="prompt", rich_help_panel=DATA)
app.add_typer(agreement.app, name="agreement", rich_help_panel=PAPERWORK)
app.add_typer(checklist.app, name="checklist", rich_help_panel=PAPERWORK)
app.command("gate", rich_help_panel=RELEASE)(checklist.gate_command)
app.command("promote", rich_help_panel=RELEASE)(release.promote)
app.add_typer(release.canary_app, name="canary", rich_help_panel=RELEASE)
app.command("rollback", rich_help_panel=RELEASE)(release.rollback)
app.command("status", rich_help_panel=RELEASE)(release.status)
app.add_typer(lock.app, name="lock", rich_help_panel=RELEASE)
app.add_typer(slo_cmd.app, name="slo", rich_help_panel=RELEASE)
app.add_typer(audit.app, name="audit", rich_help_panel=AUDIT)
app.add_typer(attest.app, name="attest", rich_help_panel=AUDIT)
app.command("history", rich_help_panel=AUDIT)(history_cmd.history)
app.command("report", rich_help_panel=AUDIT)(demo.report)
app.command("demo", rich_help_panel=AUDIT)(demo.demo)
tidy_help(app)  # docstrings -> paragraphs that wrap at any width, examples kept verbatim


_click_command = None


def _command():  # type: ignore[no-untyped-def]
    """The click command tree, built once per process: typer rebuilds it from every
    command's signature on each ``app()`` call (tens of milliseconds for fifty commands),
    which a process running govctl many times (the test suite, a serving layer's tooling)
    would pay on every call."""
    global _click_command
    if _click_command is None:
        _click_command = typer.main.get_command(app)
    return _click_command


def main(argv: list[str] | None = None) -> None:
    """Entry point: run the app, map errors to exit codes, never show a traceback
    for a user error unless ``--debug``.

    typer (in standalone mode) reports usage errors itself with exit code 2.
    """
    from govctl.cli._common import neutralise
    from govctl.errors import EXIT_EXTERNAL, GovctlError

    args = sys.argv[1:] if argv is None else argv
    debug = "--debug" in args or os.environ.get("GOVCTL_DEBUG", "") not in ("", "0", "false")
    try:
        _command()(args=args, prog_name="govctl")
    except GovctlError as exc:
        if debug:
            import traceback

            traceback.print_exc()
        sys.stderr.write(f"error: {neutralise(exc.message)}\n")
        if exc.hint:
            sys.stderr.write(f"hint: {neutralise(exc.hint)}\n")
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        sys.stderr.write("interrupted\n")
        sys.exit(130)
    except OSError as exc:  # the file system said no: a path, a permission, a full disk
        if debug:
            raise
        where = exc.filename2 or exc.filename
        sys.stderr.write(neutralise(f"error: {f'{where}: ' if where else ''}"
                                    f"{exc.strerror or exc}") + "\n")
        sys.exit(EXIT_EXTERNAL)
    except Exception as exc:
        if debug:
            raise
        sys.stderr.write(
            f"error: unexpected {type(exc).__name__}: {neutralise(str(exc))}\n"
            "hint: this is a bug in govctl; rerun with --debug for the traceback and report it\n"
        )
        sys.exit(EXIT_BUG)
