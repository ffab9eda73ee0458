"""govctl audit: read and verify the ledger."""

from __future__ import annotations

import typer

from govctl.cli._common import JSON_OPT, console, emit_json, fail, ok, repo, table

app = typer.Typer(help="The tamper-evident ledger of every governance decision.",
                  no_args_is_help=True)


@app.command("log")
def log(
    action: str = typer.Option(None, "--action", help="Only entries with this action."),
    subject: str = typer.Option(
        None, "--subject", help="Only entries whose subject starts with this, e.g. service:bot."
    ),
    limit: int = typer.Option(50, "--limit", "-n", min=0,
                               help="Show the last N entries (0: all)."),
    as_json: bool = JSON_OPT,
) -> None:
    """Show ledger entries, newest last."""
    from collections import deque

    from govctl.ledger.log import Ledger

    entries = Ledger.for_repo(repo()).entries(action=action, subject_prefix=subject)
    rows = list(deque(entries, maxlen=limit or None))
    if as_json:
        emit_json([e.to_json() for e in rows])
        return
    table(
        None,
        ["#", "time", "action", "phase", "subject", "actor", "note"],
        [
            [e.seq, e.time, e.action, "" if e.phase == "done" else e.phase,
             e.subject_key + (f" v{e.subject['version']}" if "version" in e.subject else ""),
             e.actor.get("name"), e.note or ""]
            for e in rows
        ],
    )


@app.command("verify")
def verify(
    fast: bool = typer.Option(
        False, "--fast", help="Hash-and-checkpoint only: recompute the Merkle tree and check "
        "the signed checkpoint, skip per-entry signatures.",
    ),
    as_json: bool = JSON_OPT,
) -> None:
    """Verify the ledger offline: order, hashes, checkpoints and every signature.

    Exit 0 when intact; 4 on any edited, deleted, reordered or truncated entry, naming
    the first bad one.
    """
    from govctl.errors import EXIT_INTEGRITY
    from govctl.ledger.log import Ledger
    from govctl.trust.policy import trusted_keys

    r = repo()
    report = Ledger.for_repo(r).verify(signatures=not fast, trusted=trusted_keys(r))
    if as_json:
        emit_json(report.to_json())
    elif report.ok:
        ok(
            f"ledger intact: {report.entries} entries, root {report.root[:16]}..., "
            f"{report.signatures_checked} signatures checked ({report.mode})"
        )
    else:
        fail(f"ledger broken at entry {report.first_bad}:")
        for p in report.problems[:20]:
            console().print(f"  - {p}")
        if len(report.problems) > 20:
            console().print(f"  ... and {len(report.problems) - 20} more")
    if not report.ok:
        raise typer.Exit(EXIT_INTEGRITY)
