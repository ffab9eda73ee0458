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

os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
os.environ.setdefault("DO_NOT_TRACK", "true")
os.environ.setdefault("DVC_NO_ANALYTICS", "1")
os.environ.setdefault("MLFLOW_LOGGING_LEVEL", "WARNING")  # not its INFO chatter

app = typer.Typer(
    name="govctl",
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


app.command("init")(init_cmd.init)
app.add_typer(keys.app, name="keys")
app.add_typer(trust.app, name="trust")
app.add_typer(audit.app, name="audit")
app.add_typer(agreement.app, name="agreement")
app.add_typer(data.app, name="data")
app.add_typer(model.app, name="model")
app.add_typer(prompt.app, name="prompt")
app.add_typer(checklist.app, name="checklist")
app.command("gate")(checklist.gate_command)
app.command("promote")(release.promote)
app.command("rollback")(release.rollback)
app.command("status")(release.status)
app.command("history")(history_cmd.history)
app.add_typer(release.canary_app, name="canary")
app.add_typer(lock.app, name="lock")
app.command("report")(demo.report)
app.command("demo")(demo.demo)


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
        app(args=args, prog_name="govctl")
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
