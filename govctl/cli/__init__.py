"""The govctl command line: a thin typer skin over the library.

Each command group lives in its own module and imports domain modules inside its
functions, so ``govctl --help`` loads typer and nothing heavy. :func:`main` is the one
place that turns :class:`~govctl.errors.GovctlError` into a message and an exit code.
"""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING, Any

import typer

from govctl import __version__
from govctl.cli import _lean_help, checklist, demo, release
from govctl.cli import history as history_cmd
from govctl.cli import init as init_cmd
from govctl.cli._common import reflow, tidy_help
from govctl.errors import EXIT_CODES

if TYPE_CHECKING:
    from typer._click.core import Context  # typer vendors click; its groups take this one

_lean_help.install()  # help without rich.markdown and rich.traceback
os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
os.environ.setdefault("DO_NOT_TRACK", "true")
os.environ.setdefault("DVC_NO_ANALYTICS", "1")
os.environ.setdefault("MLFLOW_LOGGING_LEVEL", "WARNING")  # not its INFO chatter
# govctl's documents are its own models: third-party pydantic plugins (tracing and the like)
# have nothing to do there, and finding them scans every installed package's metadata
# (~17 ms of every command; the hooks do the same)
os.environ.setdefault("PYDANTIC_DISABLE_PLUGINS", "__all__")

# The commands in the order a service goes through them (typer lists commands before
# groups; this keeps the help panels and the commands in them in lifecycle order).
LIFECYCLE = ("init", "config", "keys", "trust", "data", "model", "prompt", "agreement",
             "checklist", "gate", "promote", "canary", "rollback", "status", "lock", "slo",
             "audit", "history", "report", "demo")


class _LazyGroup:
    """A command group the root lists (name, help, panel) without building it: its
    module is imported and its commands built only when something asks for more, e.g.
    ``govctl data add`` builds ``data`` alone and ``govctl --help`` builds none."""

    hidden = False
    deprecated = False
    short_help = None

    def __init__(self, name: str, module: str, attr: str, panel: str, help: str) -> None:
        self.name, self.rich_help_panel, self.help = name, panel, reflow(help)
        self._where = (module, attr)
        self._real: typer.core.TyperGroup | None = None

    def load(self) -> typer.core.TyperGroup:
        if self._real is None:
            import importlib

            from typer.main import TyperInfo, get_group_from_info

            sub = getattr(importlib.import_module(f"govctl.cli.{self._where[0]}"),
                          self._where[1])
            tidy_help(sub, _TIDIED)
            self._real = get_group_from_info(
                TyperInfo(sub, name=self.name, rich_help_panel=self.rich_help_panel),
                pretty_exceptions_short=app.pretty_exceptions_short,
                rich_markup_mode=app.rich_markup_mode,
                suggest_commands=app.suggest_commands)
        return self._real

    def __getattr__(self, attr: str) -> object:
        return getattr(self.load(), attr)


class _LifecycleGroup(typer.core.TyperGroup):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for name, (module, attr, panel, text) in GROUPS.items():
            self.commands[name] = _LazyGroup(name, module, attr, panel, text)  # type: ignore[assignment]

    def list_commands(self, ctx: Context) -> list[str]:
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
        + ", ".join(f"{code} {words}" for code, words in EXIT_CODES.items()) + "."
    ),
    no_args_is_help=True,
    # rich markup: help panels; tidy_help escapes brackets, so help text prints as written
    rich_markup_mode="rich",
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)

_debug = False


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
# The command groups, built when used: name -> (module, its typer app, panel, the one-line
# help the root lists; tests/test_help.py checks it is the group's own help)
GROUPS: dict[str, tuple[str, str, str, str]] = {
    "keys": ("keys", "app", SETUP,
             "Manage your Ed25519 signing keys ($GOVCTL_HOME/keys, private keys mode 0600)."),
    "trust": ("trust", "app", SETUP,
              "The trust policy (policies/trust.yaml): signers, roles and who may do what."),
    "data": ("data", "app", DATA, "Dataset inventory, verification and lineage (DVC "
             "underneath)."),
    "model": ("model", "app", DATA, "Register model versions in MLflow with their datasets; "
              "detect drift."),
    "prompt": ("prompt", "app", DATA, "Prompts declared in registry/prompts/, registered in "
               "MLflow, pinned by SHA-256."),
    "agreement": ("agreement", "app", PAPERWORK,
                  "Signed SLO and budget agreements (agreements/SERVICE.yaml)."),
    "checklist": ("checklist", "app", PAPERWORK,
                  "Release checklists: evidence, role sign-offs and expiring waivers."),
    "canary": ("release", "canary_app", RELEASE,
               "Canary analysis and stepping (statistics valid under repeated looks)."),
    "lock": ("lock", "app", RELEASE, "Leases that serialise state changes per service."),
    "slo": ("slo", "app", RELEASE, "Error budgets, burn-rate alerts and spend against the "
            "signed agreement, after launch."),
    "audit": ("audit", "app", AUDIT, "The tamper-evident ledger of every governance decision."),
    "attest": ("attest", "app", AUDIT,
               "Show and verify release attestations (in-toto, DSSE-signed)."),
}
_TIDIED: set[int] = set()  # option objects whose help is tidied already (shared ones once)
app.command("init", rich_help_panel=SETUP)(init_cmd.init)
app.command("config", rich_help_panel=SETUP)(init_cmd.config)
app.command("gate", rich_help_panel=RELEASE)(checklist.gate_command)
app.command("promote", rich_help_panel=RELEASE)(release.promote)
app.command("rollback", rich_help_panel=RELEASE)(release.rollback)
app.command("status", rich_help_panel=RELEASE)(release.status)
app.command("history", rich_help_panel=AUDIT)(history_cmd.history)
app.command("report", rich_help_panel=AUDIT)(demo.report)
app.command("demo", rich_help_panel=AUDIT)(demo.demo)
tidy_help(app, _TIDIED)  # docstrings -> paragraphs that wrap at any width, examples verbatim


_click_command = None


def _command() -> Any:
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
    from govctl.errors import GovctlError, exit_code_of

    args = sys.argv[1:] if argv is None else argv
    debug = "--debug" in args or os.environ.get("GOVCTL_DEBUG", "") not in ("", "0", "false")
    try:
        _command()(args=args, prog_name="govctl")
    except GovctlError as exc:
        if debug:
            import traceback

            traceback.print_exc()
        sys.stderr.write(f"error: {neutralise(exc.cli_message())}\n")
        if exc.hint:
            sys.stderr.write(f"hint: {neutralise(exc.hint)}\n")
        sys.exit(exit_code_of(exc))
    except KeyboardInterrupt as exc:
        sys.stderr.write("interrupted\n")
        sys.exit(exit_code_of(exc))
    except OSError as exc:  # the file system said no: a path, a permission, a full disk
        if debug:
            raise
        where = exc.filename2 or exc.filename
        sys.stderr.write(neutralise(f"error: {f'{where}: ' if where else ''}"
                                    f"{exc.strerror or exc}") + "\n")
        sys.exit(exit_code_of(exc))
    except Exception as exc:
        if debug:
            raise
        sys.stderr.write(
            f"error: unexpected {type(exc).__name__}: {neutralise(str(exc))}\n"
            "hint: this is a bug in govctl; rerun with --debug for the traceback and report it\n"
        )
        sys.exit(exit_code_of(exc))
