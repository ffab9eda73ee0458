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
    """Show ledger entries, newest last: time, action, subject, actor and note.

    Examples:
    govctl audit log --subject service:support-bot
    govctl audit log --action release.promote -n 0 --json
    """
    if limit:
        from govctl.ledger import recent

        rows = recent.tail(repo(), limit, action=action, subject_prefix=subject)
    else:
        from govctl.ledger.log import Ledger

        rows = list(Ledger.for_repo(repo()).entries(action=action, subject_prefix=subject))
    if as_json:
        emit_json(rows)
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
        False, "--fast", help="Skip per-entry signatures, and only hash the entries this "
        "clone verified before (.govctl/ledger.verified.json); the rest are checked in full.",
    ),
    from_file: str = typer.Option(
        None, "--from", metavar="CHECKPOINT_FILE",
        help="An older ledger.checkpoint you hold: prove the ledger only grew from it.",
    ),
    as_json: bool = JSON_OPT,
) -> None:
    """Verify the ledger offline: order, hashes, every checkpoint, every signature, and that
    each entry's actor held the authority the trust policy then in force gave.

    Exit 0 when intact (a note if this checkout's ledger.checkpoint is older than the
    ledger but consistent with it: commit it); 1 when this checkout lacks a trust policy
    version the ledger records (git pull) or has one the ledger never recorded (push); 4 on any edited, deleted, reordered, truncated or unauthorized entry, naming
    the first bad one, and in a clone whose ledger is not reachable.

    Examples:
    govctl audit verify
    govctl audit verify --fast --json
    govctl audit verify --from old.checkpoint
    """
    from pathlib import Path

    from govctl.errors import InputError
    from govctl.trust.replay import audit

    old = None
    if from_file:
        path = Path(from_file)
        if not path.is_file():
            raise InputError(f"{from_file}: no such checkpoint file")
        old = path.read_bytes()
    report = audit(repo(), fast=fast, from_checkpoint=old)
    if as_json:
        emit_json(report)
    elif report.problems:
        fail(f"ledger broken at entry {report.first_bad}:")
        for p in report.problems[:20]:
            console().print(f"  - {p}", markup=False, highlight=False)
        if len(report.problems) > 20:
            console().print(f"  ... and {len(report.problems) - 20} more")
    elif report.behind:
        fail("this checkout and the ledger are out of step (not tampering):")
        for p in report.behind[:20]:
            console().print(f"  - {p}", markup=False, highlight=False)
        console().print(f"  hint: {report.hint}", markup=False, highlight=False)
    else:
        ok(
            f"ledger intact: {report.entries} entries, root {report.root[:16]}..., "
            f"{report.signatures_checked} signatures and {report.checkpoints_checked} "
            f"checkpoints checked ({report.mode})"
            + (f"; consistent with {from_file}" if from_file else "")
        )
        for note in report.notes:
            console().print(f"  note: {note}", markup=False, highlight=False)
    if report.exit_code:
        raise typer.Exit(report.exit_code)


@app.command("prove")
def prove(
    seq: int = typer.Argument(..., min=1, metavar="SEQ", help="Ledger entry number."),
    as_json: bool = JSON_OPT,
) -> None:
    """An RFC 9162 inclusion proof of entry SEQ against the newest signed checkpoint.

    Example:
    govctl audit prove 12 --json
    """
    from govctl.ledger.log import Ledger

    proof = Ledger.for_repo(repo()).prove(seq)
    if as_json:
        emit_json(proof)
        return
    ok(f"entry {seq} is leaf {proof['leaf_index']} of the tree of {proof['tree_size']} "
       f"entries with root {proof['root']}")
    console().print(f"leaf hash {proof['leaf_hash']}", markup=False, highlight=False)
    for i, h in enumerate(proof["proof"]):
        console().print(f"  {i}: {h}", markup=False, highlight=False)


@app.command("merge-checkpoint", hidden=True)
def merge_checkpoint(
    base: str = typer.Argument(..., help="%O"),
    ours: str = typer.Argument(..., help="%A (the result is written here)"),
    theirs: str = typer.Argument(..., help="%B"),
) -> None:
    """Git merge driver for ledger.checkpoint: keep the larger of two consistent heads."""
    from govctl.trust.merge import merge_checkpoints

    merge_checkpoints(repo(), base, ours, theirs)
