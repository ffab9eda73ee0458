"""govctl model: model versions in MLflow, linked to their evidence."""

from __future__ import annotations

import typer

from govctl.cli._common import (
    JSON_OPT,
    console,
    emit_json,
    key_option,
    ok,
    repo,
    report_findings,
    styled,
    table,
)

app = typer.Typer(help="Register model versions in MLflow with their datasets; detect drift.",
                  no_args_is_help=True)


@app.command("register")
def register(
    name: str = typer.Argument(..., help="Registered model name (= the service name)."),
    run: str = typer.Option(..., "--run", help="MLflow run id that logged the model."),
    path: str = typer.Option("model", "--path", help="Artifact path of the model in the run."),
    dataset: list[str] = typer.Option([], "--dataset", help="Inventory dataset it was trained "
                                      "or evaluated on; repeatable (the run's "
                                      "mlflow.log_input datasets are added too)."),
    key: str = key_option(),
    as_json: bool = JSON_OPT,
) -> None:
    """Create an MLflow model version and record its datasets, git commit and registrar.

    Example: govctl model register support-bot --run 3f1c... --dataset support-train
    --dataset support-eval --key mel
    """
    from govctl import registry
    from govctl.cli._common import load_key

    result = registry.register_model(repo(), load_key(key), name, run, artifact_path=path,
                                     dataset_names=dataset)
    if as_json:
        emit_json(result)
        return
    ok(f"registered {name} version {result['version']} from run {run}")
    for d in result["datasets"]:
        console().print(f"  {d['role']:<9} {d['name']}  {(d['md5'] or 'not inventoried')[:12]}")


@app.command("list")
def list_(as_json: bool = JSON_OPT) -> None:
    """Registered models with their versions and aliases."""
    from govctl import registry

    rows = registry.list_models(repo())
    if as_json:
        emit_json(rows)
        return
    table("models", ["name", "versions", "aliases"],
          [[m["name"], ", ".join(m["versions"]),
            ", ".join(f"{a}→{v}" for a, v in sorted(m["aliases"].items()))] for m in rows])


@app.command("show")
def show(
    name: str = typer.Argument(...),
    version: str = typer.Option(None, "--version", "-v", help="Default: the latest."),
    as_json: bool = JSON_OPT,
) -> None:
    """One model version: aliases, run metrics, datasets (lineage), git commit, registrar."""
    from govctl import registry
    from govctl.adapters import mlflowstore as ml
    from govctl.errors import NotFound

    r = repo()
    if version is None:
        versions = ml.model_versions(r, name)
        if not versions:
            raise NotFound(f"model {name!r} has no versions")
        version = versions[-1]["version"]
    info = registry.model_version_info(r, name, version)
    if as_json:
        emit_json(info)
        return
    console().print(styled((name, "bold"), f" version {info['version']}  aliases: "
                           f"{', '.join(info['aliases']) or '-'}"))
    console().print(f"run {info['run_id']}  commit {info['git_commit'] or '-'}  registered by "
                    f"{info['registered_by'] or '(not through govctl)'}")
    table("metrics", ["metric", "value"], [[k, v] for k, v in sorted(info["metrics"].items())])
    table("datasets", ["role", "name", "md5"],
          [[d["role"], d["name"], d["md5"] or "not inventoried"] for d in info["datasets"]])


@app.command("alias")
def alias(
    name: str = typer.Argument(...),
    alias_name: str = typer.Argument(..., metavar="ALIAS"),
    version: str = typer.Argument(None, help="Version to point at; omit with --delete."),
    delete: bool = typer.Option(False, "--delete", help="Remove the alias."),
    key: str = key_option(),
) -> None:
    """Move an alias (e.g. staging) and record the move in the ledger.

    Releases to an environment use 'govctl promote'; this is for other aliases: the
    release aliases (ENV and ENV-canary for every environment of policies/release.yaml) are
    refused with exit 2. Needs a role the trust policy's 'model.alias' allows.
    """
    from govctl import registry
    from govctl.cli._common import load_key
    from govctl.errors import InputError

    if (version is None) != delete:
        raise InputError("give a VERSION, or --delete to remove the alias")
    registry.set_aliases(repo(), load_key(key), name, {alias_name: None if delete else version})
    ok(f"{name}@{alias_name} → {'(removed)' if delete else version}")


@app.command("verify")
def verify(name: str = typer.Argument(None), as_json: bool = JSON_OPT) -> None:
    """Drift: versions govctl registered still exist and aliases are where the ledger last
    put them. Exit 4 naming each drift."""
    from govctl import registry
    from govctl.errors import EXIT_INTEGRITY

    drifts = registry.verify_drift(repo(), name)
    report_findings(drifts, as_json=as_json, key="drift",
                    exit_code=EXIT_INTEGRITY if any(d.tampering for d in drifts) else 0,
                    clean="MLflow matches the ledger")
