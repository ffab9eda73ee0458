"""govctl data: the dataset inventory and lineage through DVC."""

from __future__ import annotations

from pathlib import Path

import typer

from govctl.cli._common import (
    JSON_OPT,
    DatasetKind,
    LineageFormat,
    Pii,
    Sensitivity,
    console,
    emit_json,
    err_console,
    key_option,
    ok,
    repo,
    report_findings,
    styled,
    table,
)

app = typer.Typer(help="Dataset inventory, verification and lineage (DVC underneath).",
                  no_args_is_help=True)

DATASET_HELP = "Dataset name in the inventory, e.g. support-train."


@app.command("add")
def add(
    path: Path = typer.Argument(..., metavar="PATH", help="File or directory inside the repo."),
    name: str = typer.Option(..., "--name", help="Inventory name, e.g. support-train."),
    kind: DatasetKind = typer.Option(..., "--kind", help="What the data is for."),
    sensitivity: Sensitivity = typer.Option(
        ..., "--sensitivity", help="Classification; the release policy says where each may go."
    ),
    pii: Pii = typer.Option(..., "--pii", help="Personal data in it."),
    owner: str = typer.Option(..., "--owner", help="Accountable person or team."),
    regulation: list[str] = typer.Option([], "--regulation", help="e.g. GDPR; repeatable."),
    retention: int = typer.Option(None, "--retention", help="Retention in days."),
    source: str = typer.Option(None, "--source", help="Where the data comes from."),
    license: str = typer.Option(None, "--license", help="License of the data."),
    key: str = key_option(),
    as_json: bool = JSON_OPT,
) -> None:
    """Track PATH with DVC and record it, classified, in the inventory.

    A path produced by a DVC pipeline stage is recorded from dvc.lock instead of being
    added again. Re-adding the same name and path records a new version of the bytes.

    Example:
    govctl data add data/train.csv --name support-train \\
      --kind train --sensitivity internal --pii none \\
      --owner ml-team --key mel
    """
    from govctl.cli._common import load_key
    from govctl.data import datasets

    r = repo()
    k = load_key(key)
    progress = None
    bar = None
    if not as_json and err_console().is_terminal:
        from rich.progress import BarColumn, DownloadColumn, Progress, TransferSpeedColumn

        bar = Progress("hashing", BarColumn(), DownloadColumn(), TransferSpeedColumn(),
                       console=err_console(), transient=True, refresh_per_second=5)
        task = bar.add_task("hash", total=None)
        bar.start()

        def progress(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

    try:
        added = datasets.add(
            r, k, path, name=name, kind=kind, sensitivity=sensitivity, pii=pii, owner=owner,
            regulations=regulation, retention_days=retention, source=source, license=license,
            progress=progress,
        )
    finally:
        if bar is not None:
            bar.stop()
    entry = added.entry
    if as_json:
        emit_json({**entry.to_doc(), "new_version": added.new_version})
        return
    ok(f"{entry.name}: {entry.path} md5 {entry.hash} ({entry.sensitivity}, pii {entry.pii})"
       + ("" if added.new_version else " — bytes unchanged"))
    console().print(f"commit {r.rel(added.file)}"
                    + (f" and {entry.path}.dvc" if entry.tracked_by == "dvc-file" else ""))


@app.command("update")
def update(
    name: str = typer.Argument(..., metavar="NAME", help=DATASET_HELP),
    key: str = key_option(),
    as_json: bool = JSON_OPT,
) -> None:
    """Record the bytes DVC now has for NAME (after 'dvc repro' or a new 'dvc add'),
    keeping its classification; signed into the ledger.

    Example:
    govctl data update features --key mel
    """
    from govctl.cli._common import load_key
    from govctl.data import upkeep

    added = upkeep.update(repo(), load_key(key), name)
    entry = added.entry
    if as_json:
        emit_json({**entry.to_doc(), "new_version": added.new_version})
        return
    ok(f"{entry.name}: {entry.path} md5 {entry.hash}"
       + (" — new version recorded" if added.new_version else " — bytes unchanged"))


@app.command("remove")
def remove(
    name: str = typer.Argument(..., metavar="NAME", help=DATASET_HELP),
    reason: str = typer.Option(None, "--reason", help="Why, recorded in the ledger."),
    key: str = key_option(),
    as_json: bool = JSON_OPT,
) -> None:
    """Take NAME out of the inventory (DVC keeps its bytes), signed into the ledger.
    Refused while a registered model version was trained or evaluated on it.

    Example:
    govctl data remove old-scrape \\
      --reason "replaced by support-train" --key mel
    """
    from govctl.cli._common import load_key
    from govctl.data import upkeep

    entry = upkeep.remove(repo(), load_key(key), name, reason)
    if as_json:
        emit_json({"removed": name, "ledger_seq": entry.seq})
        return
    ok(f"removed {name} from the inventory (ledger entry {entry.seq}); commit the change")


@app.command("list")
def list_(as_json: bool = JSON_OPT) -> None:
    """The inventory: every dataset with its hash and classification.

    Example:
    govctl data list --json
    """
    from govctl.data import datasets

    entries = datasets.inventory(repo())
    if as_json:
        emit_json([e.to_doc() for e in entries])
        return
    if not entries:
        console().print("the inventory is empty; add data with 'govctl data add'")
        return
    table("datasets", ["name", "kind", "path", "md5", "size", "files", "sensitivity", "pii",
                       "owner"],
          [[e.name, e.kind, e.path, e.hash[:12], e.dvc.size, e.dvc.nfiles or 1, e.sensitivity,
            e.pii, e.owner] for e in entries])


@app.command("show")
def show(name: str = typer.Argument(..., metavar="NAME", help=DATASET_HELP), as_json: bool = JSON_OPT) -> None:
    """One dataset: hash, size, file count, classification and the model versions that
    used it.

    Example:
    govctl data show support-train
    """
    from govctl.data import datasets

    d = datasets.describe(repo(), name)
    if as_json:
        emit_json(d)
        return
    e, used = d.entry, d.used_by
    doc = e.to_doc()
    for k in ("name", "path", "kind", "sensitivity", "pii", "owner", "regulations",
              "retention_days", "source", "license", "tracked_by", "added", "added_by"):
        if k in doc:
            console().print(styled((k, "bold"), f": {doc[k]}"))
    console().print(styled(("md5", "bold"),
                           f": {e.hash}  size {e.dvc.size}  files {e.dvc.nfiles or 1}"))
    if used:
        console().print(styled(("used by", "bold"), ": " + ", ".join(
            f"{u['model']} v{u['version']} ({u['role']})" for u in used)))
    else:
        console().print(styled(("used by", "bold"), ": no registered model version yet"))


@app.command("verify")
def verify(name: str = typer.Argument(None, metavar="NAME", help=DATASET_HELP + " Omit for every dataset.",
                                      show_default=False),
           rehash: bool = typer.Option(
               False, "--rehash", help="Hash every byte again instead of trusting DVC's "
               "cached file hashes (keyed by size, inode and modification time)."),
           as_json: bool = JSON_OPT) -> None:
    """Workspace bytes match the recorded DVC hash; .dvc files and dvc.lock agree with the
    inventory; every DVC-tracked output is inventoried. Exit 1 naming each problem.

    Examples:
    govctl data verify
    govctl data verify support-train --rehash
    """
    from govctl.data import datasets
    from govctl.errors import EXIT_CHECK_FAILED

    findings = datasets.verify(repo(), name, rehash=rehash)
    report_findings(findings, as_json=as_json, key="problems", exit_code=EXIT_CHECK_FAILED,
                    clean="every dataset matches its recorded hash")


@app.command("lineage")
def lineage_(
    target: str = typer.Argument(..., metavar="TARGET", help="Dataset name or path."),
    fmt: LineageFormat = typer.Option("tree", "--format",
                                      help="A text tree, Graphviz dot or a Mermaid graph."),
    as_json: bool = JSON_OPT,
) -> None:
    """Upstream and downstream of a dataset through the DVC pipeline (stages, deps, outs,
    hashes) and on to the model versions trained on it.

    Examples:
    govctl data lineage support-train
    govctl data lineage data/raw.csv --format mermaid
    """
    from govctl import registry
    from govctl.data import lineage
    from govctl.errors import InputError

    cut = registry.lineage_around(repo(), target)
    nid, sub = cut.target, cut.graph
    if as_json:
        emit_json(cut)
    elif fmt == "tree":
        console().print(lineage.render_tree(sub, nid), highlight=False, markup=False)
    elif fmt == "dot":
        typer.echo(lineage.render_dot(sub))
    elif fmt == "mermaid":
        typer.echo(lineage.render_mermaid(sub))
    else:
        raise InputError(f"unknown --format {fmt!r}: use tree, dot or mermaid")


@app.command("history")
def history(name: str = typer.Argument(..., metavar="NAME", help=DATASET_HELP),
            as_json: bool = JSON_OPT) -> None:
    """The dataset's versions over the git history: hash, commit, date, author.

    Example:
    govctl data history support-train
    """
    from govctl.data import datasets

    rows = datasets.history(repo(), name)
    if as_json:
        emit_json(rows)
        return
    if not rows:
        console().print(f"{name} has no committed versions yet")
        return
    table(f"history of {name}", ["commit", "date", "author", "md5", "message"],
          [[x.commit[:10], x.date, x.author, (x.md5 or "")[:12], x.message] for x in rows])


@app.command("push")
def push(name: list[str] = typer.Argument(None, metavar="NAME", help="Dataset names in the inventory. Omit "
                                           "for every dataset.", show_default=False),
         as_json: bool = JSON_OPT) -> None:
    """Push datasets' bytes to the DVC default remote (what the gate's data-pushed item
    checks). In a fresh clone, bytes already in the remote count as pushed; bytes neither in
    this clone's DVC cache nor in the remote are exit 1.

    Examples:
    govctl data push
    govctl data push support-train support-eval
    """
    from govctl.data import remote
    from govctl.errors import CheckFailed

    report = remote.push(repo(), name or None)
    if as_json:
        emit_json(report)
    elif not report.not_pushed:
        ok(report.summary())
    if report.not_pushed:
        raise CheckFailed(report.summary() + ": " + "; ".join(f.message for f in report.not_pushed),
                          hint="the bytes are neither in this clone's DVC cache nor in the "
                          "remote: push from the clone that added them")
