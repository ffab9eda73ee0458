"""pre-commit hooks: policy enforced on every commit, in any repo that uses govctl.

Small entry points that read only the files pre-commit passes them and never import
typer, rich, mlflow, dvc, git or sqlalchemy, so they start fast and can run in parallel on
batches. Output: one line per finding, ``path:line: rule-id message``; exit 1 on findings
(``--json`` for tools, ``--format sarif`` for code scanning). A file that cannot be parsed is a finding, never a traceback.

    govctl-hook validate FILE...        documents match their schemas
    govctl-hook signatures [--mode warn|fail] FILE...   signed documents changed
    govctl-hook prompt-lint FILE...     the registry's prompt lint
    govctl-hook data-guard [--max-kb N] [--data-kb N] [--pattern GLOB ...] FILE...
    govctl-hook secrets FILE...         private keys, API keys, .env files
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable
from pathlib import Path

from govctl import findings


class Finding(findings.Finding):
    """One finding of a hook: ``path:line: rule message`` (a :class:`govctl.findings.Finding`
    located in a file)."""

    __slots__ = ()

    def __init__(self, path: str, line: int | None, rule: str, message: str) -> None:
        super().__init__(rule, message, path=path, line=line)

    def __str__(self) -> str:
        return f"{self.path}:{self.line or 1}: {self.rule} {self.message}"

    def to_json(self) -> dict[str, object]:
        return {"path": self.path, "line": self.line, "rule": self.rule, "message": self.message}


def repo_root(start: Path | None = None) -> Path:
    """The governed repo (``govctl.toml``), else the current directory (pre-commit runs
    hooks from the repository root)."""
    here = (start or Path.cwd()).resolve()
    for c in (here, *here.parents):
        if (c / "govctl.toml").is_file():
            return c
    return Path.cwd().resolve()


def _guard(path: str, fn: Callable[[str], list[Finding]]) -> list[Finding]:
    try:
        return fn(path)
    except Exception as exc:  # a hook reports, it never crashes on a bad file
        msg = getattr(exc, "message", None) or str(exc) or type(exc).__name__
        first = msg.splitlines()[0] if msg else type(exc).__name__
        return [Finding(path, None, "unreadable", first)]


def run(name: str, argv: list[str] | None = None) -> int:
    from govctl.hooks import checks

    hook = checks.HOOKS[name]
    ap = argparse.ArgumentParser(prog=f"govctl-hook {name}", description=hook.__doc__)
    ap.add_argument("files", nargs="*")
    ap.add_argument("--json", action="store_true", help="findings as JSON")
    ap.add_argument("--format", choices=("text", "json", "sarif"), default=None,
                    help="text (path:line: rule message), json (same as --json) or sarif "
                    "(SARIF 2.1.0, for code-scanning tools)")
    extra = getattr(hook, "add_arguments", None)
    if extra:
        extra(ap)
    args = ap.parse_args(argv)
    found: list[Finding] = []
    for f in args.files:
        found += _guard(f, lambda p: hook(p, args))
    warn_only = getattr(args, "mode", "fail") == "warn"
    fmt = args.format or ("json" if args.json else "text")
    if args.json and fmt != "json":
        ap.error(f"--json and --format {fmt} ask for two outputs: use one")
    if fmt == "sarif":
        for x in found:
            x.severity = findings.Severity.WARNING if warn_only else findings.Severity.ERROR
        rules = {x.rule: (f"govctl-hook {name}: {x.rule}", x.severity) for x in found}
        report = findings.sarif(list(found), rules=rules, properties={"hook": name})
        sys.stdout.write(json.dumps(report, indent=2) + "\n")
    elif fmt == "json":
        sys.stdout.write(json.dumps([x.to_json() for x in found], indent=2) + "\n")
    else:
        for x in found:
            sys.stdout.write(f"{x}\n")
        if found and warn_only:
            sys.stdout.write(f"({len(found)} warning(s); --mode warn does not block)\n")
    return 1 if found and not warn_only else 0


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    # Hooks validate govctl's own documents; third-party pydantic plugins (tracing and the
    # like) have nothing to do there, and looking them up scans every installed package.
    os.environ.setdefault("PYDANTIC_DISABLE_PLUGINS", "__all__")
    from govctl.hooks import checks

    if not argv or argv[0] in ("-h", "--help") or argv[0] not in checks.HOOKS:
        if argv and argv[0] not in ("-h", "--help"):
            sys.stderr.write(f"govctl-hook: unknown hook {argv[0]!r} (hooks: "
                             f"{', '.join(checks.HOOKS)})\n")
        sys.stdout.write(__doc__ or "")
        sys.exit(0 if argv and argv[0] in ("-h", "--help") else 2)
    sys.exit(run(argv[0], argv[1:]))
