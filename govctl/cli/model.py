"""govctl model: model versions in MLflow, linked to their evidence."""

from __future__ import annotations

import typer

from govctl.cli._common import (
    JSON_OPT,
    console,
    emit_json,
    hash_progress,
    key_option,
    ok,
    repo,
    report_findings,
    styled,
    table,
    version_option,
)

app = typer.Typer(help="Register model versions in MLflow with their datasets; detect drift.",
                  no_args_is_help=True)

MODEL_HELP = "Registered model name in MLflow (the service's name), e.g. support-bot."


@app.command("register")
def register(
    name: str = typer.Argument(..., metavar="NAME", help=MODEL_HELP),
    run: str = typer.Option(None, "--run", help="MLflow run id that logged the model: its "
                            "one logged model (log_model(name=...)), else the artifact 'model'."),
    model_id: str = typer.Option(None, "--model-id", help="An MLflow 3 logged model, m-…."),
    model_name: str = typer.Option(None, "--model-name", help="Which of the run's logged "
                                   "models (the name given to log_model) when it has several."),
    path: str = typer.Option(None, "--path", help="Artifact path of a model logged as run "
                             "artifacts (MLflow 2 layout)."),
    dataset: list[str] = typer.Option([], "--dataset", help="Inventory dataset it was trained "
                                      "or evaluated on; repeatable (the run's "
                                      "mlflow.log_input datasets are added too)."),
    prompt: list[str] = typer.Option([], "--prompt", help="NAME@VERSION of a prompt it was "
                                     "evaluated with; repeatable. Default: the latest pinned "
                                     "version of every prompt in registry/prompts/."),
    key: str = key_option(),
    as_json: bool = JSON_OPT,
) -> None:
    """Create an MLflow model version and record its datasets, prompt versions, git commit
    and registrar. Releases move the prompts' aliases with the model's.

    The source: the run's one MLflow 3 logged model (log_model(name=...)), the one called
    --model-name, the logged model --model-id m-..., or a run artifact --path.

    Example:
    govctl model register support-bot --run 3f1c9a0e \\
      --dataset support-train --dataset support-eval \\
      --key mel
    """
    from govctl import registry
    from govctl.cli._common import load_key

    result = registry.register_model(repo(), load_key(key), name, run, artifact_path=path,
                                     model_id=model_id, model_name=model_name,
                                     dataset_names=dataset, prompt_specs=prompt,
                                     progress=hash_progress("hashing"))
    if as_json:
        emit_json(result)
        return
    ok(f"registered {name} version {result['version']} from {result['source']}"
       + (f" (run {result['run_id']})" if result["run_id"] else ""))
    console().print(f"  manifest {result['manifest_sha256']}  ({result['files']} file(s), "
                    f"{result['bytes']} bytes)", markup=False)
    for d in result["datasets"]:
        console().print(f"  {d['role']:<9} {d['name']}  {(d['md5'] or 'not inventoried')[:12]}")
    for p, v in sorted(result["prompts"].items()):
        console().print(f"  prompt    {p}@{v}" + ("" if prompt else "  (latest pinned)"),
                        markup=False)


@app.command("list")
def list_(as_json: bool = JSON_OPT) -> None:
    """Registered models with their versions and aliases.

    Example:
    govctl model list
    """
    from govctl import registry

    rows = registry.list_models(repo())
    if as_json:
        emit_json(rows)
        return
    table("models", ["name", "versions", "aliases"],
          [[m.name, ", ".join(m.versions),
            ", ".join(f"{a}→{v}" for a, v in sorted(m.aliases.items()))] for m in rows])


@app.command("show")
def show(
    name: str = typer.Argument(..., metavar="NAME", help=MODEL_HELP),
    version: str = version_option(required=False),
    as_json: bool = JSON_OPT,
) -> None:
    """One model version: aliases, run metrics, datasets (lineage), git commit, registrar.

    Example:
    govctl model show support-bot --version 3
    """
    from govctl import registry

    info = registry.describe_model(repo(), name, version)
    if as_json:
        emit_json(info)
        return
    console().print(styled((name, "bold"), f" version {info.version}  aliases: "
                           f"{', '.join(info.aliases) or '-'}"))
    console().print(f"run {info.run_id}  commit {info.git_commit or '-'}  registered by "
                    f"{info.registered_by or '(not through govctl)'}")
    table("metrics", ["metric", "value"], [[k, v] for k, v in sorted(info.metrics.items())])
    table("datasets", ["role", "name", "md5"],
          [[d["role"], d["name"], d["md5"] or "not inventoried"] for d in info.datasets])


@app.command("alias")
def alias(
    name: str = typer.Argument(..., metavar="NAME", help=MODEL_HELP),
    alias_name: str = typer.Argument(..., metavar="ALIAS", help="Alias to move, e.g. "
                                     "shadow."),
    version: str = typer.Argument(None, metavar="VERSION", help="Version to point at; omit with --delete.",
                                  show_default=False),
    delete: bool = typer.Option(False, "--delete", help="Remove the alias."),
    key: str = key_option(),
    as_json: bool = JSON_OPT,
) -> None:
    """Move an alias (e.g. shadow) and record the move in the ledger.

    Releases to an environment use 'govctl promote'; this is for other aliases: the
    release aliases (ENV and ENV-canary for every environment of policies/release.yaml) are
    refused with exit 2. Needs a role the trust policy's 'model.alias' allows.

    Examples:
    govctl model alias support-bot shadow 4 --key mel
    govctl model alias support-bot shadow --delete --key mel
    """
    from govctl import registry
    from govctl.cli._common import load_key
    from govctl.errors import InputError

    if (version is None) != delete:
        raise InputError("give a VERSION, or --delete to remove the alias")
    registry.set_aliases(repo(), load_key(key), name, {alias_name: None if delete else version})
    if as_json:
        emit_json({"name": name, "alias": alias_name, "version": None if delete else version})
        return
    ok(f"{name}@{alias_name} → {'(removed)' if delete else version}")


@app.command("verify")
def verify(
    name: str = typer.Argument(None, metavar="NAME", help=MODEL_HELP + " Omit for every model.",
                               show_default=False),
    artifacts: bool = typer.Option(False, "--artifacts", help="Also re-hash every artifact "
                                   "file of the version(s) against the registered manifest."),
    version: str = version_option(required=False, omitted="every version with a manifest "
                                  "(goes with --artifacts)"),
    as_json: bool = JSON_OPT,
) -> None:
    """Drift: versions govctl registered still exist and aliases are where the ledger last
    put them; with --artifacts, their files still match their manifests. Exit 4 naming each
    drift or changed file.

    Examples:
    govctl model verify
    govctl model verify support-bot --artifacts --version 3
    """
    from govctl import registry
    from govctl.errors import EXIT_INTEGRITY

    drifts = registry.verify_models(repo(), name, artifacts=artifacts, version=version,
                                    progress_for=lambda v: hash_progress(f"{name} v{v}"))
    report_findings(drifts, as_json=as_json, key="drift",
                    exit_code=EXIT_INTEGRITY if any(d.tampering for d in drifts) else 0,
                    clean="MLflow matches the ledger")

