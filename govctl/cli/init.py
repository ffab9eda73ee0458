"""govctl init."""

from __future__ import annotations

from pathlib import Path

import typer

from govctl.cli._common import JSON_OPT, console, emit_json, ok, styled, warn


def init(
    path: Path = typer.Argument(Path("."), metavar="PATH", help="Directory to govern (created if missing)."),
    admin: str = typer.Option(
        ..., "--admin", help="Name of the first admin's key (generated if it does not exist)."
    ),
    as_json: bool = JSON_OPT,
) -> None:
    """Turn a directory into a governed repo.

    Runs git init and dvc init if needed, copies the default policies/, checklists/ and
    registry/ packs, creates agreements/, govctl.toml, a .gitignore entry for .govctl/,
    a trust policy whose first admin is ADMIN, and the ledger. Safe to run again: it never
    overwrites a file you changed.

    Examples:
    govctl init my-service --admin alice
    govctl init . --admin alice --json
    """
    from govctl.bootstrap import init as do_init

    report = do_init(path, admin)
    if as_json:
        emit_json(report.to_json())
        return
    if report.key_generated:
        ok(f"generated key {admin} ({report.admin_key_id[:16]}...)")
    for item in report.created:
        ok(f"created {item}")
    for note in report.notes:
        warn(note)
    if not report.created:
        console().print(f"{report.root} is already governed; nothing to do.")
    else:
        console().print(styled("\nGoverned repo ready at ", (report.root, "bold"), "."))
