"""govctl init and govctl config."""

from __future__ import annotations

from pathlib import Path

import typer

from govctl.cli._common import JSON_OPT, console, emit_json, ok, styled, table, warn


def init(
    path: Path = typer.Argument(Path("."), metavar="PATH", help="Directory to govern (created if missing)."),
    admin: str = typer.Option(
        ..., "--admin", help="Name of the first admin's key (generated if it does not exist)."
    ),
    mlflow_tracking_uri: str = typer.Option(
        None, "--mlflow-tracking-uri", metavar="URI", show_default=False,
        help="The team's MLflow store, pinned in govctl.toml (default: SQLite in .govctl/). "
        "It must exist; a relative sqlite:/// path is relative to PATH."),
    mlflow_registry_uri: str = typer.Option(
        None, "--mlflow-registry-uri", metavar="URI", show_default=False,
        help="A separate MLflow model registry, pinned likewise (default: the tracking URI)."),
    as_json: bool = JSON_OPT,
) -> None:
    """Turn a directory into a governed repo.

    Runs git init and dvc init if needed (dvc init --subdir inside another git repository:
    a monorepo's service folder), copies the default policies/, checklists/ and registry/
    packs, creates agreements/, govctl.toml, a .gitignore entry for .govctl/, a trust
    policy whose first admin is ADMIN, and the ledger. Safe to run again: it never
    overwrites a file you changed.

    With --mlflow-tracking-uri, govctl.toml pins the team's MLflow store (MLFLOW_TRACKING_URI
    still overrides it for one shell). The store must already exist: a SQLite file with
    MLflow's tables, a database with them, a tracking server that answers. A store already
    pinned is never replaced, and a URI holding a password or token is refused (the file is
    committed); give secrets the way MLflow reads them (MLFLOW_TRACKING_PASSWORD, ~/.pgpass).
    Run it again on a governed repo to pin a store it does not have yet.

    Examples:
    govctl init my-service --admin alice
    govctl init . --admin alice --json
    govctl init . --admin alice \\
      --mlflow-tracking-uri sqlite:///mlflow.db
    govctl init services/bot --admin alice \\
      --mlflow-tracking-uri https://mlflow.internal
    """
    from govctl.bootstrap import init as do_init

    report = do_init(path, admin, mlflow_tracking_uri=mlflow_tracking_uri,
                     mlflow_registry_uri=mlflow_registry_uri)
    if as_json:
        emit_json(report)
        return
    if report.key_generated:
        ok(f"generated key {admin} ({report.admin_key_id[:16]}...)")
    for item in report.created:
        ok(f"created {item}")
    for setting, uri in report.settings.items():
        console().print(styled(f"  {setting} = {uri}"))
    for note in report.notes:
        warn(note)
    if not report.created:
        console().print(f"{report.root} is already governed; nothing to do.")
    else:
        console().print(styled("\nGoverned repo ready at ", (report.root, "bold"), "."))


def config(as_json: bool = JSON_OPT) -> None:
    """Show the settings in effect and where each came from.

    The governed root (where govctl.toml is), every [govctl] setting, and the stores govctl
    reads: the ledger, the MLflow tracking store and registry, each with the variable or
    setting it came from (environment over govctl.toml over the embedded default), relative
    sqlite:/// paths resolved against the root, and whether a SQLite store exists.
    Credentials are redacted. Opens no database.

    Examples:
    govctl config
    govctl config --json
    """
    from govctl.config import describe

    info = describe()
    if as_json:
        emit_json(info)
        return
    console().print(styled("governed root ", (info.root, "bold")))
    rows = []
    for name, store in info.stores.items():
        state = {True: "exists", False: "MISSING", None: ""}[store.exists]
        if store.created_on_first_use and store.exists is False:
            state = "created on first use"
        rows.append([name.replace("_", " "), store.uri, store.origin, state])
    table(None, ["store", "URI", "from", ""], rows)
    for setting, value in info.settings.items():
        console().print(styled(f"{setting} = {value}"))
    for var in info.environment:
        warn(f"{var} is set in this shell: it wins over govctl.toml")
