"""Prompt versions and prompt aliases in the MLflow prompt registry."""

from __future__ import annotations

from govctl.adapters.mlflowstore import client, errors
from govctl.config import GovernedRepo
from govctl.errors import NotFound


def version_numbers(repo: GovernedRepo, name: str) -> list[str]:
    """Every version MLflow holds of prompt ``name`` (registered by anyone), oldest first."""
    c = client(repo)
    try:
        with errors(f"prompt {name}", repo):
            found = list(c.search_prompt_versions(name))
    except NotFound:
        return []
    return sorted((str(v.version) for v in found), key=int)


def aliases(repo: GovernedRepo, name: str) -> dict[str, str]:
    """alias -> version of prompt ``name`` as MLflow has them now."""
    c = client(repo)
    out: dict[str, str] = {}
    for v in version_numbers(repo, name):
        with errors(f"prompt {name} version {v}", repo):
            pv = c.get_prompt_version(name, v)
        for alias in (pv.aliases if pv is not None else None) or []:
            out[str(alias)] = v
    return out


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
