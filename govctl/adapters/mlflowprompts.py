"""Prompt versions and prompt aliases in the MLflow prompt registry (reads: ``mlflowread``)."""

from __future__ import annotations

from govctl.adapters.mlflowread import prompt_aliases as aliases
from govctl.adapters.mlflowread import prompt_version_numbers as version_numbers
from govctl.adapters.mlflowstore import client, errors
from govctl.config import GovernedRepo

__all__ = ["aliases", "delete_alias", "set_alias", "version_numbers"]


def set_alias(repo: GovernedRepo, name: str, alias: str, version: str) -> None:
    c = client(repo)
    with errors(f"setting alias {alias} of prompt {name}", repo):
        c.set_prompt_alias(name, alias, int(version))


def delete_alias(repo: GovernedRepo, name: str, alias: str) -> None:
    if alias not in aliases(repo, name):
        return
    c = client(repo)
    with errors(f"deleting alias {alias} of prompt {name}", repo):
        c.delete_prompt_alias(name, alias)
