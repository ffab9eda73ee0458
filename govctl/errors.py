"""One exception hierarchy, and the whole exit-code table: :func:`exit_code_of` is the one
place an exception becomes an exit code (the CLI's top-level handler calls it).

Exit codes (documented in the README, relied on by scripts):

====  ==========================================================
0     ok
1     the check ran and said no (gate blocked, verification failed, canary failed)
2     usage or input error (bad arguments, invalid file)
3     an external system failed (MLflow, DVC, git, database unreachable)
4     integrity violation (tampering, drift, broken ledger)
5     canary analysis inconclusive (too little data; nothing changed)
70    an unexpected exception: a bug in govctl
130   interrupted (Ctrl-C)
====  ==========================================================
"""

from __future__ import annotations

EXIT_OK = 0
EXIT_CHECK_FAILED = 1
EXIT_INPUT = 2
EXIT_EXTERNAL = 3
EXIT_INTEGRITY = 4
EXIT_INCONCLUSIVE = 5  # canary analysis: too little data to decide; nothing changed
EXIT_BUG = 70  # an unexpected exception: a bug, reported as such
EXIT_INTERRUPTED = 130

#: Each exit code in the words ``govctl --help`` uses.
EXIT_CODES: dict[int, str] = {
    EXIT_OK: "ok",
    EXIT_CHECK_FAILED: "check said no",
    EXIT_INPUT: "bad input",
    EXIT_EXTERNAL: "external system failed",
    EXIT_INTEGRITY: "integrity violation",
    EXIT_INCONCLUSIVE: "canary inconclusive (wait for more traffic)",
    EXIT_BUG: "a bug in govctl",
}


class GovctlError(Exception):
    """Base of every error govctl raises on purpose. ``str(err)`` is the user message."""

    exit_code = EXIT_INPUT

    def __init__(self, message: str, *, hint: str | None = None,
                 field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
        #: the parameter at fault, by its library name (``valid_until``); a message about it
        #: starts with that name, which the CLI shows as the option (``--valid-until``)
        self.field = field

    def cli_message(self) -> str:
        """The message as the CLI shows it: a field named first becomes its option."""
        f = self.field
        if f and self.message.startswith(f):
            return "--" + f.replace("_", "-") + self.message[len(f):]
        return self.message


class CheckFailed(GovctlError):
    """A check ran and said no: the gate is blocked, a signature threshold is not met."""

    exit_code = EXIT_CHECK_FAILED


class InputError(GovctlError):
    """Bad arguments or an invalid file. Nothing was changed."""

    exit_code = EXIT_INPUT


class NotFound(InputError):
    """A named thing (key, service, dataset, repo) does not exist."""


class ExternalError(GovctlError):
    """MLflow, DVC, git or the ledger database failed or could not be reached."""

    exit_code = EXIT_EXTERNAL


class IntegrityError(GovctlError):
    """Tampering, drift or a broken ledger: something changed behind govctl's back."""

    exit_code = EXIT_INTEGRITY


class Busy(GovctlError):
    """Another operation on the same subject is in progress."""

    exit_code = EXIT_CHECK_FAILED


def exit_code_of(exc: BaseException) -> int:
    """The exit code for an exception that ended a command: a :class:`GovctlError`'s own;
    a file-system error is an external failure; Ctrl-C 130; anything else is a bug."""
    if isinstance(exc, GovctlError):
        return exc.exit_code
    if isinstance(exc, KeyboardInterrupt):
        return EXIT_INTERRUPTED
    if isinstance(exc, OSError):
        return EXIT_EXTERNAL
    return EXIT_BUG
