"""Prompt versions and prompt aliases in the MLflow prompt registry (reads: ``mlflowread``)."""

from __future__ import annotations

from govctl.adapters.mlflowread import prompt_aliases as aliases
from govctl.adapters.mlflowread import prompt_version
from govctl.adapters.mlflowread import prompt_version_numbers as version_numbers
from govctl.adapters.mlflowstore import errors, registry_client
from govctl.config import GovernedRepo
from govctl.errors import NotFound

__all__ = ["aliases", "delete_alias", "set_alias", "version_numbers"]


def set_alias(repo: GovernedRepo, name: str, alias: str, version: str) -> None:
    what = f"setting alias {alias} of prompt {name}"
    if prompt_version(repo, name, version) is None:  # MlflowClient checks the same first
        raise NotFound(f"{what}: Prompt '{name}' version {version} does not exist.")
    c = registry_client(repo)
    with errors(what, repo):
        c.set_prompt_alias(name, alias, str(int(version)))


def delete_alias(repo: GovernedRepo, name: str, alias: str) -> None:
    if alias not in aliases(repo, name):
        return
    c = registry_client(repo)
    with errors(f"deleting alias {alias} of prompt {name}", repo):
        c.delete_prompt_alias(name, alias)
